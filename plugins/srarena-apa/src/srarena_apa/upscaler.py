"""srarena's APA: fit on a dataset (or convert an official snapshot), generate by seed."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srarena import Context, GenerativeUpscaler, InputRefused, UpscaleResult, UpscalerSpec
from srarena.kit import from_uint8

from . import checkpoint as ckpt
from .arch.networks import Generator
from .config import (
    GENERATE_OPTIONS,
    NOISE_MODES,
    TRAIN_OPTIONS,
    TrainConfig,
    check_options,
    resolve,
)

CPU_TRAINING_LIMIT = 64  # largest resolution fit() trains at off CUDA (tests, smoke runs)


def seed_latent(seed: int, z_dim: int) -> torch.Tensor:
    """generate.py's latent for ``seed``: ``np.random.RandomState(seed).randn(1, z_dim)``."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim))


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """generate.py's 8-bit conversion: ``x * 127.5 + 128``, clamped to [0, 255], truncated."""
    img = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return img[0].cpu().numpy()


class ApaGenerator(GenerativeUpscaler):
    """APA (StyleGAN2-ADA + adaptive pseudo augmentation) as a generative upscaler.

    ``fit`` trains on the images brought to ``size``² (as ``dataset_tool.py`` would) with
    the official configuration for that resolution, writing resumable training states
    into the checkpoint folder every ``snap`` ticks and the EMA generator at the end.
    ``generate`` reproduces ``generate.py``: seed -> z, constant noise, truncation psi,
    8-bit output.
    """

    known_options: dict[str, Any] = {**TRAIN_OPTIONS, **GENERATE_OPTIONS}

    def __init__(self, spec: UpscalerSpec, context: Context) -> None:
        super().__init__(spec, context)
        self.options = check_options({**spec.options, **context.options}, self.known_options)
        if self.options["noise_mode"] not in NOISE_MODES:
            raise ValueError(f"apa: noise_mode must be one of {NOISE_MODES}")
        self.psi = float(self.options["truncation_psi"])
        if context.precision not in ("fp32", "fp16"):
            raise ValueError(f"apa: precision {context.precision} is not supported")
        self.device = torch.device(context.device)
        self.generator: Generator | None = None
        self.meta: dict[str, Any] = {}

    # ---------------------------------------------------------------- fit
    def train_config(self, size: int) -> TrainConfig:
        return resolve(size, self.options, seed=self.context.seed)

    def fit(self, images: Sequence[np.ndarray], size: int, checkpoint: Path) -> None:
        from .training import Trainer, prepare_images

        checkpoint = Path(checkpoint)
        if ckpt.is_fitted(checkpoint):
            return
        config = self.train_config(size)
        if self.device.type != "cuda" and size > CPU_TRAINING_LIMIT:
            raise InputRefused(
                f"apa: training at {size}² needs a CUDA GPU (days of GPU time at 1024²); "
                f"off CUDA fit() trains only tiny resolutions (<= {CPU_TRAINING_LIMIT}) "
                "for tests. Use apa-pretrained to generate from an official snapshot.")
        if not images:
            raise InputRefused("apa: fit needs at least one image")
        data = prepare_images(images, size, config.resize_filter)
        trainer = Trainer(config, data, self.device)
        state = ckpt.load_training_state(checkpoint)
        if state is not None:
            trainer.load_state_dict(state)
        snap = int(config.extra.get("snap", 10))

        def on_tick(t: Trainer) -> None:
            if t.done or t.cur_tick % snap == 0:
                ckpt.save_training_state(checkpoint, t.state_dict())

        def on_progress(done: int, total: int) -> None:
            self.context.progress(done, total, "training images")

        with official_backend_flags(self.device):
            trainer.run(on_progress=on_progress, on_tick=on_tick)
        ckpt.save_fitted(checkpoint, trainer.G_ema, config.G_kwargs, {
            "source": "trained", "kimg": trainer.cur_nimg / 1000, "p": trainer.p,
            "images": len(images), "train_config": config.to_json(),
        })
        (checkpoint / ckpt.STATE_FILE).unlink(missing_ok=True)

    # ----------------------------------------------------------- generate
    def load(self, checkpoint: Path) -> None:
        generator, self.meta = ckpt.load_fitted(Path(checkpoint))
        self.generator = generator.eval().requires_grad_(False).to(self.device)

    @torch.no_grad()
    def generate(self, seed: int, size: int) -> UpscaleResult:
        if self.generator is None:
            raise RuntimeError("apa: load a fitted checkpoint before generate")
        g = self.generator
        if size != g.img_resolution:
            raise InputRefused(f"apa: the generator makes {g.img_resolution}² images, "
                               f"not {size}²")
        z = seed_latent(seed, g.z_dim).to(self.device)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            # only noise_mode="random" draws from torch: seeded by the image's seed
            torch.manual_seed(seed)
            # fp32 computes every block in float32; fp16 runs the blocks the network marks
            # as float16 in float16, as generate.py does on a GPU.
            img = g(z, None, truncation_psi=self.psi, noise_mode=self.options["noise_mode"],
                    force_fp32=self.context.precision != "fp16")
        image = from_uint8(to_uint8(img))
        return UpscaleResult(image, info={"seed": seed, "truncation_psi": self.psi,
                                          "noise_mode": self.options["noise_mode"],
                                          "source": self.meta.get("source")})

    def close(self) -> None:
        self.generator = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


class ApaSnapshotGenerator(ApaGenerator):
    """APA from a user-supplied official ``network-snapshot-*.pkl``: ``fit`` converts its
    EMA generator (read safely, nothing executed) instead of training."""

    known_options = dict(GENERATE_OPTIONS)

    def fit(self, images: Sequence[np.ndarray], size: int, checkpoint: Path) -> None:
        snapshot = ckpt.load_snapshot(self.weight_paths()[ckpt.SNAPSHOT_FILE])
        kwargs, state = ckpt.snapshot_generator(snapshot)
        generator = ckpt.build_generator(kwargs, state)
        if generator.img_resolution != size:
            raise InputRefused(f"apa-pretrained: the snapshot generates "
                               f"{generator.img_resolution}² images, the run asks for {size}²")
        checkpoint = Path(checkpoint)
        if checkpoint.exists():
            shutil.rmtree(checkpoint)
        ckpt.save_fitted(checkpoint, generator, kwargs, {
            "source": "snapshot", "snapshot_sha256": snapshot.sha256, "p": snapshot.augment_p(),
            "source_sha256": snapshot.networks["G_ema"].source_sha256,
        })


@contextlib.contextmanager
def official_backend_flags(device: torch.device) -> Iterator[None]:
    """The CUDA settings the official loop trains with (TF32 off, cuDNN benchmark on),
    restored afterwards."""
    if device.type != "cuda":
        yield
        return
    b = torch.backends
    saved = (b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32)
    b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = True, False, False
    try:
        yield
    finally:
        b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32 = saved
