"""BlindSR's test procedure (sunreef/BlindSR ``Manager.launch_test``) on one image.

1. Cut the LR image into ``P``-pixel patches with overlap ``P // 4`` and the bicubic x2 image
   into the matching ``2P`` patches (:mod:`.patches`).
2. Grid search, without gradients: for each of the 144 kernels of :func:`.kernels.grid`,
   the score is the sum over patches of ``Σ|D|``; the first strict minimum wins.
3. Refinement: Adam (lr 0.01) on ``(σ (2,), θ ())`` from the grid optimum, 50 epochs of one
   step per patch (patch order), loss ``mean|D| - 1e-4 (|σx| + |σy|)``.
4. The generator with the refined kernel on every patch, blended back together.

One kernel is estimated for the whole image (the official reimplementation does not
implement the paper's spatially varying per-pixel kernels). Identical patches (small
images repeat patches) are evaluated once and their values reused in patch order, which
gives the same sums; the refinement still steps once per patch, duplicates included.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from srarena import Progress, no_progress

from .arch import KERNEL_SIZE, SCALE, Discriminator, Generator
from .kernels import gaussian_kernel, grid, kernel_from_values
from .patches import boxes, extract, recompose

LEARNING_RATE = 0.01
EPOCHS = 50
SHARPNESS = 0.0001
DEFAULT_PATCH = 200
BATCH = 1

def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise [0, 1] floats as the official output writer (imageio 2.x) does.

    ``floor(x * 255 + 0.499999999)`` in float64 (ties go down); exact for ``u8 / 255`` input.
    """
    scaled = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.499999999
    return scaled.astype(np.uint8)


