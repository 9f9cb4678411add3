"""DANv1 (Luo et al., NeurIPS 2020): conditional residual blocks with channel attention.

The kernel code enters the Restorer as a constant map concatenated to the features of every
block; the Estimator predicts the code directly (global average of a 10-channel map).
Module and buffer names follow the official checkpoints.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import AlternatingNet, upsampler

ESTIMATOR_CODE_LEN = 10  # the official DANv1 Estimator always emits 10 numbers


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: scale channels by a gate computed from their means."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, 1, 0),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels // reduction, channels, 1, 1, 0),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.body(F.adaptive_avg_pool2d(x, 1))


class ConditionedBlock(nn.Module):
    """Residual block on ``features`` conditioned on ``condition`` (concatenated, unchanged)."""

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        both = channels + cond_channels
        self.body = nn.Sequential(
            nn.Conv2d(both, both, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(both, channels, 3, 1, 1),
            ChannelAttention(channels),
        )

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat((features, condition), 1)) + features


class Restorer(nn.Module):
    """SR network conditioned on a kernel code stretched to a constant (B, L, H, W) map."""

    def __init__(self, nf: int, nb: int, scale: int, code_len: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.ModuleList(ConditionedBlock(nf, code_len) for _ in range(nb))
        self.fusion = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upscale = upsampler(nf, scale)

    def forward(self, lr: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = lr.shape
        condition = code.view(batch, -1, 1, 1).expand(-1, -1, height, width)
        features = self.head(lr)
        for block in self.body:
            features = block(features, condition)
        return self.upscale(self.fusion(features))


class Estimator(nn.Module):
    """Kernel-code predictor from the LR image and the current SR (brought back to LR size)."""

    def __init__(self, scale: int, nf: int = 64, num_blocks: int = 5) -> None:
        super().__init__()
        half = nf // 2
        self.head_LR = nn.Conv2d(3, half, 1, 1, 0)
        self.head_HR = nn.Conv2d(3, half, 9, scale, 4)
        self.body = nn.ModuleList(ConditionedBlock(half, half) for _ in range(num_blocks))
        self.out = nn.Conv2d(half, ESTIMATOR_CODE_LEN, 3, 1, 1)

    def forward(self, sr: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        features = self.head_LR(lr)
        condition = self.head_HR(sr)
        for block in self.body:
            features = block(features, condition)
        return F.adaptive_avg_pool2d(self.out(features), 1).flatten(1)


class DANv1(AlternatingNet):
    """DANv1; the kernel is reconstructed from the estimated code with the PCA basis."""

    def __init__(
        self, nf: int, nb: int, scale: int, kernel_size: int, code_len: int, loop: int
    ) -> None:
        if code_len != ESTIMATOR_CODE_LEN:
            raise ValueError(f"DANv1 codes have {ESTIMATOR_CODE_LEN} numbers, not {code_len}")
        super().__init__(kernel_size, code_len, loop)
        self.Restorer = Restorer(nf, nb, scale, code_len)
        self.Estimator = Estimator(scale)

    def estimate(self, sr: torch.Tensor, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.Estimator(sr, lr)
        kernel = code.matmul(self.encoder[0].transpose(0, 1))
        return code, kernel.view(-1, self.kernel_size, self.kernel_size)
