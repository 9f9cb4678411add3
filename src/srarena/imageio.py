"""Reading and writing images: float32 in [0, 1], as RGB (H, W, 3) or with their own channels.

:func:`load_image` gives every image as RGB (H, W, 3), as a viewer shows it over black:
what the metrics score. :func:`load_channels` gives it with its own channels, grey (H, W, 1),
grey and alpha (H, W, 2), RGB (H, W, 3) or RGBA (H, W, 4), alpha straight (not
premultiplied): what an upscaler's input is read as, so that an output keeps the input's
alpha and greyness (``engine/single.py``). :func:`to_rgb` turns the second into the first.

How they read what they meet (see ``docs/datasets.md``):

- **Bit depth.** 8-bit samples are divided by 255, 16-bit samples by 65535, at full
  precision: Pillow reduces 16-bit RGB(A) and grey+alpha PNGs to 8 bits, so those are
  decoded a second time for their low bytes; TIFFs are read by ``tifffile`` (any bit depth,
  float, planar layouts) and fall back to Pillow only when tifffile lacks the codec.
  32-bit integer greyscale is accepted when its values fit 16 bits.
- **Float images** (TIFF, Pillow ``F``) are display values in [0, 1]: small excursions are
  clipped to [0, 1]; values beyond [-0.5, 1.5] or NaN/infinity refuse the file, because
  srarena does not guess another scale (0-255, radiance).
- **Greyscale** (and bilevel) is one channel, replicated to three by :func:`load_image`;
  **palette** images take their palette colours; **CMYK** uses Pillow's conversion (no
  colour management: ICC profiles and gamma chunks are not applied anywhere).
- **Alpha** (RGBA, LA, palette or colour-key transparency, TIFF extra samples) is kept by
  :func:`load_channels` (straight; TIFF associated alpha is divided out) and composited
  over black by :func:`load_image`: ``rgb * alpha``. Fully opaque images are unchanged.
- **Orientation.** The EXIF/TIFF orientation tag (1-8) is applied, so the array is the
  image as a viewer shows it.
- **Multi-frame files** (animated GIF/PNG/WebP, multi-page TIFF) give their first frame.
- **Refused, with the reason in the :class:`ImageError`:** empty files, files no decoder
  recognises (e.g. text named ``.png``), truncated or corrupt data (Pillow's
  ``ImageFile.LOAD_TRUNCATED_IMAGES`` is held False while srarena decodes, even if another
  module set it: nothing is padded silently), and images
  of more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS`` (decompression-bomb guard;
  set ``PIL.Image.MAX_IMAGE_PIXELS`` to change the limit, ``None`` removes it).
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .atomic import atomic_write

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
ORIENTATION_TAG = 0x0112
FLOAT_TOLERANCE = 0.5
# Pillow rawmodes that it reduces to 8 bits, and how to recover the low bytes: either a
# second decode with the little-endian rawmode (same row size, so same PNG unfiltering),
# or one decode that keeps every byte as its own 8-bit channel.
_PNG16_LOW = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}
_PNG16_BYTES = {"LA;16B": "RGBA"}


class ImageError(ValueError):
    """An image could not be read; the message says why."""


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB float32 in [0, 1], shape (H, W, 3), as a viewer shows it.

    Raises :class:`ImageError` with the reason when the file is missing, empty, not an
    image, truncated or corrupt, too large (decompression bomb) or of an unusable kind.
    """
    samples, orientation, premultiplied = _decode(Path(path))
    return np.ascontiguousarray(_orient(to_rgb(samples, premultiplied), orientation))


