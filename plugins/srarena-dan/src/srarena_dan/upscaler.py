"""The srarena upscaler running DAN at one native scale, as the official ``inference.py`` does.

Pre-processing: the official script reads 8-bit RGB and divides by 255 (float32); srarena
hands the same values. No padding, normalisation or self-ensemble. The SR of the last loop
is the result. Post-processing (option ``quantize``, on by default): clamp to [0, 1], times
255, round half to even, 8 bits — what the official script writes to PNG and what the study
chained from x2 to x4.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from srarena import Context, InputRefused, Upscaler, UpscaleResult, UpscalerSpec
from srarena.kit import WeightsMissing, from_uint8, to_uint8_float32

from .checkpoint import load_network
from .config import ARCH_OPTIONS, Variant, variant


def configured_variant(spec: UpscalerSpec, scale: int, options: dict[str, Any]) -> Variant:
    """The official configuration of ``spec`` at ``scale``.

    ``nf``/``nb``/``ng``/``loop`` options replace the official network settings (only for
    checkpoints trained with other settings, as the official options files allow).
    """
    version, setting = spec.options["version"], int(spec.options["setting"])
    for key in ("version", "setting"):
        if key in options and str(options[key]) != str(spec.options[key]):
            raise ValueError(
                f"{spec.name} is DAN{version} setting {setting}; option {key}={options[key]} "
                "belongs to another upscaler (dan-v1, dan-v2, dan-v1-setting2, dan-v2-setting2)"
            )
    chosen = variant(version, setting, scale)
    changes = {key: int(options[key]) for key in ARCH_OPTIONS if key in options}
    return dataclasses.replace(chosen, **changes)


class DANUpscaler(Upscaler):
    """DANv1 or DANv2 at one scale; side outputs: the estimated kernel and its PCA code."""

    def __init__(self, spec: UpscalerSpec, scale: int, context: Context) -> None:
        super().__init__(spec, scale, context)
        if context.precision != "fp32":
            raise ValueError(f"{spec.name} runs in fp32 only, not {context.precision}")
        self.variant = configured_variant(spec, scale, context.options)
        self.quantize = bool(context.options.get("quantize", True))
        self.device = torch.device(context.device)
        # the PCA file only fills buffers a checkpoint lacks (load_network says which)
        paths = self.weight_paths((scale,), optional=(self.variant.pca_file,))
        if self.variant.checkpoint not in paths:  # a spec without a weight set
            raise WeightsMissing(f"{spec.name} needs {self.variant.checkpoint}")
        net, from_pca = load_network(self.variant, paths[self.variant.checkpoint],
                                     paths.get(self.variant.pca_file))
        self.net = net.to(self.device)
        self.info = {
            "model": self.variant.label,
            "checkpoint": self.variant.checkpoint,
            "loops": self.variant.loop,
            "buffers_from_pca_file": from_pca,
            "kernel": "PCA reconstruction of the estimated code (code @ P^T)"
            if self.variant.version == "v1"
            else "Estimator output (softmax over k*k)",
        }

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputRefused(f"DAN takes RGB images (H, W, 3), got shape {image.shape}")
        chw = np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1))
        lr = torch.from_numpy(chw)[None].to(self.device)
        with torch.inference_mode():
            out = self.net.unroll(lr, progress=self.context.progress)
        sr = out.sr[0].float().cpu().numpy().transpose(1, 2, 0)
        if self.quantize:
            sr = from_uint8(to_uint8_float32(sr))
        return UpscaleResult(
            image=np.ascontiguousarray(sr, dtype=np.float32),
            side_outputs={
                "kernel": out.kernel[0].float().cpu().numpy(),
                "kernel_code": out.code[0].float().cpu().numpy(),
            },
            info=dict(self.info),
        )

    def close(self) -> None:
        self.net.to("cpu")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
