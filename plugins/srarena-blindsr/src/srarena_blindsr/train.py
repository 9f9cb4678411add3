"""Training BlindSR's two networks, as sunreef/BlindSR does (``main.py --mode train``).

Two phases, each writing its checkpoint in the official layout into one folder:

- ``generator``: batches of 4, L1 between ``G(LR, bicubic, true kernel)`` and the HR crop.
- ``discriminator`` (generator frozen, loaded from ``generator.pth``): batches of 1, loss
  ``0.9 L1(D(random kernel), G(random) - G(true)) + 0.1 L1(D(true kernel), 0)``.

Both: Adam, lr 1e-3; up to 10,000 epochs; a checkpoint every 1,000 steps; validation loss
after each epoch; a resumed phase continues from the saved step and optimiser state.

Training pairs as in the official datasets: random horizontal and vertical flips, a random
414x414 crop (padded when smaller), ``LR = (crop ⋆ k)[valid][::2, ::2]`` (correlation
without padding), the bicubic x2 of the LR truncated to 8 bits (Pillow), ground truth the
crop without its 7-pixel border. Validation pairs use a centre crop and a kernel seeded by
the image's index. Kernels come from :data:`KERNEL_FAMILIES`, built with srarena's
degradation module (:mod:`srarena.datasets.degrade`) at BlindSR's 15x15 support.

Deviations, all documented in the README: images are converted to RGB and listed in
sorted order (official: no conversion, directory order), randomness is seeded, and a run
also stops after ``iterations`` steps and saves at its end.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from srarena.kit import atomic_write, load_state

from .arch import KERNEL_SIZE, SCALE, Discriminator, Generator
from .checkpoint import load_network, state_dict_of
from .inference import bicubic_x2, chw_float

CROP = 414
LEARNING_RATE = 1e-3
MAX_EPOCHS = 10000
SAVE_EVERY = 1000
LOG_EVERY = 100
BATCH = {"generator": 4, "discriminator": 1}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}

KernelSampler = Callable[[np.random.Generator], np.ndarray]


def _gaussian(sigma_1: float, sigma_2: float, theta: float) -> np.ndarray:
    """A 15x15 Gaussian from srarena's degradation module, float32."""
    from srarena.kit import gaussian

    return gaussian(1, sigma_1, sigma_2, theta, size=KERNEL_SIZE).astype(np.float32)


def blindsr_kernel(rng: np.random.Generator) -> np.ndarray:
    """The official distribution: ``σx, σy ~ U(0.001, 4)``, ``θ ~ U(0, π)`` (BlindSR's angle)."""
    sigma_x, sigma_y = rng.uniform(0.001, 4.0), rng.uniform(0.001, 4.0)
    theta = rng.uniform(0.0, math.pi)
    return _gaussian(sigma_x, sigma_y, -theta)


def isotropic_kernel(rng: np.random.Generator) -> np.ndarray:
    """srarena's random isotropic x2 Gaussian (``degrade.random_isotropic``) at 15x15."""
    from srarena.kit import random_isotropic

    sigma = random_isotropic(SCALE, rng).params["sigma"]
    return _gaussian(sigma, sigma, 0.0)


def anisotropic_kernel(rng: np.random.Generator) -> np.ndarray:
    """srarena's random anisotropic x2 Gaussian (``degrade.random_anisotropic``) at 15x15."""
    from srarena.kit import random_anisotropic

    params = random_anisotropic(SCALE, rng).params
    return _gaussian(params["sigma_1"], params["sigma_2"], params["theta"])


KERNEL_FAMILIES: dict[str, KernelSampler] = {
    "blindsr": blindsr_kernel,
    "iso": isotropic_kernel,
    "aniso": anisotropic_kernel,
}


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted."""
    files = [
        Path(root) / name
        for root, _, names in os.walk(folder)
        for name in names
        if Path(name).suffix.lower() in IMAGE_SUFFIXES
    ]
    return sorted(files)


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _pad(image: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    return np.pad(image, ((top, bottom), (left, right), (0, 0)))


def random_crop(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """torchvision ``RandomCrop(crop, pad_if_needed=True)``: a short side is zero-padded by
    the missing amount on *both* ends, then a uniformly placed crop."""
    height, width = image.shape[:2]
    if width < crop:
        image = _pad(image, 0, 0, crop - width, crop - width)
    if height < crop:
        image = _pad(image, crop - height, crop - height, 0, 0)
    height, width = image.shape[:2]
    top = int(rng.integers(0, height - crop + 1))
    left = int(rng.integers(0, width - crop + 1))
    return image[top : top + crop, left : left + crop]


def center_crop(image: np.ndarray, crop: int) -> np.ndarray:
    """torchvision ``CenterCrop(crop)``: zero padding when smaller, offsets rounded half-even."""
    height, width = image.shape[:2]
    if crop > width or crop > height:
        dw, dh = max(crop - width, 0), max(crop - height, 0)
        image = _pad(image, dh // 2, (dh + 1) // 2, dw // 2, (dw + 1) // 2)
        height, width = image.shape[:2]
    top = int(round((height - crop) / 2.0))
    left = int(round((width - crop) / 2.0))
    return image[top : top + crop, left : left + crop]


def degrade(hr: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``(hr ⋆ k)[valid][::2, ::2]`` for a (3, H, W) image and a (15, 15) kernel."""
    weight = torch.zeros(3, 3, *kernel.shape, dtype=hr.dtype)
    for channel in range(3):
        weight[channel, channel] = kernel
    return F.conv2d(hr[None], weight)[0, :, ::SCALE, ::SCALE]


