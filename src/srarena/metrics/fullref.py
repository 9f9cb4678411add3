"""PSNR and SSIM on the Y channel with the border cropped, as SR papers report them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import correlate1d

from ..components import InputRefused, Metric


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """Y of YCbCr (BT.601, studio range 16-235) from RGB in [0, 1], in 8-bit units."""
    rgb = np.asarray(image, dtype=np.float64) * 255.0
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def _prepare(image: np.ndarray, reference: np.ndarray, border: int) -> tuple[np.ndarray, ...]:
    if image.shape != reference.shape:
        raise InputRefused(f"SR size {image.shape[:2]} differs from HR size {reference.shape[:2]}")
    y, y_ref = rgb_to_y(image), rgb_to_y(reference)
    if border:
        if min(y.shape) <= 2 * border:
            raise InputRefused(f"image smaller than twice the cropped border ({border} px)")
        y, y_ref = y[border:-border, border:-border], y_ref[border:-border, border:-border]
    return y, y_ref


def psnr(image: np.ndarray, reference: np.ndarray, border: int = 0) -> float:
    y, y_ref = _prepare(image, reference, border)
    mse = float(np.mean((y - y_ref) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(image: np.ndarray, reference: np.ndarray, border: int = 0) -> float:
    """Mean SSIM over 'valid' windows (no padding), as the MATLAB reference code."""
    y, y_ref = _prepare(image, reference, border)
    if min(y.shape) < 11:
        raise InputRefused("SSIM needs at least 11x11 pixels after cropping")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    window = _gaussian_window()

    def blur(a: np.ndarray) -> np.ndarray:
        out = correlate1d(correlate1d(a, window, axis=0, mode="constant"), window, axis=1,
                          mode="constant")
        return out[5:-5, 5:-5]

    mu_x, mu_y = blur(y), blur(y_ref)
    sigma_x = blur(y * y) - mu_x**2
    sigma_y = blur(y_ref * y_ref) - mu_y**2
    sigma_xy = blur(y * y_ref) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2)
    )
    return float(ssim_map.mean())


class _FullReference(Metric):
    function = staticmethod(psnr)

    def score(
        self, images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None
    ) -> list[float]:
        if references is None:
            raise InputRefused(f"{self.spec.name} needs the HR ground truth")
        border = int(self.context.options.get("scale", 0))
        return [type(self).function(i, r, border) for i, r in zip(images, references, strict=True)]


class PSNR(_FullReference):
    function = staticmethod(psnr)


class SSIM(_FullReference):
    function = staticmethod(ssim)
