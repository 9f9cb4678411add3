"""Reading and writing images: every image becomes RGB float32 in [0, 1], shape (H, W, 3)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


class ImageError(ValueError):
    """An image could not be read; the message says why."""


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as RGB float32 in [0, 1]."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ImageError(f"cannot read {Path(path).name}: {exc}") from exc
    return np.asarray(rgb, dtype=np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise a [0, 1] float image to 8 bits (round half to even, clipped)."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def from_uint8(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float32) / 255.0


def save_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an image as 8-bit PNG atomically (a reader never sees a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = image if image.dtype == np.uint8 else to_uint8(image)
    mode = "L" if data.ndim == 2 else "RGB"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as handle:
            Image.fromarray(data, mode=mode).save(handle, format="PNG")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
