"""Reading and writing images: every image becomes RGB float32 in [0, 1], shape (H, W, 3).

How :func:`load_image` reads what it meets (see ``docs/datasets.md``):

- **Bit depth.** 8-bit samples are divided by 255, 16-bit samples by 65535, at full
  precision: Pillow reduces 16-bit RGB(A) and grey+alpha PNGs to 8 bits, so those are
  decoded a second time for their low bytes; TIFFs are read by ``tifffile`` (any bit depth,
  float, planar layouts) and fall back to Pillow only when tifffile lacks the codec.
  32-bit integer greyscale is accepted when its values fit 16 bits.
- **Float images** (TIFF, Pillow ``F``) are display values in [0, 1]: small excursions are
  clipped to [0, 1]; values beyond [-0.5, 1.5] or NaN/infinity refuse the file, because
  srarena does not guess another scale (0-255, radiance).
- **Greyscale** (and bilevel) is replicated to three channels; **palette** images take
  their palette colours; **CMYK** uses Pillow's conversion (no colour management: ICC
  profiles and gamma chunks are not applied anywhere).
- **Alpha** (RGBA, LA, palette or colour-key transparency, TIFF extra samples) is
  composited over black: ``rgb * alpha``. Fully opaque images are unchanged.
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
    path = Path(path)
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
            return _finish(*decoded, name=name)
    try:
        samples, orientation = _read_pillow(path)
    except (ImageError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes a reason
        reason = _pillow_reason(exc)
        if tiff_problem:
            reason += f" ({tiff_problem})"
        raise ImageError(f"{name}: {reason}") from exc
    return _finish(samples, orientation, name=name)


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
    converted = img.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(converted, dtype=np.float64) / 255.0


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


def _read_tiff(path: Path) -> tuple[np.ndarray, int] | None:
    """Decode the first page with tifffile; None when Pillow should try instead."""
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
        alpha = samples[..., colour]
        base = samples[..., :colour]
        # associated alpha is premultiplied already, which is the composite over black
        if extras[0] == 2:
            base = base * alpha[..., None]
        return base, orientation
    return samples[..., :colour], orientation


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


def _finish(samples: np.ndarray, orientation: int, name: str) -> np.ndarray:
    """(H, W, C) samples in [0, 1] with C in 1..4 to oriented RGB float32; alpha over black."""
    channels = samples.shape[-1]
    if channels in (2, 4):
        samples = samples[..., :-1] * samples[..., -1:]
    if samples.shape[-1] == 1:
        samples = np.repeat(samples, 3, axis=-1)
    if samples.ndim != 3 or samples.shape[-1] != 3 or 0 in samples.shape:
        raise ImageError(f"{name}: unusable image of shape {samples.shape}")
    rgb = _orient(samples, orientation)
    return np.ascontiguousarray(rgb, dtype=np.float32)


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


PNG_LEVEL = 1
"""zlib level of the PNGs srarena writes (0: stored, no compression). Every level is lossless.
They are written with zlib's run-length strategy: on SR outputs (smooth, after PNG's row
filters) it gives files as small as the default strategy at Pillow's default level 6, about
five times faster (docs/performance.md)."""


def save_png(path: str | os.PathLike[str], image: np.ndarray, level: int = PNG_LEVEL) -> str:
    """Write an image as 8-bit PNG (zlib ``level`` 0-9) atomically (a reader never sees a
    half-written file); returns the sha256 of the file written."""
    if not 0 <= level <= 9:
        raise ValueError(f"PNG compression level {level} is not in 0-9")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = image if image.dtype == np.uint8 else to_uint8(image)
    mode = "L" if data.ndim == 2 else "RGB"
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
