"""Shared helpers of the FastGAN tests (exposed as the ``fg`` fixture)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the FastGAN tests need torch")

FIXTURES = Path(__file__).parent / "fixtures"
VGG_CFG = (64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0)


def fingerprint(t: torch.Tensor) -> list[float]:
    """sum, sum of squares and a cosine-weighted sum of a tensor, in float64."""
    x = t.detach().double().flatten().cpu()
    w = torch.cos(torch.arange(x.numel(), dtype=torch.float64) * 0.7)
    return [float(x.sum()), float((x * x).sum()), float((x * w).sum())]


def check_fingerprints(tensors, expected, rtol, what: str, atol=None) -> None:
    """Each tensor's fingerprint within the error a relative L2 error ``rtol`` allows.

    ``rtol`` is one number or one per tensor. ``atol``, if given, holds one row of absolute
    allowances per tensor (for the sum, the sum of squares and the cosine-weighted sum), added
    to the relative ones.
    """
    expected = np.asarray(expected, np.float64).reshape(len(tensors), -1)
    rtol = np.broadcast_to(np.asarray(rtol, np.float64), (len(tensors),))
    atol = np.zeros((len(tensors), 3)) if atol is None else np.asarray(atol, np.float64)
    for i, (t, row) in enumerate(zip(tensors, expected, strict=True)):
        got = np.asarray(fingerprint(t))
        n, norm2 = t.numel(), max(float(row[1]), 1e-30)
        tol = (np.array([math.sqrt(n * norm2), 2 * norm2, math.sqrt(n * norm2)]) * rtol[i]
               + atol[i] + 1e-12)
        bad = np.abs(got - row[:3]) > tol
        assert not bad.any(), f"{what}[{i}]: fingerprint {got} vs official {row[:3]} (tol {tol})"


def perturb(module: torch.nn.Module, seed: int) -> None:
    """The golden recipe: make every float tensor non-trivial (fp16-exact values), then
    converge the spectral-norm vectors (20 power iterations) so eval-mode outputs stay sane."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict(keep_vars=True).items():
            if not t.is_floating_point() or name.endswith(("weight_u", "weight_v")):
                continue
            t.add_(0.05 * torch.randn(t.shape, generator=g))
            if name.endswith("running_var"):
                t.abs_().add_(0.5)
            elif t.numel() == 1:
                t.add_(0.1)
            t.copy_(t.half().float())
        for layer in module.modules():
            for hook in layer._forward_pre_hooks.values():
                if isinstance(hook, SpectralNorm):
                    for _ in range(20):
                        hook.compute_weight(layer, do_power_iteration=True)


def seeded(shape: tuple[int, ...], seed: int, tanh: bool = True) -> torch.Tensor:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return torch.tanh(x) if tanh else x


def subsample(x: torch.Tensor, size: int = 16) -> np.ndarray:
    step = max(1, x.shape[-1] // size)
    return x[..., ::step, ::step].detach().cpu().numpy()


def vgg_trunk(seed: int = 123) -> dict[str, torch.Tensor]:
    """A random torchvision-layout VGG16 ``features`` state (He-scaled), never downloaded."""
    g = torch.Generator().manual_seed(seed)
    state, cin, index = {}, 3, 0
    for cout in VGG_CFG:
        if cout == 0:  # max-pool
            index += 1
            continue
        scale = math.sqrt(2 / (9 * cin))
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * scale
        state[f"features.{index}.bias"] = 0.01 * torch.randn(cout, generator=g)
        cin, index = cout, index + 2
    return state


@pytest.fixture(scope="session")
def fg() -> SimpleNamespace:
    return SimpleNamespace(fixtures=FIXTURES, fingerprint=fingerprint, check=check_fingerprints,
                           perturb=perturb, seeded=seeded, subsample=subsample,
                           vgg_trunk=vgg_trunk)


@pytest.fixture(scope="session")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random VGG16 trunk saved like torchvision's file (features only)."""
    path = tmp_path_factory.mktemp("vgg") / "vgg16-397923af.pth"
    torch.save(vgg_trunk(), path)
    return path
