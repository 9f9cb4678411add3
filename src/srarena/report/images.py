"""The report's pictures, made with Pillow: thumbnails, the zoomed crop, blur-kernel heat maps.

Thumbnails of photographs are JPEG (small, and every browser, Markdown renderer and LaTeX
reads them); pixel-exact pictures (the LR input, crops, kernels) are PNG, enlarged with
nearest neighbour so every pixel stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_write
from ..imageio import to_rgb, to_uint8

#: (x0, y0, x1, y1) as fractions of an image's width and height.
Box = tuple[float, float, float, float]

# Anchors of the kernel colour map: dark blue for zero weight, through purple and orange, to
# pale yellow for the largest weight.
_ANCHORS = np.array([[12, 16, 48], [86, 22, 110], [187, 55, 84], [249, 142, 9], [252, 255, 164]],
                    dtype=float)


@dataclass(frozen=True)
class Picture:
    """A written picture: its path and its size in pixels (for width/height attributes)."""

    path: Path
    width: int
    height: int


def open_rgb(path: Path) -> Image.Image:
    """An image file as an RGB Pillow image (over black, as the metrics see it)."""
    with Image.open(path) as image:
        image.load()
        return image if image.mode == "RGB" else flatten(image)


def flatten(image: Image.Image) -> Image.Image:
    """A Pillow image as RGB; an alpha channel composited over black (:func:`to_rgb`)."""
    if "A" not in image.getbands():
        return image.convert("RGB")
    with_alpha = image.convert("LA" if image.getbands() == ("L", "A") else "RGBA")
    return from_array(to_rgb(np.asarray(with_alpha)))


def from_array(array: np.ndarray) -> Image.Image:
    """An RGB float [0, 1] (H, W, 3) array as a Pillow image."""
    return Image.fromarray(to_uint8(array), "RGB")


def _named(path: Path, suffix: str) -> Path:
    """``path`` with ``suffix`` appended (names may contain dots, so never replaced)."""
    return path.with_name(path.name + suffix)


def _save(image: Image.Image, path: Path, compress_level: int = 6) -> Picture:
    if path.suffix == ".jpg":
        atomic_write(path, lambda tmp: image.save(tmp, format="JPEG", quality=88))
    else:
        atomic_write(path, lambda tmp: image.save(tmp, format="PNG",
                                                  compress_level=compress_level))
    return Picture(path, image.width, image.height)


def fit(width: int, height: int, side: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image scaled so its longer side is ``side``."""
    factor = side / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def thumbnail(image: Image.Image, path: Path, side: int, *, nearest: bool = False) -> Picture:
    """Write ``image`` scaled to a longer side of ``side`` px: Lanczos into a JPEG, or, for an
    LR input shown as pixels, nearest neighbour into a PNG (``path`` gets the suffix)."""
    size = fit(image.width, image.height, side)
    if nearest:
        return _save(image.resize(size, Image.Resampling.NEAREST), _named(path, ".png"))
    return _save(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0),
                 _named(path, ".jpg"))


def thumbnail_file(source: Path, path: Path, side: int) -> Picture:
    """JPEG thumbnail of an image file, reused when it already exists (``path`` is named by
    the output's key, which determines its content)."""
    done = _named(path, ".jpg")
    if done.is_file():
        with Image.open(done) as image:
            return Picture(done, image.width, image.height)
    with Image.open(source) as image:
        image.draft("RGB", fit(image.width, image.height, side))
        rgb = flatten(image)
    return thumbnail(rgb, path, side)


def save_full(image: Image.Image, path: Path) -> Picture:
    """Write a full-size PNG (an LR input enlarged, or an HR ground truth), favouring speed
    over size (these are large and only opened on demand)."""
    return _save(image, _named(path, ".png"), compress_level=1)


def enlarge_nearest(image: Image.Image, scale: int) -> Image.Image:
    """The LR input at the output size, each LR pixel a ``scale`` x ``scale`` block."""
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def detail_box(reference: Image.Image, grid: tuple[int, int], cells: int) -> Box:
    """The square window of ``cells`` x ``cells`` LR pixels where ``reference`` has the most
    detail (sum of gradient magnitudes), aligned to the LR pixel grid ``grid`` = (W, H).

    ``reference`` (e.g. the HR ground truth) is box-averaged onto the LR grid first, so the
    window maps exactly onto whole LR pixels and whole blocks of every output.
    """
    width, height = grid
    cells = max(1, min(cells, width, height))
    small = np.asarray(reference.convert("L").resize((width, height), Image.Resampling.BOX),
                       dtype=np.float64)
    energy = np.zeros_like(small)
    energy[:, 1:] += np.abs(np.diff(small, axis=1))
    energy[1:, :] += np.abs(np.diff(small, axis=0))
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (integral[cells:, cells:] - integral[:-cells, cells:]
            - integral[cells:, :-cells] + integral[:-cells, :-cells])
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return (x / width, y / height, (x + cells) / width, (y + cells) / height)


def crop(image: Image.Image, box: Box, path: Path, side: int) -> Picture:
    """Cut the same fractional ``box`` out of ``image`` and enlarge it to ``side`` px with
    nearest neighbour (so LR pixels and output pixels show as they are)."""
    x0, y0, x1, y1 = box
    pixels = (round(x0 * image.width), round(y0 * image.height),
              max(round(x1 * image.width), round(x0 * image.width) + 1),
              max(round(y1 * image.height), round(y0 * image.height) + 1))
    part = image.crop(pixels)
    size = fit(part.width, part.height, side)
    return _save(part.resize(size, Image.Resampling.NEAREST), _named(path, ".png"))


def kernel_array(array: np.ndarray) -> np.ndarray | None:
    """A blur kernel as a 2-D float array (singleton axes dropped), or None if it is not one."""
    kernel = np.squeeze(np.asarray(array, dtype=np.float64))
    if kernel.ndim != 2 or kernel.size < 1 or not np.isfinite(kernel).all():
        return None
    return kernel


def kernel_picture(kernel: np.ndarray, path: Path, side: int) -> Picture:
    """A kernel as a heat map (its own min to max), enlarged with nearest neighbour."""
    low, high = float(kernel.min()), float(kernel.max())
    level = (kernel - low) / (high - low) if high > low else np.zeros_like(kernel)
    position = level * (len(_ANCHORS) - 1)
    stops = np.arange(len(_ANCHORS))
    rgb = np.stack([np.interp(position, stops, _ANCHORS[:, c]) for c in range(3)], axis=-1)
    image = Image.fromarray(np.rint(rgb).astype(np.uint8), "RGB")
    factor = max(1, side // max(image.size))
    image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    return _save(image, _named(path, ".png"))