def chw_float(image_u8: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 ``u8 / 255`` (torchvision ``ToTensor``)."""
    return torch.from_numpy(np.ascontiguousarray(image_u8.transpose(2, 0, 1))).float() / 255.0


def bicubic_x2(image_u8: np.ndarray) -> np.ndarray:
    """Pillow's bicubic x2 of an 8-bit RGB (H, W, 3) image, 8-bit (2H, 2W, 3)."""
    height, width = image_u8.shape[:2]
    resized = Image.fromarray(image_u8, "RGB").resize(
        (SCALE * width, SCALE * height), Image.Resampling.BICUBIC
    )
    return np.asarray(resized)


def prepare(image_u8: np.ndarray, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """LR and Pillow-bicubic x2 tensors (1, 3, h, w) / (1, 3, 2h, 2w) from an 8-bit RGB image."""
    return (
        chw_float(image_u8)[None].to(device),
        chw_float(bicubic_x2(image_u8))[None].to(device),
    )


@dataclass
class Result:
    """The SR image (unclamped, (1, 3, 2h, 2w)) and what the kernel search found."""

    image: torch.Tensor
    kernel: np.ndarray
    sigma: tuple[float, float]
    theta: float
    grid_sigma: tuple[float, float]
    grid_theta: float
    grid_score: float
    patch_size: int
    overlap: int
    corners: list[tuple[int, int]] = field(default_factory=list)
    steps: int = 0


def _features(kernel: torch.Tensor) -> torch.Tensor:
    return kernel.reshape(1, KERNEL_SIZE * KERNEL_SIZE)


def _batched(
    generator: Generator,
    discriminator: Discriminator | None,
    lowres: torch.Tensor,
    bicubic: torch.Tensor,
    features: torch.Tensor,
) -> torch.Tensor:
    out = generator(lowres, bicubic, features)
    if discriminator is None:
        return out.image
    return discriminator(lowres, out.features, out.degradation_map)


def grid_search(
    generator: Generator,
    discriminator: Discriminator,
    lowres: torch.Tensor,
    bicubic: torch.Tensor,
    order: list[int],
    batch: int,
    progress: Progress = no_progress,
    candidates: list[tuple[float, float, float]] | None = None,
) -> tuple[tuple[float, float, float], float]:
    """The first grid kernel with the smallest total ``Σ|D|`` over patches, and that total.

    ``lowres``/``bicubic`` hold the distinct patches; ``order[p]`` is the distinct patch
    standing at position ``p``. Up to ``batch`` (kernel, patch) pairs run per forward pass.
    ``candidates`` defaults to the official 144-kernel :func:`.kernels.grid`.
    """
    candidates = grid() if candidates is None else candidates
    device = lowres.device
    features = torch.cat(
        [_features(kernel_from_values(sx, sy, t)) for sx, sy, t in candidates]
    ).to(device)
    distinct = lowres.shape[0]
    pairs = [(k, u) for k in range(len(candidates)) for u in range(distinct)]
    sums = np.empty((len(candidates), distinct))
    with torch.no_grad():
        for first in range(0, len(pairs), batch):
            chunk = pairs[first : first + batch]
            kernel_index = torch.tensor([k for k, _ in chunk], device=device)
            patch_index = torch.tensor([u for _, u in chunk], device=device)
            error = _batched(
                generator,
                discriminator,
                lowres[patch_index],
                bicubic[patch_index],
                features[kernel_index],
            )
            values = torch.stack([e.abs().sum() for e in error]).tolist()
            for (k, u), value in zip(chunk, values, strict=True):
                sums[k, u] = value
            progress(min(first + batch, len(pairs)), len(pairs), "kernel grid search")
    best, best_score = (1.0, 1.0, 0.0), float("inf")
    for k, candidate in enumerate(candidates):
        score = 0.0
        for u in order:
            score += float(sums[k, u])
        if score < best_score:
            best, best_score = candidate, score
    return best, best_score


def refine(
    generator: Generator,
    discriminator: Discriminator,
    lowres: torch.Tensor,
    bicubic: torch.Tensor,
    order: list[int],
    start: tuple[float, float, float],
    epochs: int = EPOCHS,
    progress: Progress = no_progress,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on (σ, θ) from ``start``: ``epochs`` passes of one step per patch position.

    As in the official code, σ, θ, the kernel and its gradient stay on the CPU whatever the
    networks' device; only the kernel features travel to it.
    """
    device = lowres.device
    sigma = torch.nn.Parameter(torch.tensor([start[0], start[1]]))
    theta = torch.nn.Parameter(torch.tensor(start[2]))
    optimizer = torch.optim.Adam([sigma, theta], lr=LEARNING_RATE)
    total = epochs * len(order)
    step = 0
    for _ in range(epochs):
        for u in order:
            optimizer.zero_grad()
            error = _batched(
                generator,
                discriminator,
                lowres[u : u + 1],
                bicubic[u : u + 1],
                _features(gaussian_kernel(sigma, theta)).to(device),
            )
            loss = F.l1_loss(error, torch.zeros_like(error))
            loss = loss - SHARPNESS * sigma.abs().sum().to(device)
            loss.backward()
            optimizer.step()
            step += 1
            progress(step, total, "kernel refinement")
    return sigma.detach(), theta.detach()


@dataclass
class Patches:
    """An image cut as the official code cuts it; identical patches are stored once."""

    lowres: torch.Tensor
    bicubic: torch.Tensor
    corners: list[tuple[int, int]]
    order: list[int]
    patch_size: int
    overlap: int
    height: int
    width: int


def split(lowres: torch.Tensor, bicubic: torch.Tensor, patch_size: int) -> Patches:
    """Patches of ``patch_size`` (overlap ``patch_size // 4``) and the matching x2 patches."""
    height, width = lowres.shape[-2:]
    overlap = patch_size // 4
    corners = boxes(height, width, patch_size, overlap)
    distinct = list(dict.fromkeys(corners))
    return Patches(
        lowres=extract(lowres, distinct, patch_size),
        bicubic=extract(bicubic, [(SCALE * t, SCALE * s) for t, s in distinct], SCALE * patch_size),
        corners=corners,
        order=[distinct.index(c) for c in corners],
        patch_size=patch_size,
        overlap=overlap,
        height=height,
        width=width,
    )


def render(
    generator: Generator,
    parts: Patches,
    sigma: torch.Tensor,
    theta: torch.Tensor,
    batch: int = BATCH,
    progress: Progress = no_progress,
) -> torch.Tensor:
    """The generator with kernel (σ, θ) on every patch, blended into (1, 3, 2h, 2w).

    The kernel is built on the networks' device, as the official final pass does.
    """
    device = parts.lowres.device
    with torch.no_grad():
        features = _features(gaussian_kernel(sigma.to(device), theta.to(device)))
        distinct = parts.lowres.shape[0]
        outputs = []
        for first in range(0, distinct, batch):
            n = min(batch, distinct - first)
            outputs.append(
                _batched(
                    generator,
                    None,
                    parts.lowres[first : first + n],
                    parts.bicubic[first : first + n],
                    features.repeat(n, 1),
                )
            )
            progress(first + n, distinct, "super-resolution")
        return recompose(
            torch.cat(outputs)[parts.order],
            [(SCALE * t, SCALE * s) for t, s in parts.corners],
            SCALE * parts.height,
            SCALE * parts.width,
            SCALE * parts.overlap,
        )


def super_resolve(
    generator: Generator,
    discriminator: Discriminator,
    lowres: torch.Tensor,
    bicubic: torch.Tensor,
    patch_size: int = DEFAULT_PATCH,
    epochs: int = EPOCHS,
    batch: int = BATCH,
    progress: Progress = no_progress,
) -> Result:
    """Run the whole test procedure on one (1, 3, h, w) LR image and its bicubic x2."""
    parts = split(lowres, bicubic, patch_size)
    start, score = grid_search(
        generator, discriminator, parts.lowres, parts.bicubic, parts.order, batch, progress
    )
    sigma, theta = refine(
        generator, discriminator, parts.lowres, parts.bicubic, parts.order, start, epochs,
        progress,
    )
    image = render(generator, parts, sigma, theta, batch, progress)
    with torch.no_grad():
        device = lowres.device
        kernel = gaussian_kernel(sigma.to(device), theta.to(device)).cpu().numpy()
    return Result(
        image=image,
        kernel=kernel,
        sigma=(float(sigma[0]), float(sigma[1])),
        theta=float(theta),
        grid_sigma=(start[0], start[1]),
        grid_theta=start[2],
        grid_score=score,
        patch_size=patch_size,
        overlap=parts.overlap,
        corners=parts.corners,
        steps=epochs * len(parts.corners),
    )