def load_channels(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file with its own channels: float32 in [0, 1], shape (H, W, C) with
    C = 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA), alpha straight, oriented as a viewer
    shows it. :func:`to_rgb` of it is :func:`load_image`'s array (within float32 rounding:
    :func:`load_image` composites at full precision). Raises :class:`ImageError` as
    :func:`load_image` does."""
    samples, orientation, premultiplied = _decode(Path(path))
    if premultiplied:
        alpha = samples[..., -1:]
        colour = np.divide(samples[..., :-1], alpha, out=np.zeros_like(samples[..., :-1]),
                           where=alpha > 0)
        samples = np.concatenate([np.clip(colour, 0.0, 1.0), alpha], axis=-1)
    return np.ascontiguousarray(_orient(samples, orientation), dtype=np.float32)


def to_rgb(image: np.ndarray, premultiplied: bool = False) -> np.ndarray:
    """An image of 1-4 channels (:func:`load_channels`; float in [0, 1] or 8-bit) as RGB
    float32 (H, W, 3), as :func:`load_image` gives it: alpha composited over black (``rgb *
    alpha``, in float64; ``premultiplied`` colour is the composite already), grey replicated.
    An RGB float32 array comes back as it is."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or not 1 <= image.shape[-1] <= 4 or 0 in image.shape:
        raise ImageError(f"unusable image of shape {image.shape}")
    if image.shape[-1] == 3 and image.dtype == np.float32:
        return image
    samples = (image / 255.0 if image.dtype == np.uint8
               else image.astype(np.float64, copy=False))
    if samples.shape[-1] in (2, 4):
        colour = samples[..., :-1]
        samples = colour if premultiplied else colour * samples[..., -1:]
    if samples.shape[-1] == 1:
        samples = np.repeat(samples, 3, axis=-1)
    return np.ascontiguousarray(samples, dtype=np.float32)


