"""``contrast``: the study's sharpness measure, the standard deviation of the 8-bit grey image.

The study (explainability section, ``calculate_sharpness.ipynb``) read each PNG with
``cv2.imread(path, 0)`` and took ``img.std()``. For a colour PNG, OpenCV's grey read lets
libpng convert: ``(9797 R + 19234 G + 3737 B) >> 15`` (weights 0.299 and 0.587 in 15-bit
fixed point, blue taking the rest, truncated; exact for PNGs without gamma information, which
is what srarena writes). That is not ``cv2.cvtColor(..., COLOR_BGR2GRAY)``, which rounds and
differs by one level on about half of the pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..components import InputRefused, Metric
from ..imageio import to_uint8_float32


def grey_opencv_png(image: np.ndarray) -> np.ndarray:
    """The 8-bit grey image ``cv2.imread(path, 0)`` gives for the image saved as PNG."""
    u8 = to_uint8_float32(image)
    if u8.ndim == 3 and u8.shape[-1] == 1:
        u8 = u8[..., 0]
    if u8.ndim == 2:
        return u8
    if u8.ndim != 3 or u8.shape[-1] != 3:
        raise InputRefused(f"contrast needs a grey or RGB image, got shape {u8.shape}")
    rgb = u8.astype(np.uint32)
    return ((rgb[..., 0] * 9797 + rgb[..., 1] * 19234 + rgb[..., 2] * 3737) >> 15).astype(np.uint8)


def contrast(image: np.ndarray) -> float:
    """Population standard deviation of the grey levels (NumPy's ``std``, as the study)."""
    return float(grey_opencv_png(image).std())


class Contrast(Metric):
    """The study's contrast (sharpness) measure; no reference needed."""

    def score(
        self, images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None
    ) -> list[float]:
        return [contrast(image) for image in images]
