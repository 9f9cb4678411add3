"""Synthetic test images shared by the benchmark scripts."""

from __future__ import annotations

import numpy as np


def smooth_image(seed: int, size: int) -> np.ndarray:
    """A textured HWC float image in [0, 1] with structure (NIQE and MANIQA need more than
    white noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    phase = rng.uniform(0, 6, 3)
    base = np.stack([np.sin(9 * x + 4 * y + phase[0]), np.cos(7 * y - 5 * x + phase[1]),
                     np.sin(11 * (x + y) + phase[2])], -1)
    image = 0.5 + 0.3 * base + 0.08 * rng.standard_normal((size, size, 3))
    return np.clip(image, 0, 1).astype(np.float32)
