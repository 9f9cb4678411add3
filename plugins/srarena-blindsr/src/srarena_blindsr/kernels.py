"""BlindSR's kernel model: a 15x15 anisotropic Gaussian with parameters (sigma_x, sigma_y, theta).

``k(x, y) ∝ exp(-(a x² + 2 b x y + c y²))`` with ``a = cos²θ/(2σx²) + sin²θ/(2σy²)``,
``b = sinθ cosθ (1/(2σy²) − 1/(2σx²))``, ``c = sin²θ/(2σx²) + cos²θ/(2σy²)``; ``x`` runs
along columns and ``y`` along rows, both over ``-7..7``. The arithmetic is evaluated in the
official order (squares as powers, ``((2b)·x)·y``): the test-time Adam refinement amplifies
round-off differences in the kernel's gradient into different trajectories, so an equal but
differently associated expression would not reproduce the official results.

In srarena's own convention (``srarena.datasets.degrade.gaussian``, angle from the x axis
towards +y) this kernel is ``gaussian(1, σx, σy, -θ, size=15)``.
"""

from __future__ import annotations

import math

import torch

from .arch import KERNEL_SIZE

GRID_SIGMA_STEPS = 6
GRID_THETA_STEPS = 4


def gaussian_kernel(
    sigma: torch.Tensor, theta: torch.Tensor, size: int = KERNEL_SIZE
) -> torch.Tensor:
    """The normalised (size, size) kernel; differentiable in ``sigma`` (2,) and ``theta``."""
    radius = size // 2
    coords = torch.linspace(-radius, radius, size, device=sigma.device)
    x = coords[None].repeat(size, 1)
    y = coords[:, None].repeat(1, size)
    cos_t = theta.cos()
    sin_t = theta.sin()
    cos_2 = cos_t**2
    sin_2 = sin_t**2
    two_var_x = 2.0 * (sigma[0] ** 2)
    two_var_y = 2.0 * (sigma[1] ** 2)
    a = cos_2 / two_var_x + sin_2 / two_var_y
    b = sin_t * cos_t * (1.0 / two_var_y - 1.0 / two_var_x)
    c = sin_2 / two_var_x + cos_2 / two_var_y
    kernel = (-(a * (x**2) + 2.0 * b * x * y + c * (y**2))).exp()
    return kernel / kernel.sum()


def kernel_from_values(sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    """The kernel for Python numbers, from float32 CPU tensors as the official grid builds it."""
    return gaussian_kernel(torch.tensor([sigma_x, sigma_y]), torch.tensor([theta]))


def grid() -> list[tuple[float, float, float]]:
    """The 144 starting points of the test-time search, in the official order.

    ``sigma_x`` (outer), ``sigma_y``, ``theta`` (inner); sigma in ``0.001 + (4/6) i``,
    ``i = 0..5``; theta in ``j π / 8``, ``j = 0..3``.
    """
    sigmas = [0.001 + (4.0 / GRID_SIGMA_STEPS) * i for i in range(GRID_SIGMA_STEPS)]
    thetas = [j * math.pi / (2.0 * GRID_THETA_STEPS) for j in range(GRID_THETA_STEPS)]
    return [(sx, sy, t) for sx in sigmas for sy in sigmas for t in thetas]
