"""The official patch geometry: overlapping square patches and their blended recomposition.

Along an axis of length ``L`` with patch ``P`` and overlap ``o`` the patches start at
``min(i (P - o), L - P)`` for ``i < n``, ``n = ceil(L / (P - o))`` (so the last patches may
repeat, and ``L >= P`` is required). Patches are taken row by row. Recomposition weights
each patch by the separable profile ``[linspace(0.1, 1, o), 1..., linspace(1, 0.1, o)]``
and divides by the summed weights, accumulating in patch order as the official code does.
"""

from __future__ import annotations

import torch


def starts(length: int, patch: int, overlap: int) -> list[int]:
    """Start offsets of the patches along one axis."""
    if not 0 <= overlap < patch <= length:
        raise ValueError(f"need 0 <= overlap < patch <= length, got {overlap}, {patch}, {length}")
    step = patch - overlap
    count = length // step + (1 if (length // step) * step < length else 0)
    return [min(i * step, length - patch) for i in range(count)]


def boxes(height: int, width: int, patch: int, overlap: int) -> list[tuple[int, int]]:
    """(top, left) of every patch, row by row."""
    return [
        (top, left)
        for top in starts(height, patch, overlap)
        for left in starts(width, patch, overlap)
    ]


def extract(image: torch.Tensor, corners: list[tuple[int, int]], patch: int) -> torch.Tensor:
    """Stack the (1, C, H, W) image's patches at ``corners`` into (N, C, patch, patch)."""
    return torch.cat([image[:, :, t : t + patch, s : s + patch] for t, s in corners], 0)


def blending_weights(patch: int, overlap: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The (patch, patch) weight of one patch in the recomposition."""
    profile = torch.cat(
        [
            torch.linspace(0.1, 1.0, overlap),
            torch.ones(patch - 2 * overlap),
            torch.linspace(1.0, 0.1, overlap),
        ]
    )
    return torch.outer(profile, profile).to(device)


def recompose(
    patches: torch.Tensor, corners: list[tuple[int, int]], height: int, width: int, overlap: int
) -> torch.Tensor:
    """Blend (N, C, P, P) patches at ``corners`` into a (1, C, height, width) image."""
    count, channels, patch = patches.shape[:3]
    if count != len(corners):
        raise ValueError(f"{count} patches for {len(corners)} positions")
    weight = blending_weights(patch, overlap)
    total = torch.zeros(1, channels, height, width)
    for top, left in corners:
        total[0, :, top : top + patch, left : left + patch] += weight[None]
    total = total.to(patches.device)
    weight = weight.to(patches.device)
    out = torch.zeros(1, channels, height, width, dtype=patches.dtype, device=patches.device)
    for index, (top, left) in enumerate(corners):
        out[0, :, top : top + patch, left : left + patch] += patches[index] * weight
    return out / total