def bicubic_of(lowres: torch.Tensor) -> torch.Tensor:
    """Pillow bicubic x2 of the LR image truncated to 8 bits (torchvision ``ToPILImage``)."""
    return chw_float(bicubic_x2((lowres * 255).to(torch.uint8).permute(1, 2, 0).numpy()))


def make_pair(crop_u8: np.ndarray, kernel: np.ndarray, random_kernel: np.ndarray) -> dict:
    """One training example from an 8-bit HR crop, the true and a random kernel."""
    hr = chw_float(crop_u8)
    true_k = torch.from_numpy(np.asarray(kernel, dtype=np.float32))
    lowres = degrade(hr, true_k)
    border = KERNEL_SIZE // 2
    return {
        "lowres_img": lowres,
        "bicubic_upsampling": bicubic_of(lowres),
        "kernel_features": true_k.reshape(KERNEL_SIZE * KERNEL_SIZE),
        "random_kernel_features": torch.from_numpy(
            np.asarray(random_kernel, dtype=np.float32)
        ).reshape(KERNEL_SIZE * KERNEL_SIZE),
        "ground_truth_img": hr[:, border:-border, border:-border],
    }


class PairDataset(torch.utils.data.Dataset):
    """Synthetic (LR, bicubic, kernels, HR) examples from a folder of HR images."""

    def __init__(
        self,
        files: list[Path],
        sampler: KernelSampler,
        crop: int = CROP,
        train: bool = True,
        seed: int = 0,
    ) -> None:
        if not files:
            raise ValueError("no images to train on")
        self.files, self.sampler, self.crop, self.train = files, sampler, crop, train
        self.rng = np.random.default_rng(seed)
        self.seed = seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        image = read_rgb(self.files[index])
        if self.train:
            rng = self.rng
            if rng.random() < 0.5:
                image = image[:, ::-1]
            if rng.random() < 0.5:
                image = image[::-1]
            image = random_crop(image, self.crop, rng)
        else:
            rng = np.random.default_rng([self.seed, index])
            image = center_crop(image, self.crop)
        kernel = self.sampler(rng)
        return make_pair(image, kernel, self.sampler(rng))


def generator_loss(generator: Generator, batch: dict, device: torch.device) -> torch.Tensor:
    """``L1(G(LR, bicubic, true kernel), HR)``."""
    output = generator(
        batch["lowres_img"].to(device),
        batch["bicubic_upsampling"].to(device),
        batch["kernel_features"].to(device),
    )
    return F.l1_loss(output.image, batch["ground_truth_img"].to(device))


def generator_step(
    generator: Generator, optimizer: torch.optim.Optimizer, batch: dict, device: torch.device
) -> float:
    """One official generator update; returns the L1 loss."""
    optimizer.zero_grad()
    loss = generator_loss(generator, batch, device)
    loss.backward()
    optimizer.step()
    return loss.item()


def discriminator_loss(
    generator: Generator, discriminator: Discriminator, batch: dict, device: torch.device
) -> torch.Tensor:
    """``0.9 L1(D(random), G(random) - G(true)) + 0.1 L1(D(true), 0)``; G frozen."""
    lowres = batch["lowres_img"].to(device)
    bicubic = batch["bicubic_upsampling"].to(device)
    with torch.no_grad():
        true = generator(lowres, bicubic, batch["kernel_features"].to(device))
        wrong = generator(lowres, bicubic, batch["random_kernel_features"].to(device))
    true_error = discriminator(lowres, true.features, true.degradation_map)
    wrong_error = discriminator(lowres, wrong.features, wrong.degradation_map)
    true_loss = F.l1_loss(true_error, torch.zeros_like(true_error))
    wrong_loss = F.l1_loss(wrong_error, wrong.image - true.image)
    return 0.9 * wrong_loss + 0.1 * true_loss


