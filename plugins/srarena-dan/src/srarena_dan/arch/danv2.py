"""DANv2 (Luo et al., arXiv 2105.06878): dual-path conditional blocks.

The Restorer's second path carries the kernel code as a (B, C, 1, 1) tensor that gates the
image path by broadcasting; the Estimator predicts a whole kernel (softmax over k² values)
whose PCA projection is the next code. Module and buffer names follow the official
checkpoints.

Official behaviour kept on purpose: a group of blocks ends with what its authors wrote as a
residual connection, but their blocks update the list they were given in place, so the
"input" of that connection is already the output: each group returns twice its blocks'
result, on both paths. The released weights were trained that way.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import AlternatingNet, upsampler


class DualPathBlock(nn.Module):
    """``a += body1(a) * body2(b)``; ``b += body2(b)``."""

    def __init__(self, nf1: int, nf2: int, ksize1: int, ksize2: int) -> None:
        super().__init__()
        self.body1 = nn.Sequential(
            nn.Conv2d(nf1, nf1, ksize1, 1, ksize1 // 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(nf1, nf1, ksize1, 1, ksize1 // 2),
        )
        self.body2 = nn.Sequential(
            nn.Conv2d(nf2, nf1, ksize2, 1, ksize2 // 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(nf1, nf1, ksize2, 1, ksize2 // 2),
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gate = self.body2(b)
        return a + self.body1(a) * gate, b + gate


class DualPathGroup(nn.Module):
    """``nb`` dual-path blocks; the output is doubled (see the module docstring)."""

    def __init__(self, nf1: int, nf2: int, ksize1: int, ksize2: int, nb: int) -> None:
        super().__init__()
        self.body = nn.ModuleList(DualPathBlock(nf1, nf2, ksize1, ksize2) for _ in range(nb))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.body:
            a, b = block(a, b)
        return a + a, b + b


class Restorer(nn.Module):
    """SR network; the code path starts as a 1x1 conv of the (B, L, 1, 1) code."""

    def __init__(self, nf: int, nb: int, ng: int, scale: int, code_len: int) -> None:
        super().__init__()
        self.head1 = nn.Conv2d(3, nf, 3, 1, 1)
        self.head2 = nn.Conv2d(code_len, nf, 1, 1, 0)
        self.body = nn.ModuleList(DualPathGroup(nf, nf, 3, 1, nb) for _ in range(ng))
        self.fusion = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upscale = upsampler(nf, scale)

    def forward(self, lr: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        features = self.head1(lr)
        condition = self.head2(code.view(code.shape[0], -1, 1, 1))
        for group in self.body:
            features, condition = group(features, condition)
        return self.upscale(self.fusion(features))


class Estimator(nn.Module):
    """Kernel predictor: a k² softmax from the LR image and the SR brought to LR size."""

    def __init__(self, scale: int, kernel_size: int, nf: int = 64, num_blocks: int = 5) -> None:
        super().__init__()
        half = nf // 2
        self.head_LR = nn.Sequential(nn.Conv2d(3, half, 5, 1, 2))
        self.head_HR = nn.Sequential(nn.Conv2d(3, half, 4 * scale + 1, scale, 2 * scale))
        self.body = DualPathGroup(half, half, 3, 3, num_blocks)
        self.tail = nn.Sequential(
            nn.Conv2d(half, nf, 3, 1, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(nf, kernel_size * kernel_size, 1, 1, 0),
            nn.Softmax(1),
        )

    def forward(self, sr: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        features, _ = self.body(self.head_LR(lr), self.head_HR(sr))
        return self.tail(features).flatten(1)


class DANv2(AlternatingNet):
    """DANv2; the code of each loop is the estimated kernel projected on the PCA basis."""

    def __init__(
        self, nf: int, nb: int, ng: int, scale: int, kernel_size: int, code_len: int, loop: int
    ) -> None:
        super().__init__(kernel_size, code_len, loop)
        self.Restorer = Restorer(nf, nb, ng, scale, code_len)
        self.Estimator = Estimator(scale, kernel_size)

    def estimate(self, sr: torch.Tensor, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kernel = self.Estimator(sr, lr)
        code = kernel.view(kernel.shape[0], 1, -1).matmul(self.encoder)[:, 0]
        return code, kernel.view(-1, self.kernel_size, self.kernel_size)
