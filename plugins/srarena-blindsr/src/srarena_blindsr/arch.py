"""BlindSR's two networks, with the module tree and state-dict keys of sunreef/BlindSR.

``Generator(LR, bicubic x2 of LR, kernel features)`` predicts the x2 image as the bicubic
image plus a residual computed at LR resolution; ``Discriminator(LR, generator features,
degradation map)`` predicts the generator's error image (zero when the kernel is right).
The space-to-depth of the bicubic image and the depth-to-space of the residual use the
official *offset-major* channel order (``c + 3 * (col_offset + 2 * row_offset)``), which
differs from :func:`torch.nn.functional.pixel_unshuffle`'s channel-major order.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

SCALE = 2
KERNEL_SIZE = 15
KERNEL_FEATURES = 15
FEATURES = 64
GROWTH = 16
DENSE_LAYERS = 5
DENSE_BLOCKS = 2 * SCALE


def _offset_major(channels: int, scale: int) -> list[int]:
    """Map offset-major channel ``c + C * (j + s * i)`` to pixel_unshuffle's ``c*s*s + i*s + j``."""
    return [
        c * scale * scale + i * scale + j
        for i in range(scale)
        for j in range(scale)
        for c in range(channels)
    ]


_TO_OFFSET_MAJOR = _offset_major(3, SCALE)
_FROM_OFFSET_MAJOR = sorted(range(len(_TO_OFFSET_MAJOR)), key=_TO_OFFSET_MAJOR.__getitem__)


def space_to_depth(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, 2h, 2w) -> (B, 12, h, w) in BlindSR's channel order."""
    return F.pixel_unshuffle(image, SCALE)[:, _TO_OFFSET_MAJOR]


def depth_to_space(features: torch.Tensor) -> torch.Tensor:
    """(B, 12, h, w) in BlindSR's channel order -> (B, 3, 2h, 2w)."""
    return F.pixel_shuffle(features[:, _FROM_OFFSET_MAJOR], SCALE)


class DenseBlock(nn.Module):
    """Five 1x1-ReLU-3x3 layers, each output concatenated and the whole passed through ReLU."""

    def __init__(self, channels: int = FEATURES, growth: int = GROWTH, layers: int = DENSE_LAYERS):
        super().__init__()
        self.conv_layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels + i * growth, channels + i * growth, 1),
                nn.ReLU(),
                nn.Conv2d(channels + i * growth, growth, 3, padding=1),
            )
            for i in range(layers)
        )
        self.relu_layer = nn.ReLU()
        self.final_conv_layer = nn.Sequential(
            nn.Conv2d(channels + layers * growth, channels, 1), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.conv_layers:
            x = self.relu_layer(torch.cat([x, layer(x)], 1))
        return self.final_conv_layer(x)


class GeneratorOutput(NamedTuple):
    """The SR image and the two maps the discriminator reads."""

    image: torch.Tensor
    features: torch.Tensor
    degradation_map: torch.Tensor


class Generator(nn.Module):
    """Kernel-conditioned x2 SR network (538,058 parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel_linear_mapping = nn.Linear(KERNEL_SIZE * KERNEL_SIZE, KERNEL_FEATURES)
        self.initial_convolution = nn.Sequential(
            nn.Conv2d(3 + 3 * SCALE * SCALE + KERNEL_FEATURES, FEATURES, 3, padding=1), nn.ReLU()
        )
        self.dense_blocks = nn.ModuleList(DenseBlock() for _ in range(DENSE_BLOCKS))
        self.final_convolution = nn.Sequential(
            nn.Conv2d(FEATURES, 3 * SCALE * SCALE, 3, padding=1)
        )

    def forward(
        self, lowres: torch.Tensor, bicubic: torch.Tensor, kernel_features: torch.Tensor
    ) -> GeneratorOutput:
        """``kernel_features``: (B, 225), the 15x15 kernels flattened row by row."""
        height, width = lowres.shape[-2:]
        mapped = self.kernel_linear_mapping(kernel_features)
        degradation_map = mapped[:, :, None, None].repeat(1, 1, height, width)
        x = torch.cat([lowres, space_to_depth(bicubic), degradation_map], 1)
        x = self.initial_convolution(x)
        for block in self.dense_blocks:
            x = x + block(x)
        residual = depth_to_space(self.final_convolution(x))
        return GeneratorOutput(bicubic + residual, x, degradation_map)


class Discriminator(nn.Module):
    """Error predictor at HR resolution (564,620 parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.initial_convolution = nn.Sequential(
            nn.Conv2d(3 + FEATURES + KERNEL_FEATURES, FEATURES, 3, padding=1), nn.ReLU()
        )
        self.dense_blocks = nn.ModuleList(DenseBlock() for _ in range(DENSE_BLOCKS))
        self.final_convolution = nn.Sequential(
            nn.Conv2d(FEATURES, 3 * SCALE * SCALE, 3, padding=1)
        )

    def forward(
        self, lowres: torch.Tensor, features: torch.Tensor, degradation_map: torch.Tensor
    ) -> torch.Tensor:
        x = self.initial_convolution(torch.cat([lowres, features, degradation_map], 1))
        for block in self.dense_blocks:
            x = x + block(x)
        return depth_to_space(self.final_convolution(x))
