"""Classical interpolation upscalers on top of Pillow's resampling filters."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..components import Upscaler, UpscaleResult
from ..imageio import resize


class ClassicalUpscaler(Upscaler):
    """Interpolate by ``scale`` with the filter named in the spec's options (an input's
    alpha channel with the same filter)."""

    @property
    def alpha(self) -> str:  # type: ignore[override]
        return str(self.spec.options["filter"])

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        height, width = image.shape[:2]
        method = self.spec.options["filter"]
        out = resize(image, width * self.scale, height * self.scale, method)
        return UpscaleResult(np.clip(out, 0.0, 1.0))

    def upscale_batch(self, images: Sequence[np.ndarray]) -> list[UpscaleResult]:
        """The images on parallel threads (Pillow releases the GIL while it resamples)."""
        if len(images) < 2:
            return [self.upscale(image) for image in images]
        with ThreadPoolExecutor(min(len(images), os.cpu_count() or 1)) as pool:
            return list(pool.map(self.upscale, images))
