"""MoESR's three networks, with the official module trees and state-dict keys.

* :class:`SRNet` — one expert (DualSR's upsampler): torch bicubic ×2, then a residual stack of
  3×3 convolutions on the upsampled grid (keys ``model.0`` … ``model.22``).
* :class:`ISENet` — the Image Sharpness Evaluator: unpadded convolutions over
  ``cat(SR, bicubic)`` giving a one-channel error map (keys ``model.0`` … ``model.9``).
* :class:`KENNet` — the Kernel Estimation Network: an MLP from the standardised 85 ISE errors
  to ``(λ1, λ2, θ)`` (keys ``layers.0``, ``layers.2``, ``layers.4``).

Widths are constructor arguments (the official networks use 64 features); :func:`sr_net_for`
and :func:`ise_net_for` read them from a state dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

OFFICIAL_FEATURES = 64
OFFICIAL_SR_LAYERS = 12
KEN_INPUTS = 85
KEN_HIDDEN = 50


class SRNet(nn.Module):
    """A ×2 expert: ``up = bicubic×2(x)``, ``out = up + body(up)``."""

    def __init__(
        self, features: int = OFFICIAL_FEATURES, layers: int = OFFICIAL_SR_LAYERS, channels: int = 3
    ) -> None:
        super().__init__()
        body: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(True)]
        for _ in range(layers - 2):
            body += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(True)]
        body.append(nn.Conv2d(features, channels, 3, padding=1))
        self.model = nn.Sequential(*body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        return up + self.model(up)


class ISENet(nn.Module):
    """Sharpness/error evaluator over ``cat([sr, bicubic], 1)``; no padding anywhere."""

    def __init__(self, features: int = OFFICIAL_FEATURES, channels: int = 3) -> None:
        super().__init__()
        f = features
        self.model = nn.Sequential(
            nn.Conv2d(2 * channels, f, 3),
            nn.ReLU(True),
            nn.Conv2d(f, f, 3, stride=2),
            nn.ReLU(True),
            nn.Conv2d(f, 2 * f, 3, stride=2),
            nn.ReLU(True),
            nn.Conv2d(2 * f, 4 * f, 3, stride=2),
            nn.ReLU(True),
            nn.Conv2d(4 * f, 8 * f, 3),
            nn.Conv2d(8 * f, 1, 3),
        )

    def forward(self, sr: torch.Tensor, bicubic: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([sr, bicubic], 1))


class KENNet(nn.Module):
    """Kernel estimator: standardise the 85 errors per sample (unbiased std), MLP, then
    floor λ1, λ2 at 0.01 and turn θ from units of π/16 into radians."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(KEN_INPUTS, KEN_HIDDEN),
            nn.ReLU(),
            nn.Linear(KEN_HIDDEN, KEN_HIDDEN),
            nn.ReLU(),
            nn.Linear(KEN_HIDDEN, 3),
        )

    def forward(self, errors: torch.Tensor) -> torch.Tensor:
        mean = errors.mean(dim=1, keepdim=True)
        std = errors.std(dim=1, keepdim=True)
        y = self.layers((errors - mean) / std)
        return torch.cat([y[:, :2].clamp(min=0.01), y[:, 2:] * (math.pi / 16)], dim=1)


def sr_net_for(state: Mapping[str, torch.Tensor]) -> SRNet:
    """An :class:`SRNet` whose width and depth match ``state`` (loaded strictly)."""
    convs = sum(1 for key in state if key.startswith("model.") and key.endswith(".weight"))
    net = SRNet(features=int(state["model.0.weight"].shape[0]), layers=convs)
    net.load_state_dict(state, strict=True)
    return net


def ise_net_for(state: Mapping[str, torch.Tensor]) -> ISENet:
    """An :class:`ISENet` whose width matches ``state`` (loaded strictly)."""
    net = ISENet(features=int(state["model.0.weight"].shape[0]))
    net.load_state_dict(state, strict=True)
    return net


def ken_net_for(state: Mapping[str, torch.Tensor]) -> KENNet:
    """A :class:`KENNet` loaded strictly from ``state``."""
    net = KENNet()
    net.load_state_dict(state, strict=True)
    return net
