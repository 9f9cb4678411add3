"""Classical interpolation upscalers on top of Pillow's resampling filters."""

from __future__ import annotations

import numpy as np

from ..components import Upscaler, UpscaleResult
from ..imageio import resize


class ClassicalUpscaler(Upscaler):
    """Interpolate by ``scale`` with the filter named in the spec's options."""

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        height, width = image.shape[:2]
        method = self.spec.options["filter"]
        out = resize(image, width * self.scale, height * self.scale, method)
        return UpscaleResult(np.clip(out, 0.0, 1.0))