def discriminator_step(
    generator: Generator,
    discriminator: Discriminator,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    device: torch.device,
) -> float:
    """One official discriminator update; returns the loss."""
    optimizer.zero_grad()
    loss = discriminator_loss(generator, discriminator, batch, device)
    loss.backward()
    optimizer.step()
    return loss.item()


@dataclass
class TrainConfig:
    """One training phase. ``None`` keeps the official value (iterations: 10,000 epochs)."""

    network: str
    train_folder: Path
    out: Path
    valid_folder: Path | None = None
    iterations: int | None = None
    batch_size: int | None = None
    crop: int = CROP
    learning_rate: float = LEARNING_RATE
    save_every: int = SAVE_EVERY
    log_every: int = LOG_EVERY
    kernels: str = "blindsr"
    seed: int = 0
    device: str = "cpu"
    generator: Path | None = None


def save_checkpoint(path: Path, network: str, step: int, module: Any, optimizer: Any) -> None:
    """Write ``{'step', '<network>_state_dict', 'optimizer_state_dict'}`` atomically."""
    data = {
        "step": step,
        f"{network}_state_dict": module.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
    }
    atomic_write(path, lambda tmp: torch.save(data, tmp))


def _resume(path: Path, network: str, module: Any, optimizer: Any) -> int:
    data = load_state(path)
    module.load_state_dict(state_dict_of(data, network), strict=True)
    optimizer.load_state_dict(data["optimizer_state_dict"])
    return int(data["step"])


def _validation_loss(
    loader: Any, generator: Generator, discriminator: Discriminator | None, device: torch.device
) -> float:
    with torch.no_grad():
        losses = [
            generator_loss(generator, batch, device).item()
            if discriminator is None
            else discriminator_loss(generator, discriminator, batch, device).item()
            for batch in loader
        ]
    return float(np.mean(losses))


def train(
    config: TrainConfig,
    log: Callable[[str], None] = print,
    progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Run one phase; returns the checkpoint written (``<out>/<network>.pth``)."""
    if config.network not in BATCH:
        raise ValueError(f"network must be generator or discriminator, not {config.network!r}")
    if config.kernels not in KERNEL_FAMILIES:
        raise ValueError(f"kernels must be one of {', '.join(KERNEL_FAMILIES)}")
    if config.crop <= 2 * (KERNEL_SIZE // 2) + 1:
        raise ValueError(f"crop must be larger than {2 * (KERNEL_SIZE // 2) + 1}")
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    sampler = KERNEL_FAMILIES[config.kernels]
    dataset = PairDataset(
        list_images(config.train_folder), sampler, config.crop, train=True, seed=config.seed
    )
    batch_size = config.batch_size or BATCH[config.network]
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )
    valid = None
    if config.valid_folder is not None:
        valid_set = PairDataset(
            list_images(config.valid_folder), sampler, config.crop, train=False, seed=config.seed
        )
        valid = torch.utils.data.DataLoader(valid_set, batch_size=batch_size)

    out = config.out / f"{config.network}.pth"
    discriminator: Discriminator | None = None
    if config.network == "generator":
        generator = Generator().to(device)
        trained: Any = generator
    else:
        source = config.generator or config.out / "generator.pth"
        if not source.is_file():
            raise FileNotFoundError(
                f"the discriminator phase needs a trained generator: {source} is missing "
                "(train the generator first, or pass its checkpoint)"
            )
        generator = load_network(source, "generator", device).requires_grad_(False)
        discriminator = Discriminator().to(device)
        trained = discriminator
    optimizer = torch.optim.Adam(trained.parameters(), lr=config.learning_rate)
    step = 0
    if out.is_file():
        step = _resume(out, config.network, trained, optimizer)
        log(f"resumed {config.network} at step {step} from {out}")
    total = config.iterations if config.iterations is not None else MAX_EPOCHS * len(loader)
    running: list[float] = []
    while step < total:
        trained.train()
        for batch in loader:
            if step >= total:
                break
            step += 1
            if discriminator is None:
                loss = generator_step(generator, optimizer, batch, device)
            else:
                loss = discriminator_step(generator, discriminator, optimizer, batch, device)
            running.append(loss)
            if step % config.log_every == 0:
                log(f"{config.network} step {step}: L1 loss {np.mean(running):.6f}")
                running = []
            if step % config.save_every == 0:
                save_checkpoint(out, config.network, step, trained, optimizer)
            if progress is not None:
                progress(step, total, f"training {config.network}")
        if valid is not None:
            trained.eval()
            loss = _validation_loss(valid, generator, discriminator, device)
            log(f"{config.network} validation at step {step}: L1 loss {loss:.6f}")
    save_checkpoint(out, config.network, step, trained, optimizer)
    return out