def _decode(path: Path) -> tuple[np.ndarray, int, bool]:
    """(samples (H, W, 1..4) float64 in [0, 1], orientation, whether the colour is
    premultiplied by the alpha (TIFF associated alpha)) of an image file."""
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ImageError(f"{name}: file not found") from exc
    except OSError as exc:
        raise ImageError(f"{name}: cannot open ({exc.strerror or exc})") from exc
    if not path.is_file():
        raise ImageError(f"{name}: not a regular file")
    if size == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ImageError(f"{name}: cannot open ({exc.strerror or exc})") from exc
    tiff_problem = ""
    if magic in TIFF_MAGIC:
        try:
            decoded = _read_tiff(path)
        except (ImageError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure becomes a reason
            decoded, tiff_problem = None, f"tifffile: {type(exc).__name__}: {exc}"
        if decoded is not None:
            return _checked(decoded[0], name), decoded[1], decoded[2]
    try:
        samples, orientation = _read_pillow(path)
    except (ImageError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes a reason
        reason = _pillow_reason(exc)
        if tiff_problem:
            reason += f" ({tiff_problem})"
        raise ImageError(f"{name}: {reason}") from exc
    return _checked(samples, name), orientation, False


def _pillow_reason(exc: Exception) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not an image, or a format Pillow cannot decode"
    if isinstance(exc, Image.DecompressionBombError):
        return f"refused as a possible decompression bomb: {exc}"
    text = str(exc)
    if "truncated" in text or isinstance(exc, EOFError):
        return f"truncated file ({text or type(exc).__name__})"
    return f"corrupt or unsupported image data ({type(exc).__name__}: {text})"


def _check_pixels(width: int, height: int, name: str) -> None:
    """Refuse images above Pillow's MAX_IMAGE_PIXELS (the decompression-bomb limit)."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ImageError(
            f"{name}: refused as a possible decompression bomb: {width}x{height} = "
            f"{width * height} pixels exceeds PIL.Image.MAX_IMAGE_PIXELS = {limit}"
        )


@contextmanager
def _strict_truncation() -> Iterator[None]:
    """Refuse truncated files even if another module set ``LOAD_TRUNCATED_IMAGES``."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _read_pillow(path: Path) -> tuple[np.ndarray, int]:
    """Decode the first frame with Pillow: (samples (H, W, C) float64 in [0, 1], orientation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(path)
    with img, _strict_truncation():
        _check_pixels(*img.size, path.name)
        rawmode = _png_rawmode(img)
        if rawmode in _PNG16_LOW or rawmode in _PNG16_BYTES:
            samples = _png16(path, img, rawmode)
        else:
            img.load()
            samples = _pillow_samples(img, path.name)
        orientation = _orientation(img.getexif().get(ORIENTATION_TAG))
    return samples, orientation


def _png_rawmode(img: Image.Image) -> str | None:
    if img.format != "PNG" or len(img.tile) != 1:
        return None
    args = img.tile[0][3]
    return args if isinstance(args, str) else None


def _with_rawmode(img: Image.Image, rawmode: str) -> None:
    tile = img.tile[0]
    img.tile = [tile._replace(args=rawmode) if hasattr(tile, "_replace") else (*tile[:3], rawmode)]


def _png16(path: Path, img: Image.Image, rawmode: str) -> np.ndarray:
    """Full-precision samples of a 16-bit RGB, RGBA or grey+alpha PNG."""
    transparency = img.info.get("transparency")
    if rawmode in _PNG16_BYTES:  # LA;16B: one decode, each byte its own channel
        _with_rawmode(img, _PNG16_BYTES[rawmode])
        img.load()
        b = np.asarray(img, dtype=np.uint16)
        values = np.stack([b[..., 0] * 256 + b[..., 1], b[..., 2] * 256 + b[..., 3]], axis=-1)
    else:
        img.load()
        high = np.asarray(img, dtype=np.uint16)
        with Image.open(path) as second:
            _with_rawmode(second, _PNG16_LOW[rawmode])
            second.load()
            low = np.asarray(second, dtype=np.uint16)
        values = high * 256 + low
        if rawmode == "RGB;16B" and isinstance(transparency, tuple):
            opaque = np.any(values != np.asarray(transparency, dtype=np.uint16), axis=-1)
            values = np.concatenate([values, (opaque * 65535)[..., None]], axis=-1)
    return values.astype(np.float64) / 65535.0


def _pillow_samples(img: Image.Image, name: str) -> np.ndarray:
    """Samples of a loaded Pillow image: (H, W, 1..4) float64 in [0, 1]."""
    mode = img.mode
    if mode.startswith("I;16"):
        values = np.asarray(img).astype(np.float64)
        return _with_key(values, img.info.get("transparency"), 65535.0)
    if mode == "I":
        values = np.asarray(img).astype(np.float64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(
                f"{name}: 32-bit integer samples outside 0..65535 have no standard "
                "display range; convert the file to 8 or 16 bits"
            )
        return _with_key(values, img.info.get("transparency"), 65535.0)
    if mode == "F":
        return _float_samples(np.asarray(img, dtype=np.float64), name)[..., None]
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    grey = mode in ("1", "L", "LA", "La")
    target = ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")
    samples = np.asarray(img.convert(target), dtype=np.float64) / 255.0
    return samples[..., None] if samples.ndim == 2 else samples


def _with_key(values: np.ndarray, key: Any, peak: float) -> np.ndarray:
    """Grey samples with colour-key transparency (PNG tRNS) as an alpha channel."""
    grey = values / peak
    if isinstance(key, int):
        return np.stack([grey, (values != key).astype(np.float64)], axis=-1)
    return grey[..., None]


def _float_samples(values: np.ndarray, name: str) -> np.ndarray:
    """Float samples taken as [0, 1]: clipped, unless far outside or not finite."""
    if not np.isfinite(values).all():
        raise ImageError(f"{name}: float image contains NaN or infinite values")
    if values.size:
        low, high = float(values.min()), float(values.max())
        if low < -FLOAT_TOLERANCE or high > 1 + FLOAT_TOLERANCE:
            raise ImageError(
                f"{name}: float samples span [{low:.4g}, {high:.4g}]; srarena reads float "
                "images as values in [0, 1] and does not guess another scale: rescale the file"
            )
    return np.clip(values, 0.0, 1.0)


def _read_tiff(path: Path) -> tuple[np.ndarray, int, bool] | None:
    """Decode the first page with tifffile: (samples, orientation, premultiplied), or None
    when Pillow should try instead."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        shape = dict(zip(page.axes, page.shape, strict=True))
        if set(shape) - set("YXS") or "Y" not in shape or "X" not in shape:
            return None
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2):  # min-is-white, min-is-black, RGB
            return None
        _check_pixels(shape["X"], shape["Y"], path.name)
        data = page.asarray()
        if "S" in page.axes and page.axes.index("S") == 0:
            data = np.moveaxis(data, 0, -1)
        if data.ndim == 2:
            data = data[..., None]
        extras = tuple(int(e) for e in page.extrasamples)
        tag = page.tags.get(274)
        orientation = _orientation(tag.value if tag is not None else None)
    samples = _scale_samples(data, path.name)
    if photometric == 0:
        samples = 1.0 - samples
    colour = 3 if photometric == 2 else 1
    if samples.shape[-1] < colour:
        raise ImageError(f"{path.name}: RGB TIFF with {samples.shape[-1]} samples per pixel")
    if samples.shape[-1] > colour and extras and extras[0] in (1, 2):
        # associated alpha (1) is premultiplied already: the composite over black
        return samples[..., : colour + 1], orientation, extras[0] == 1
    return samples[..., :colour], orientation, False


def _scale_samples(data: np.ndarray, name: str) -> np.ndarray:
    """Integer, bool or float samples to float64 in [0, 1]."""
    if data.dtype == bool:
        return data.astype(np.float64)
    if np.issubdtype(data.dtype, np.floating):
        return _float_samples(data.astype(np.float64), name)
    if np.issubdtype(data.dtype, np.unsignedinteger):
        return data.astype(np.float64) / float(np.iinfo(data.dtype).max)
    raise ImageError(
        f"{name}: {data.dtype} samples have no standard display range; "
        "convert the file to unsigned 8 or 16 bits or to float in [0, 1]"
    )


def _orientation(value: Any) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) so the array reads as the image is meant to be seen."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(image, -1)
    if orientation == 7:
        return image[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(image, 1)
    return image


def _checked(samples: np.ndarray, name: str) -> np.ndarray:
    """Decoded samples, refused unless they are (H, W, 1..4) with pixels."""
    if samples.ndim != 3 or not 1 <= samples.shape[-1] <= 4 or 0 in samples.shape:
        raise ImageError(f"{name}: unusable image of shape {samples.shape}")
    return samples


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise a [0, 1] float image to 8 bits (round half to even, clipped)."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def to_uint8_float32(image: np.ndarray) -> np.ndarray:
    """:func:`to_uint8` with the product by 255 in float32, as NIQE's compiled grey
    conversions compute it (``niqe``, ``contrast``); the same on the engine's k/255 values."""
    x = np.multiply(image, np.float32(255), dtype=np.float32)
    np.clip(x, 0, 255, out=x)
    return np.rint(x, out=x).astype(np.uint8)


def from_uint8(image: np.ndarray) -> np.ndarray:
    """An 8-bit image as float32 in [0, 1]."""
    return np.asarray(image, dtype=np.float32) / 255.0


LUMA = (0.299, 0.587, 0.114)
"""ITU-R BT.601 weights of R, G and B in the luma of :func:`luma`."""


def luma(image: np.ndarray) -> np.ndarray:
    """The BT.601 luma of an RGB float image, (H, W, 1) float32, computed as OpenCV's
    vectorised float ``cvtColor`` computes it (``fma(R, 0.299, fma(B, 0.114, G * 0.587))`` in
    float32, the fused steps done exactly in float64): how Real-ESRGAN's inference turns an
    RGB output back into one channel."""
    red, green, blue = (np.asarray(image[..., i], dtype=np.float32) for i in range(3))
    wr, wg, wb = (np.float32(w) for w in LUMA)
    inner = (blue.astype(np.float64) * wb + (green * wg).astype(np.float64)).astype(np.float32)
    out = (red.astype(np.float64) * wr + inner.astype(np.float64)).astype(np.float32)
    return out[..., None]


PNG_LEVEL = 1
"""zlib level of the PNGs srarena writes (0: stored, no compression). Every level is lossless.
They are written with zlib's run-length strategy: on SR outputs (smooth, after PNG's row
filters) it gives files as small as the default strategy at Pillow's default level 6, about
five times faster (docs/performance.md)."""


PNG_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
"""The PNG colour type written for an image of 1-4 channels (grey, grey+alpha, RGB, RGBA)."""


def save_png(path: str | os.PathLike[str], image: np.ndarray, level: int = PNG_LEVEL) -> str:
    """Write an image of 1-4 channels (or a 2-D grey one) as 8-bit PNG (zlib ``level`` 0-9)
    atomically (a reader never sees a half-written file); returns the sha256 of the file."""
    if not 0 <= level <= 9:
        raise ValueError(f"PNG compression level {level} is not in 0-9")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = image if image.dtype == np.uint8 else to_uint8(image)
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    mode = "L" if data.ndim == 2 else PNG_MODES[data.shape[-1]]
    buffer = io.BytesIO()
    Image.fromarray(data, mode=mode).save(buffer, format="PNG", compress_level=level,
                                          compress_type=zlib.Z_RLE)
    encoded = buffer.getbuffer()
    atomic_write(path, lambda tmp: tmp.write_bytes(encoded))
    return hashlib.sha256(encoded).hexdigest()


FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def resize(image: np.ndarray, width: int, height: int, method: str = "bicubic") -> np.ndarray:
    """Resize an (H, W, C) float image per channel in float32 mode ('F') with Pillow
    (``method``: one of :data:`FILTERS`)."""
    resample = FILTERS[method]
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), mode="F")
            .resize((width, height), resample=resample)
        )
        for c in range(image.shape[2])
    ]
    return np.stack(channels, axis=-1)
