"""srarena's BlindSR upscaler: the official test procedure (:mod:`.inference`) on one image.

Pre- and post-processing as in sunreef/BlindSR: the input is taken as 8-bit RGB (the
official code reads image files; srarena's float input is quantised with the official
writer's rule, exact for 8-bit data and the same re-quantisation the study's chain of
PNG files went through); a portrait image (height > width) is transposed before and after;
the bicubic x2 image comes from Pillow on the 8-bit image; the output is clamped to [0, 1].

The official code needs both sides to be at least the patch size (default 200). An image
whose shorter side is smaller is processed with the patch size reduced to that side (the
first x2 pass of a 128x128 image therefore uses 128); ``info['patch_size']`` records it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from srarena import Context, Upscaler, UpscaleResult, UpscalerSpec
from srarena.kit import exact_cuda

from .checkpoint import load_networks
from .inference import BATCH, DEFAULT_PATCH, EPOCHS, prepare, super_resolve, to_uint8


class BlindSRUpscaler(Upscaler):
    """x2 with test-time kernel estimation; side output ``kernel`` (15x15, sums to 1)."""

    def __init__(self, spec: UpscalerSpec, scale: int, context: Context) -> None:
        super().__init__(spec, scale, context)
        if scale != 2:
            raise ValueError(f"blindsr is x2 only, not x{scale}")
        if context.precision != "fp32":
            raise ValueError(f"blindsr runs in fp32 only, not {context.precision}")
        options = {**spec.options, **context.options}
        self.patch_size = int(options.get("patch_size", DEFAULT_PATCH))
        self.epochs = int(options.get("epochs", EPOCHS))
        self.batch = int(options.get("batch", BATCH))
        if self.patch_size < 1 or self.epochs < 0 or self.batch < 1:
            raise ValueError("blindsr: patch_size and batch must be >= 1, epochs >= 0")
        self.device = torch.device(context.device)
        self.generator, self.discriminator = load_networks(self.weight_paths(), self.device)
        for module in (self.generator, self.discriminator):
            module.requires_grad_(False)

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        data = to_uint8(image)
        flipped = data.shape[0] > data.shape[1]
        if flipped:
            data = np.ascontiguousarray(data.transpose(1, 0, 2))
        lowres, bicubic = prepare(data, self.device)
        patch = min(self.patch_size, data.shape[0])
        with exact_cuda(self.device):
            result = super_resolve(
                self.generator,
                self.discriminator,
                lowres,
                bicubic,
                patch_size=patch,
                epochs=self.epochs,
                batch=self.batch,
                progress=self.context.progress,
            )
        output = result.image[0].clamp(0.0, 1.0).permute(1, 2, 0)
        kernel = result.kernel
        if flipped:
            output = output.transpose(0, 1)
            kernel = kernel.T
        info: dict[str, Any] = {
            "sigma": list(result.sigma),
            "theta": result.theta,
            "grid_sigma": list(result.grid_sigma),
            "grid_theta": result.grid_theta,
            "grid_score": result.grid_score,
            "patch_size": result.patch_size,
            "patch_size_requested": self.patch_size,
            "overlap": result.overlap,
            "patches": len(result.corners),
            "distinct_patches": len(set(result.corners)),
            "adam_steps": result.steps,
            "transposed": flipped,
            "kernel_scope": "one kernel for the whole image (official reimplementation)",
        }
        return UpscaleResult(
            np.ascontiguousarray(output.cpu().numpy(), dtype=np.float32),
            side_outputs={"kernel": np.ascontiguousarray(kernel, dtype=np.float32)},
            info=info,
        )

    def close(self) -> None:
        del self.generator, self.discriminator
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
