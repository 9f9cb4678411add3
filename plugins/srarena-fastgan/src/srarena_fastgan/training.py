"""FastGAN training as the official ``train.py`` does it, seeded and resumable.

One iteration: draw z; generate ``[big, 128]``; DiffAugment the real batch and both fakes
(three independent draws); discriminator step on real (hinge with a random soft margin
``U(0.8, 1.0)`` plus the three LPIPS reconstruction losses, one random quadrant) and on the
detached fakes; generator step ``-mean(D(fakes))`` on the same augmented fakes; EMA of the
generator parameters (decay 0.999, buffers not averaged). Adam lr 2e-4, betas (0.5, 0.999).
Iterations run from 0 to ``iterations`` inclusive; ``all_<iter>.pth`` is written at every
multiple of ``save_interval`` and at the last iteration.

Randomness: one ``torch.Generator`` on the training device for z, noise, augmentation and
margins (the official code's global-RNG draws, in the same order), a ``random.Random`` for
the quadrant (official: Python's ``random``), and a CPU generator for the data order and
flips. Their states are saved in the checkpoint, so a resumed fit continues exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from srarena.kit import atomic_write, load_state, to_uint8

from . import checkpoint as ckpt
from .arch import SIZES, Discriminator, Generator, init_weights
from .diffaug import diff_augment

LR = 0.0002
BETAS = (0.5, 0.999)
EMA_DECAY = 0.999
EMA_RATE = 0.001  # official: avg.mul_(0.999).add_(0.001 * p)
ARCH = ("im_size", "ngf", "ndf", "nz")
LOG_EVERY = 100
LOSSES = ("d_real", "lpips_all", "lpips_small", "lpips_part", "d_fake", "g")

Percept = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FitConfig:
    """What determines a fit; official defaults."""

    im_size: int = 1024
    iterations: int = 50000
    batch_size: int = 8
    ngf: int = 64
    ndf: int = 64
    nz: int = 256
    policy: str = "color,translation"
    save_interval: int = 5000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.im_size not in SIZES:
            raise ValueError(f"FastGAN trains at {SIZES}, not {self.im_size}")
        if self.iterations < 0 or self.batch_size < 1 or self.save_interval < 1:
            raise ValueError("iterations >= 0, batch_size >= 1 and save_interval >= 1")


def prepare_images(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """RGB float [0, 1] arrays -> uint8 (N, 3, size, size), resized as official.

    The official transform is torchvision ``Resize((size, size))`` on the PIL image, i.e.
    PIL bilinear resampling of the 8-bit image; the arrays are first rounded to 8 bits.
    """
    from PIL import Image

    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, image in enumerate(images):
        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        u8 = to_uint8(array[:, :, :3])
        resized = Image.fromarray(u8, "RGB").resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(resized)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class ImageStream:
    """Endless batches: shuffled epochs, random horizontal flips, values in [-1, 1]."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, device: torch.device):
        if len(images) == 0:
            raise ValueError("FastGAN needs at least one training image")
        self.images = images.to(device)
        self.batch_size = batch_size
        self.rng = torch.Generator().manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0

    def next(self) -> torch.Tensor:
        n, picked = len(self.images), []
        while sum(len(p) for p in picked) < self.batch_size:
            if self.position >= len(self.order):
                self.order = torch.randperm(n, generator=self.rng)
                self.position = 0
            take = min(self.batch_size - sum(len(p) for p in picked), n - self.position)
            picked.append(self.order[self.position:self.position + take])
            self.position += take
        index = torch.cat(picked).to(self.images.device)
        flip = (torch.rand(self.batch_size, generator=self.rng) < 0.5).to(self.images.device)
        x = self.images[index].float() / 255
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        return (x - 0.5) / 0.5

    def state(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "order": self.order.clone(),
                "position": self.position}

    def restore(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.order = state["order"].clone()
        self.position = int(state["position"])


def quadrant(x: torch.Tensor, part: int) -> torch.Tensor:
    """Quadrant ``part`` (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right)."""
    half = x.shape[2] // 2
    top = x[:, :, :half] if part < 2 else x[:, :, half:]
    return top[:, :, :, :half] if part % 2 == 0 else top[:, :, :, half:]


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value


class Trainer:
    """Networks, optimisers, EMA and RNGs of one fit."""

    def __init__(self, config: FitConfig, device: torch.device | str, percept: Percept,
                 stream: ImageStream | None = None) -> None:
        self.config = config
        self.device = torch.device(device)
        self.percept = percept
        self.stream = stream
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # official: G, init, D, init from the global RNG
            self.G = Generator(ngf=config.ngf, nz=config.nz, im_size=config.im_size)
            self.G.apply(init_weights)
            self.D = Discriminator(ndf=config.ndf, im_size=config.im_size)
            self.D.apply(init_weights)
        self.G.to(self.device)
        self.D.to(self.device)
        self.ema = [p.detach().clone() for p in self.G.parameters()]
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.rng = torch.Generator(self.device).manual_seed(config.seed)
        self.py_rng = random.Random(config.seed)
        self.next_iteration = 0

    def _rand(self, like: torch.Tensor) -> torch.Tensor:
        u = torch.rand(like.shape, generator=self.rng, device=self.rng.device, dtype=like.dtype)
        return u.to(like.device)

    def step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One official iteration on a real batch in [-1, 1]; returns detached loss terms."""
        cfg, G, D, percept = self.config, self.G, self.D, self.percept
        z = torch.randn(real.shape[0], cfg.nz, generator=self.rng, device=self.rng.device)
        fakes = G(z.to(self.device), self.rng)
        real = diff_augment(real, cfg.policy, self.rng)
        fakes = [diff_augment(f, cfg.policy, self.rng) for f in fakes]

        D.zero_grad(set_to_none=True)
        part = self.py_rng.randint(0, 3)
        pred, (rec_all, rec_small, rec_part) = D(real, "real", part)
        hinge = F.relu(self._rand(pred) * 0.2 + 0.8 - pred).mean()
        l_all = percept(rec_all, F.interpolate(real, rec_all.shape[2])).sum()
        l_small = percept(rec_small, F.interpolate(real, rec_small.shape[2])).sum()
        l_part = percept(rec_part, F.interpolate(quadrant(real, part), rec_part.shape[2])).sum()
        (hinge + l_all + l_small + l_part).backward()
        pred_fake = D([f.detach() for f in fakes], "fake")
        F.relu(self._rand(pred_fake) * 0.2 + 0.8 + pred_fake).mean().backward()
        self.opt_d.step()

        G.zero_grad(set_to_none=True)
        loss_g = -D(fakes, "fake").mean()
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():
            params = [p.detach() for p in G.parameters()]
            torch._foreach_mul_(self.ema, EMA_DECAY)
            torch._foreach_add_(self.ema, torch._foreach_mul(params, EMA_RATE))
        values = (pred.mean(), l_all, l_small, l_part, pred_fake.mean(), loss_g)
        return {name: v.detach() for name, v in zip(LOSSES, values, strict=True)}

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self, iteration: int) -> dict[str, Any]:
        """The official ``all_<iter>.pth`` layout plus srarena's resumption entry."""
        extra: dict[str, Any] = {
            "format": 1, "config": asdict(self.config), "iteration": iteration,
            "device": self.device.type, "train_rng": self.rng.get_state(),
            "python_rng": torch.tensor(self.py_rng.getstate()[1], dtype=torch.int64),
        }
        if self.stream is not None:
            extra["data"] = self.stream.state()
        return {
            "g": ckpt.add_prefix(_to_cpu(self.G.state_dict())),
            "d": ckpt.add_prefix(_to_cpu(self.D.state_dict())),
            "g_ema": [t.detach().cpu().clone() for t in self.ema],
            "opt_g": _to_cpu(self.opt_g.state_dict()),
            "opt_d": _to_cpu(self.opt_d.state_dict()),
            "srarena": extra,
        }

    def load(self, path: Path) -> None:
        """Resume from an ``all_<iter>.pth`` (srarena's or the official code's)."""
        data = load_state(path)
        extra = data.get("srarena") or {}
        saved = extra.get("config", {})
        clash = {k: (saved[k], getattr(self.config, k)) for k in ARCH
                 if k in saved and saved[k] != getattr(self.config, k)}
        if clash:
            raise ValueError(f"{path} was trained with a different architecture: {clash}")
        self.G.load_state_dict(ckpt.strip_prefix(data["g"]), strict=True)
        self.D.load_state_dict(ckpt.strip_prefix(data["d"]), strict=True)
        ema = data["g_ema"]
        if len(ema) != len(self.ema):
            raise ValueError(f"{path}: g_ema has {len(ema)} tensors, expected {len(self.ema)}")
        with torch.no_grad():
            for mine, value in zip(self.ema, ema, strict=True):
                mine.copy_(value)
        self.opt_g.load_state_dict(data["opt_g"])
        self.opt_d.load_state_dict(data["opt_d"])
        iteration = ckpt.iteration_of(path)
        if iteration is None:
            iteration = int(extra["iteration"])
        self.next_iteration = iteration + 1
        state = extra.get("train_rng")
        if state is not None and extra.get("device") == self.device.type:
            self.rng.set_state(state)
            self.py_rng.setstate((3, tuple(int(v) for v in extra["python_rng"]), None))
            if self.stream is not None and "data" in extra:
                self.stream.restore(extra["data"])
        else:  # an official file, or another device: fresh streams, still seeded
            self.rng.manual_seed(self.config.seed + self.next_iteration)
            self.py_rng.seed(self.config.seed + self.next_iteration)

    def save(self, folder: Path, iteration: int) -> Path:
        """Write ``all_<iteration>.pth`` atomically and drop the older ones."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"all_{iteration}.pth"
        atomic_write(path, lambda tmp: torch.save(self.state_dict(iteration), tmp))
        for old in folder.glob("all_*.pth"):
            if old != path and ckpt.ALL_RE.match(old.name):
                old.unlink()
        return path

    def run(self, folder: Path, progress: Callable[[int, int, str], None]) -> None:
        """Train from ``next_iteration`` to ``iterations``, checkpointing into ``folder``."""
        if self.stream is None:
            raise ValueError("no training images")
        cfg, total = self.config, self.config.iterations + 1
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "losses.csv"
        if log.exists():  # drop rows an interrupted run logged after its last checkpoint
            rows = log.read_text().splitlines(keepends=True)
            kept = [r for r in rows[1:] if int(r.split(",", 1)[0]) < self.next_iteration]
            log.write_text("".join(rows[:1] + kept))
        for iteration in range(self.next_iteration, cfg.iterations + 1):
            losses = self.step(self.stream.next())
            self.next_iteration = iteration + 1
            if iteration % LOG_EVERY == 0 or iteration == cfg.iterations:
                new = not log.exists()
                with open(log, "a") as handle:
                    if new:
                        handle.write("iteration," + ",".join(LOSSES) + "\n")
                    values = ",".join(f"{float(v):.6g}" for v in losses.values())
                    handle.write(f"{iteration},{values}\n")
            if iteration % cfg.save_interval == 0 or iteration == cfg.iterations:
                self.save(folder, iteration)
            progress(iteration + 1, total, "FastGAN training iterations")
