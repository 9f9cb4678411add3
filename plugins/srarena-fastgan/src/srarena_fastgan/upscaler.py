"""srarena's FastGAN: fit on a dataset, then generate images from seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srarena import Context, GenerativeUpscaler, InputRefused, UpscaleResult, UpscalerSpec

from . import checkpoint as ckpt
from .arch import SIZES
from .plugin import (
    CHECKPOINT_FILE,
    OPTIONS,
    PRETRAINED_OPTIONS,
)
from .training import FitConfig, ImageStream, Trainer, prepare_images

FIT_OPTIONS = ("iterations", "batch_size", "ngf", "ndf", "nz", "policy", "save_interval")


def _options(spec: UpscalerSpec, context: Context, known: dict[str, object]) -> dict[str, Any]:
    options = {**known, **spec.options, **context.options}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"{spec.name}: unknown options {unknown}; known: {sorted(known)}")
    for key, default in known.items():
        options[key] = type(default)(options[key])
    for key, allowed in spec.option_choices.items():  # bench refuses them first; the API here
        if options[key] not in allowed:
            raise ValueError(f"{spec.name}: {key} must be one of {allowed}")
    if options["eval_batch"] < 1:
        raise ValueError(f"{spec.name}: eval_batch must be >= 1")
    return options


def to_image(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) float32 in [0, 1], as official ``x.add(1).mul(0.5)``."""
    return x.add(1).mul(0.5).clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


class FastGANUpscaler(GenerativeUpscaler):
    """Few-shot FastGAN: ``fit`` trains (resumably) into a checkpoint folder; ``generate``
    draws one image per seed from the EMA generator.

    Seeds: a CPU ``torch.Generator`` seeded with ``seed`` draws z and then every noise map,
    so an image depends on its seed only (not on the device or on other images). With
    ``generation="official"`` the generator runs in training mode as the official
    ``eval.py`` left it (batch-statistics BN): seed ``s`` is image ``s % eval_batch`` of the
    batch seeded with ``s // eval_batch``.
    """

    known_options: dict[str, object] = OPTIONS

    def __init__(self, spec: UpscalerSpec, context: Context) -> None:
        super().__init__(spec, context)
        if context.precision != "fp32":
            raise ValueError(f"{spec.name} runs in fp32 only, not {context.precision}")
        self.options = _options(spec, context, self.known_options)
        self.device = torch.device(context.device)
        self.generator: torch.nn.Module | None = None
        self.loaded: dict[str, Any] = {}
        self._state: dict[str, torch.Tensor] = {}
        self._batch: tuple[int, torch.Tensor] | None = None

    # --------------------------------------------------------------------- fit
    def fit_config(self, size: int) -> FitConfig:
        return FitConfig(im_size=size, seed=self.context.seed,
                         **{k: self.options[k] for k in FIT_OPTIONS})

    def _vgg_path(self) -> Path:
        return self.weight_paths()[ckpt.VGG_FILENAME]

    def fit(self, images: Sequence[np.ndarray], size: int, checkpoint: Path) -> None:
        if size not in SIZES:
            raise InputRefused(f"FastGAN trains at {SIZES} pixels, not {size} (the LR side "
                               "times the scale must be one of these)")
        config = self.fit_config(size)
        folder = Path(checkpoint)
        folder.mkdir(parents=True, exist_ok=True)
        last = ckpt.latest(folder)
        if last is not None and (ckpt.iteration_of(last) or 0) >= config.iterations:
            return
        from . import perceptual

        percept = perceptual.build(self._vgg_path()).to(self.device)
        stream = ImageStream(prepare_images(images, size), config.batch_size,
                             config.seed + 1, self.device)
        trainer = Trainer(config, self.device, percept, stream)
        if last is not None:
            trainer.load(last)
        trainer.run(folder, self.context.progress)

    # ---------------------------------------------------------------- generate
    def load(self, checkpoint: Path) -> None:
        path = ckpt.find(Path(checkpoint))
        generator, info = ckpt.load_generator(path)
        self.generator = generator.to(self.device).eval()
        self.loaded = {"checkpoint": path.name, **info}
        self._state = {k: v.clone() for k, v in self.generator.state_dict().items()}
        self._batch = None

    def generate(self, seed: int, size: int) -> UpscaleResult:
        if self.generator is None:
            raise RuntimeError("fastgan: fit() or load() a checkpoint before generate()")
        if size != self.generator.im_size:
            raise InputRefused(f"this FastGAN was fitted at {self.generator.im_size}², "
                               f"not {size}²")
        info = {"seed": seed, "generation": self.options["generation"],
                "iteration": self.loaded.get("iteration"), "ema": self.loaded.get("ema")}
        if self.options["generation"] == "official":
            batch = self.options["eval_batch"]
            image = self._official_batch(seed // batch)[seed % batch]
            info["eval_batch"] = batch
        else:
            rng = torch.Generator().manual_seed(seed)
            z = torch.randn(1, self.generator.nz, generator=rng)
            with torch.no_grad():
                image = self.generator(z.to(self.device), rng)[0][0]
        return UpscaleResult(image=to_image(image), info=info)

    def _official_batch(self, group: int) -> torch.Tensor:
        """A training-mode batch from a fresh copy of the loaded state, cached per group."""
        if self._batch is None or self._batch[0] != group:
            assert self.generator is not None
            rng = torch.Generator().manual_seed(group)
            z = torch.randn(self.options["eval_batch"], self.generator.nz, generator=rng)
            self.generator.train()
            try:
                with torch.no_grad():
                    images = self.generator(z.to(self.device), rng)[0]
            finally:  # training-mode forwards move BN statistics and spectral-norm vectors
                self.generator.load_state_dict(self._state)
                self.generator.eval()
            self._batch = (group, images)
        return self._batch[1]

    def close(self) -> None:
        self.generator = None
        self._batch = None
        self._state = {}
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


class FastGANPretrained(FastGANUpscaler):
    """FastGAN from a checkpoint of the official ``train.py`` (``all_<iter>.pth`` or
    ``<iter>.pth``): ``fit`` takes its EMA generator (or, with ``generator="live"``, the
    trained ``g``), read with torch's weights-only loader, instead of training, and writes it
    as the official ``<iter>.pth`` that ``load`` and the official eval.py read."""

    known_options = PRETRAINED_OPTIONS

    def fit(self, images: Sequence[np.ndarray], size: int, checkpoint: Path) -> None:
        source = self.weight_paths()[CHECKPOINT_FILE]
        generator, info = ckpt.load_generator(source, ema=self.options["generator"] == "ema")
        if generator.im_size != size:
            raise InputRefused(f"fastgan-pretrained: the checkpoint generates "
                               f"{generator.im_size}² images, the run asks for {size}²")
        folder = Path(checkpoint)
        folder.mkdir(parents=True, exist_ok=True)
        iteration = info["iteration"]
        ckpt.save_generator(folder / f"{iteration or 0}.pth", generator, {
            "ema": info["ema"], "iteration": iteration,
            "config": {"source": source.name, "generator": self.options["generator"]}})
