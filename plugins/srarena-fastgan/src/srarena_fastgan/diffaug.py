"""Differentiable augmentation (Zhao et al., NeurIPS 2020) as FastGAN trains with it.

Policy ``"color,translation"``: per-sample random brightness (+U(-0.5, 0.5)), saturation
(x U(0, 2) around the channel mean), contrast (x U(0.5, 1.5) around the image mean), then an
integer translation of up to ``round(size / 8)`` pixels with zero fill. The random draws are
taken from ``rng`` in the official order and shapes (three ``rand(B, 1, 1, 1)``, then two
``randint(-s, s + 1, (B, 1, 1))``), so a seeded generator reproduces the official augmentation
of a seeded global RNG.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation")


def _uniform(x: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, generator=rng,
                   device=rng.device if rng is not None else x.device)
    return u.to(x.device)


def colour(x: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
    x = x + (_uniform(x, rng) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, rng) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_uniform(x, rng) + 0.5) + mean


def translation(x: torch.Tensor, rng: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    """Shift every sample by its own integer offset; vacated pixels become 0."""
    b, _, h, w = x.shape
    reach_h, reach_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = rng.device if rng is not None else x.device
    dy = torch.randint(-reach_h, reach_h + 1, (b, 1, 1), generator=rng, device=dev).to(x.device)
    dx = torch.randint(-reach_w, reach_w + 1, (b, 1, 1), generator=rng, device=dev).to(x.device)
    padded = F.pad(x, (1, 1, 1, 1))
    # row i of the output reads padded row clamp(i + dy + 1); the clamp lands on the zero border
    rows = (torch.arange(h, device=x.device).view(1, h) + dy.view(b, 1) + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, w) + dx.view(b, 1) + 1).clamp(0, w + 1)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2)


def diff_augment(
    x: torch.Tensor, policy: str = "color,translation", rng: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the comma-separated ``policy`` (``color``, ``translation``) in that order."""
    for name in filter(None, policy.split(",")):
        if name == "color":
            x = colour(x, rng)
        elif name == "translation":
            x = translation(x, rng)
        else:
            raise ValueError(f"unknown DiffAugment policy {name!r}; FastGAN uses {POLICIES}")
    return x.contiguous()
