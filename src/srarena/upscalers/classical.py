"""Classical interpolation upscalers on top of Pillow's resampling filters."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..components import Upscaler, UpscaleResult

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def resize(image: np.ndarray, width: int, height: int, method: str = "bicubic") -> np.ndarray:
    """Resize an (H, W, C) float image per channel in float32 mode ('F') with Pillow."""
    resample = FILTERS[method]
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), mode="F")
            .resize((width, height), resample=resample)
        )
        for c in range(image.shape[2])
    ]
    return np.stack(channels, axis=-1)


class ClassicalUpscaler(Upscaler):
    """Interpolate by ``scale`` with the filter named in the spec's options."""

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        height, width = image.shape[:2]
        method = self.spec.options["filter"]
        out = resize(image, width * self.scale, height * self.scale, method)
        return UpscaleResult(np.clip(out, 0.0, 1.0))
