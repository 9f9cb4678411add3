"""Pieces shared by DANv1 and DANv2: the pixel-shuffle upsampler and the unrolled loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

Progress = Callable[[int, int, str], None]


def upsampler(nf: int, scale: int, out_channels: int = 3) -> nn.Sequential:
    """Conv + PixelShuffle stages (x4 is two x2 stages), then a 3x3 conv to RGB.

    Indices match the official ``Restorer.upscale``: ``0, 2`` (x2, x3) or ``0, 2, 4`` (x4).
    """
    if scale == 4:
        return nn.Sequential(
            nn.Conv2d(nf, nf * 4, 3, 1, 1),
            nn.PixelShuffle(2),
            nn.Conv2d(nf, nf * 4, 3, 1, 1),
            nn.PixelShuffle(2),
            nn.Conv2d(nf, out_channels, 3, 1, 1),
        )
    if scale in (2, 3):
        return nn.Sequential(
            nn.Conv2d(nf, nf * scale * scale, 3, 1, 1),
            nn.PixelShuffle(scale),
            nn.Conv2d(nf, out_channels, 3, 1, 1),
        )
    raise ValueError(f"DAN has upsamplers for x2, x3 and x4, not x{scale}")


@dataclass
class Unrolled:
    """What the alternating loop produced: the last SR, kernel code and kernel.

    ``srs`` and ``codes`` hold every loop's outputs when they were asked for.
    """

    sr: torch.Tensor
    code: torch.Tensor
    kernel: torch.Tensor
    srs: list[torch.Tensor] = field(default_factory=list)
    codes: list[torch.Tensor] = field(default_factory=list)


class AlternatingNet(nn.Module):
    """The DAN loop around a ``Restorer`` and an ``Estimator`` (set by subclasses).

    Buffers as in the official checkpoints: ``encoder`` (1, k², L), the PCA basis;
    ``init_kernel`` (1, k, k), a Dirac kernel; ``init_ker_map`` (1, L), its code, the
    starting point of the loop.
    """

    Restorer: nn.Module
    Estimator: nn.Module

    def __init__(self, kernel_size: int, code_len: int, loop: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.loop = loop
        self.register_buffer("encoder", torch.zeros(1, kernel_size * kernel_size, code_len))
        dirac = torch.zeros(1, kernel_size, kernel_size)
        dirac[:, kernel_size // 2, kernel_size // 2] = 1
        self.register_buffer("init_kernel", dirac)
        self.register_buffer("init_ker_map", torch.zeros(1, code_len))

    def set_pca(self, matrix: torch.Tensor) -> None:
        """Install a PCA matrix (k², L) and derive the Dirac code from it, as at construction."""
        self.encoder.copy_(matrix[None])
        flat = self.init_kernel.view(1, 1, -1)
        self.init_ker_map.copy_(flat.matmul(self.encoder)[:, 0])

    def estimate(self, sr: torch.Tensor, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(code, kernel) estimated from the current SR; kernels are (B, k, k)."""
        raise NotImplementedError

    def unroll(
        self, lr: torch.Tensor, progress: Progress | None = None, keep: bool = False
    ) -> Unrolled:
        """Alternate Restorer and Estimator ``loop`` times from the Dirac code.

        The SR of the last loop is the result; the last Estimator call gives the kernel.
        """
        code = self.init_ker_map.repeat(lr.shape[0], 1)
        srs: list[torch.Tensor] = []
        codes: list[torch.Tensor] = []
        for index in range(self.loop):
            sr = self.Restorer(lr, code)
            code, kernel = self.estimate(sr, lr)
            if keep:
                srs.append(sr)
                codes.append(code)
            if progress is not None:
                progress(index + 1, self.loop, "DAN loop")
        return Unrolled(sr=sr, code=code, kernel=kernel, srs=srs, codes=codes)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.unroll(lr).sr
