"""The per-pixel work of NIQE with PyTorch, for a whole batch at once (the CUDA path).

Same results as :class:`srarena.metrics.niqe.cpu.CpuKernels` up to the order of float
additions: MSCN passes are accumulated in float64 and stored in the variant's precision, as
on the CPU, and per-patch sums are taken in float64. Imported only when a CUDA device is
asked for, so the core never needs torch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .features import N_DISTS, NEIGHBOURS, STATS


class TorchKernels:
    """:class:`~srarena.metrics.niqe.cpu.CpuKernels` on a torch device."""

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)

    def _tensor(self, array, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array) if not torch.is_tensor(array) else array).to(
            self.device, dtype
        )

    def _blur(self, x: torch.Tensor, window: np.ndarray, mode: str, dtype: torch.dtype):
        """Separable 7-tap correlation (rows, then columns) of (B, H, W), each pass in
        float64 and stored as ``dtype``; ``mode`` "constant" (zeros) or "replicate"."""
        w = torch.as_tensor(window, dtype=torch.float64, device=self.device)
        half = len(window) // 2
        x = x[:, None]
        for weight, pad in ((w.view(1, 1, -1, 1), (0, 0, half, half)),
                            (w.view(1, 1, 1, -1), (half, half, 0, 0))):
            x = F.conv2d(F.pad(x.double(), pad, mode=mode), weight).to(dtype)
        return x[:, 0]

    def mscn(self, images, variant: str, window: np.ndarray) -> torch.Tensor:
        """MSCN of (B, H, W) images: "study" in float32 with zero padding, "live" in
        float64 with replicated borders and pyiqa's epsilon (see ``features``)."""
        if variant == "study":
            x = self._tensor(images, torch.float32)
            mu = self._blur(x, window, "constant", torch.float32)
            var = self._blur(x * x, window, "constant", torch.float32) - mu * mu
            return (x - mu) / (torch.sqrt(torch.abs(var)) + 1)
        x = self._tensor(images, torch.float64)
        mu = self._blur(x, window, "replicate", torch.float64)
        var = self._blur(x * x, window, "replicate", torch.float64) - mu * mu
        return (x - mu) / (torch.sqrt(torch.abs(var) + torch.finfo(torch.float64).eps) + 1)

    def mscn_and_moments(self, images, patch: int, variant: str, window: np.ndarray):
        """MSCN (a tensor) and per-patch sums (:data:`STATS`, NumPy float64 (B, n, 5, 5))."""
        mscn = self.mscn(images, variant, window)
        b, h, w = mscn.shape
        x = mscn.view(b, h // patch, patch, w // patch, patch)
        dists = [x] + [x * torch.roll(x, (dr, dc), dims=(2, 4)) for dr, dc in NEIGHBOURS]
        out = torch.empty((b, h // patch, w // patch, N_DISTS, len(STATS)), dtype=torch.float64,
                          device=self.device)
        for k, d in enumerate(dists):
            d = d.double()
            a = d.abs()
            neg, pos = (a - d) / 2, (a + d) / 2
            out[..., k, 0] = (neg * neg).sum(dim=(2, 4))
            out[..., k, 1] = (d < 0).sum(dim=(2, 4))
            out[..., k, 2] = (pos * pos).sum(dim=(2, 4))
            out[..., k, 3] = (d > 0).sum(dim=(2, 4))
            out[..., k, 4] = a.sum(dim=(2, 4))
        return mscn, out.reshape(b, -1, N_DISTS, len(STATS)).cpu().numpy()

    def halve(self, images, taps: np.ndarray, scale: float) -> torch.Tensor:
        """MATLAB's antialiased bicubic halving of the images divided by ``scale``, in
        float32 as pyiqa (float64 out, times ``scale``)."""
        x = (self._tensor(images, torch.float64) / scale).float()[:, None]
        t = torch.as_tensor(taps, dtype=torch.float32, device=self.device)
        for dim in (2, 3):
            n = x.shape[dim]
            index = torch.cat(
                [torch.arange(2, -1, -1), torch.arange(n), torch.arange(n - 1, n - 4, -1)]
            )
            x = x.index_select(dim, index.to(self.device))
            weight = t.view(1, 1, -1, 1) if dim == 2 else t.view(1, 1, 1, -1)
            stride = (2, 1) if dim == 2 else (1, 2)
            x = F.conv2d(x, weight, stride=stride)
        return x[:, 0].double() * scale

    def patch(self, mscn: torch.Tensor, index: int, row: int, col: int, patch: int) -> np.ndarray:
        """One patch of one image, copied to a NumPy array."""
        rows, cols = slice(row * patch, (row + 1) * patch), slice(col * patch, (col + 1) * patch)
        return mscn[index, rows, cols].cpu().numpy()
