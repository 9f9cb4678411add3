"""srarena's MoESR upscaler (``moesr-emad2022``): one instance per native scale (2 or 4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from srarena import Context, InputRefused, Upscaler, UpscaleResult, UpscalerSpec
from srarena.kit import exact_cuda, from_uint8, to_uint8_float32

from .checkpoint import load_scale
from .method import FineTuneConfig, MoESR, crop_problem, run
from .sampler import prepare_image


def config_from(options: dict[str, Any]) -> FineTuneConfig:
    """Fine-tuning settings from the spec's options (``iterations``, ``crop_size``, ``real``,
    ``max_lr``); anything absent keeps the official default."""
    defaults = FineTuneConfig()
    return FineTuneConfig(
        iterations=int(options.get("iterations", defaults.iterations)),
        crop_size=int(options.get("crop_size", defaults.crop_size)),
        real=bool(options.get("real", defaults.real)),
        max_lr=float(options.get("max_lr", defaults.max_lr)),
    )


def as_official_input(image: np.ndarray) -> np.ndarray:
    """RGB float64 (H, W, 3): ``u8 / 255`` when the image is 8-bit data (as the official code
    reads PNGs), else the values as given."""
    levels = np.round(image.astype(np.float64) * 255.0)
    if np.all(np.abs(levels / 255.0 - image) <= 1e-6):
        return np.clip(levels, 0, 255) / 255.0
    return image.astype(np.float64)


class MoESRUpscaler(Upscaler):
    """Expert sweep + ISE + KEN, expert selection, per-image fine-tuning, final pass."""

    def __init__(self, spec: UpscalerSpec, scale: int, context: Context) -> None:
        super().__init__(spec, scale, context)
        if context.precision != "fp32":
            raise ValueError(f"moesr-emad2022 runs in fp32 only, not {context.precision}")
        self.config = config_from({**spec.options, **context.options})
        problem = crop_problem(scale, self.config.crop_size)
        if problem:
            raise ValueError(f"moesr-emad2022: {problem}")
        self.device = torch.device(context.device)
        experts, ise, ken = load_scale(self.weight_paths((scale,)), scale)
        self.method = MoESR(scale, experts, ise, ken, self.device)

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        source = as_official_input(image)
        rows, cols = prepare_image(source, self.scale, self.config.real).shape[:2]
        crop = self.config.crop_size
        if min(rows, cols) < crop:
            raise InputRefused(
                f"MoESR fine-tunes on {crop}x{crop} crops of the LR image; this one gives "
                f"{rows}x{cols} (use a larger image or the crop_size option)"
            )
        lr = torch.from_numpy(np.ascontiguousarray(source.transpose(2, 0, 1), np.float32))
        lr = lr[None].to(self.device)
        with exact_cuda(self.device):
            outcome = run(self.method, lr, source, self.config, self.context.seed,
                          self.context.progress)
        sr = outcome.sr[0].permute(1, 2, 0).cpu().numpy()
        out = from_uint8(to_uint8_float32(sr))
        params = outcome.estimate.params
        return UpscaleResult(
            out,
            side_outputs={
                "kernel": outcome.kernel.astype(np.float32),
                "kernel_params": params.astype(np.float32),
                "ise_errors": outcome.estimate.errors.astype(np.float32),
            },
            info={
                "expert": outcome.selection.expert_id,
                "expert_transform": outcome.selection.transform,
                "kernel_params": {"lambda1": float(params[0]), "lambda2": float(params[1]),
                                  "theta": float(params[2])},
                "snapped": list(outcome.selection.snapped),
                "finetune_iterations": self.config.iterations,
                "real": self.config.real,
                "seconds": outcome.seconds,
            },
        )

    def close(self) -> None:
        self.__dict__.pop("method", None)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
