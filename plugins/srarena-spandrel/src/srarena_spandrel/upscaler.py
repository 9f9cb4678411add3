"""The upscaler: one spandrel model at one native scale, run by a protocol (:mod:`.protocols`).

``protocol=official`` (the default) runs the network as its authors' inference script does:
their padding, tiling and crop, the clamp to [0, 1], their 8-bit rounding (``rounding =
"float32"``) and their treatment of alpha (``alpha``: the model, or srarena's filter where the
script drops it). ``protocol=spandrel`` runs it through the descriptor's call, as direct
spandrel inference does (``descriptor(tensor)``: its padding, call function and clamp to
[0, 1]), so the output equals it bit for bit. The spec declares no size requirement: each
protocol pads as it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srarena import Upscaler, UpscaleResult
from srarena.kit import WeightsInvalid, exact_cuda, resize

from . import loading, protocols
from .convert import from_tensor, to_tensor

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
MAX_PASSES = 4


def passes_for(model_scale: int, target: int) -> int:
    """Passes of a model of scale ``model_scale`` that reach ``target`` (the engine's rule:
    the exact power, else the smallest overshoot, resized down)."""
    passes = 1
    while model_scale**passes < target and passes < MAX_PASSES:
        passes += 1
    if model_scale**passes < target:
        raise ValueError(f"a x{model_scale} model cannot reach x{target} in {MAX_PASSES} passes")
    return passes


class SpandrelUpscaler(Upscaler):
    """A spandrel SR model; ``spandrel:NAME`` at a declared scale, ``spandrel`` at any."""

    def __init__(self, spec: Any, scale: int, context: Any) -> None:
        super().__init__(spec, scale, context)
        import torch

        choice = protocols.choice(context.options, spec.name)  # a bad value fails before loading
        self.path = self._weight_file()
        descriptor = loading.load_descriptor(self.path)
        facts = loading.describe(descriptor)
        loading.require_sr(facts, self.path)
        self.model_scale = facts["scale"]
        if spec.scales is not None and self.model_scale != scale:
            raise WeightsInvalid(f"{self.path}: a x{self.model_scale} model, but {spec.name} "
                                 f"declares it for x{scale}; add the file again")
        self.passes = passes_for(self.model_scale, scale) if spec.scales is None else 1
        precision = context.precision
        if precision not in DTYPES:
            raise ValueError(f"unknown precision {precision!r}: use fp32, fp16 or bf16")
        supported = {"fp16": facts["supports_half"], "bf16": facts["supports_bfloat16"]}
        if precision != "fp32" and not supported[precision]:
            raise ValueError(f"{spec.name}: spandrel says {facts['architecture']} does not "
                             f"support {precision}; use --precision fp32")
        self.device = torch.device(context.device)
        self.dtype = getattr(torch, DTYPES[precision])
        self.channels = (facts["input_channels"], facts["output_channels"])
        self.descriptor = descriptor.to(device=self.device, dtype=self.dtype).eval()
        self.protocol: protocols.Protocol | None = None
        ran_as = "spandrel"
        if choice == "official":
            self.protocol = protocols.official(spec.name, facts["architecture"])
            ran_as = protocols.default_label(spec.name, facts["architecture"])
        if self.protocol is not None:
            self.alpha, self.rounding = self.protocol.alpha_method, "float32"
        self.info = {"architecture": facts["architecture"], "model_scale": self.model_scale,
                     "protocol": ran_as}
        if self.passes > 1 or self.model_scale != scale:
            label = "_".join([f"x{self.model_scale}"] * self.passes)
            if self.model_scale**self.passes != scale:
                label += f"_resize{scale}"
            self.info["internal_chain"] = label

    def _weight_file(self) -> Path:
        """The one file this instance runs: its scale's file, or the generic set's file."""
        scales = (self.scale,) if self.spec.scales is not None else None
        paths = self.weight_paths(scales)
        wanted = self.spec.weights.for_scales(scales).files
        names = [wf.filename for wf in wanted if scales is None or
                 (wf.scales is not None and self.scale in wf.scales)]
        if not names:
            raise WeightsInvalid(f"{self.spec.name} declares no file for x{self.scale}")
        return Path(paths[names[0]])

    def _forward(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) -> (N, H*s, W*s, 3) through the model (``passes`` times)."""
        import torch

        current = images
        with torch.inference_mode(), exact_cuda(self.device):
            for _ in range(self.passes):
                tensor = to_tensor(current, self.channels[0], self.device, self.dtype)
                out = self.descriptor(tensor) if self.protocol is None else protocols.run(
                    self.protocol, self.descriptor.model, tensor, self.model_scale)
                current = from_tensor(out, self.channels[1])
        if self.model_scale**self.passes != self.scale:
            height, width = images.shape[1:3]
            current = np.stack([np.clip(resize(one, width * self.scale, height * self.scale,
                                               "bicubic"), 0, 1) for one in current])
        return current.astype(np.float32, copy=False)

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        return UpscaleResult(self._forward(np.asarray(image)[None])[0], info=dict(self.info))

    def upscale_batch(self, images: Sequence[np.ndarray]) -> list[UpscaleResult]:
        """One stacked call for same-shaped images (spandrel's call takes a batch)."""
        if len(images) == 1:
            return [self.upscale(images[0])]
        out = self._forward(np.stack([np.asarray(image) for image in images]))
        return [UpscaleResult(one, info=dict(self.info)) for one in out]

    def close(self) -> None:
        import torch

        self.descriptor = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
