"""The MoESR procedure for one native scale: expert sweep + ISE, KEN, expert selection with
weight rotations/flips, per-image DualSR-style fine-tuning, final pass.

Each step follows the official code's arithmetic (op order, dtypes, random streams) so that
outputs agree with it to float precision on CPU; see the plugin README for the details.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srarena import Progress, no_progress

from .arch import ISENet, KENNet, SRNet, sr_net_for
from .sampler import CropSampler

LAMBDA_SETS: dict[int, tuple[float, ...]] = {
    2: (0.85, 1.47, 2.27, 3.23, 4.37),
    4: (4.25, 7.35, 11.35, 16.15, 21.85),
}
"""Covariance eigenvalues (variances, HR pixels) of the experts' training kernels."""
THETA_SET: tuple[float, ...] = tuple(k * math.pi / 16 for k in (1, 3, 5, 7, 9, 11, 13, 15))
KERNEL_SIZES = {2: 13, 4: 33}
NETS_PER_EXPERT = {2: 1, 4: 2}
TRANSFORMS = ("none", "flip+rot90", "rot90", "flip")
"""Sector names for θ in (0, π/4), (π/4, π/2), (π/2, 3π/4), (3π/4, π)."""

@dataclass(frozen=True)
class Hypothesis:
    """One kernel hypothesis of the sweep and the expert that handles it."""

    lambda1: float
    lambda2: float
    theta: float
    sector: int

    @property
    def model_theta(self) -> float:
        return model_angle(self.theta, self.sector) if self.lambda1 != self.lambda2 else 0.0

    @property
    def expert_id(self) -> str:
        return expert_id(self.lambda1, self.lambda2, self.model_theta)


def sector_of(theta: float) -> int:
    """0: θ < π/4; 1: π/4 < θ < π/2; 2: π/2 < θ < 3π/4; 3: otherwise (official branches)."""
    if theta < np.pi / 4:
        return 0
    if np.pi / 4 < theta < np.pi / 2:
        return 1
    if np.pi / 2 < theta < 3 * np.pi / 4:
        return 2
    return 3


def model_angle(theta: float, sector: int) -> float:
    """The expert's own angle (in [0, π/4)) for a kernel at ``theta`` in ``sector``."""
    return (theta, np.pi / 2 - theta, theta - np.pi / 2, np.pi - theta)[sector]


def expert_id(lambda1: float, lambda2: float, model_theta: float) -> str:
    """The key of an expert in ``SR_networks_ensemble.pt``."""
    return f"U_{lambda1:.2f}_{lambda2:.2f}_{model_theta:.2f}"


def sweep_hypotheses(scale: int) -> list[Hypothesis]:
    """The 85 hypotheses in the official loop order (which is KEN's input order)."""
    out = []
    for lambda1, lambda2 in itertools.product(LAMBDA_SETS[scale], repeat=2):
        if lambda2 > lambda1:
            continue
        thetas = (0.0,) if lambda1 == lambda2 else THETA_SET
        out += [Hypothesis(lambda1, lambda2, t, sector_of(t)) for t in thetas]
    return out


def expert_ids(scale: int) -> list[str]:
    """The 25 expert keys a checkpoint of ``scale`` must hold, in first-use order."""
    return list(dict.fromkeys(h.expert_id for h in sweep_hypotheses(scale)))


def to_sector(x: torch.Tensor, sector: int) -> torch.Tensor:
    """Bring an NCHW image into the expert's frame (the sweep's input transform)."""
    if sector == 1:
        return x.flip(3).rot90(1, dims=[2, 3])
    if sector == 2:
        return x.rot90(1, dims=[2, 3])
    if sector == 3:
        return x.flip(3)
    return x


def from_sector(x: torch.Tensor, sector: int) -> torch.Tensor:
    """Undo :func:`to_sector` on an expert's output."""
    if sector == 1:
        return x.flip(3).rot90(1, dims=[2, 3])
    if sector == 2:
        return x.rot90(-1, dims=[2, 3])
    if sector == 3:
        return x.flip(3)
    return x


def transform_weights(net: nn.Module, sector: int) -> None:
    """Rotate/flip every convolution kernel (not the biases) for ``sector``, as the official
    selection does: :func:`to_sector` applied to the weights. In sector 2 the turned net is
    therefore ``rot90(+1)∘net∘rot90(-1)``, the other way round from the sweep's
    ``rot90(-1)∘net∘rot90(+1)``; kept as official."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            module.weight.data = to_sector(module.weight.data, sector)


def gaussian_kernel(params: Sequence[float], size: int, scale: int) -> np.ndarray:
    """Anisotropic Gaussian with covariance eigenvalues ``λ1, λ2`` (variances) at angle θ,
    ``size``² pixels, mean at ``size//2 + (scale - size%2)/2`` (x = column, y = row),
    normalised to sum 1; float64.

    ``params`` keep their dtype (KEN's float32) for the covariance, as officially.
    """
    lambda1, lambda2, theta = params[0], params[1], params[2]
    cov = np.diag([lambda1, lambda2])
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    inv = np.linalg.inv(rot @ cov @ rot.T)[None, None]
    mu = (np.array([size, size]) // 2 + 0.5 * (np.array([scale, scale]) - size % 2))
    cols, rows = np.meshgrid(range(size), range(size))
    d = np.stack([cols, rows], 2)[:, :, :, None] - mu[None, None, :, None]
    quad = np.squeeze(d.transpose(0, 1, 3, 2) @ inv @ d)
    raw = np.exp(-0.5 * quad)
    return raw / np.sum(raw)


def downscale(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """Per-channel valid correlation with ``kernel`` and ``stride`` (no padding)."""
    n, c, h, w = x.shape
    out = F.conv2d(x.reshape(n * c, 1, h, w), kernel[None, None], stride=stride)
    return out.reshape(n, c, out.shape[2], out.shape[3])


def quantize(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.round(x * 255.0), 0, 255) / 255.0


def shave_to(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Centre-crop ``a`` to ``b``'s spatial size (differences must be even)."""
    dr, dc = a.shape[2] - b.shape[2], a.shape[3] - b.shape[3]
    if dr < 0 or dc < 0 or dr % 2 or dc % 2:
        raise ValueError(f"cannot centre-crop {tuple(a.shape)} to {tuple(b.shape)}")
    return a[:, :, dr // 2 : a.shape[2] - dr // 2, dc // 2 : a.shape[3] - dc // 2]


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Per-channel unnormalised 3×3 Sobel magnitude, zero padding (the vendored kornia 0.x
    operator, evaluated as the same grouped 3-D convolution)."""
    c = x.shape[1]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    weight = torch.stack([kx.t(), kx]).to(x.device, x.dtype).repeat(c, 1, 1, 1, 1)
    edges = F.conv3d(x[:, :, None], weight, padding=1, groups=c)
    gx, gy = edges[:, :, 0], edges[:, :, 1]
    return torch.sqrt(gx * gx + gy * gy)


def crop_problem(scale: int, crop: int) -> str | None:
    """Why ``crop`` cannot serve as fine-tuning crop size at ``scale`` (None when it can):
    the kernel must fit and every cycle's centre crop must shave evenly."""
    k = KERNEL_SIZES[scale]
    small = crop // scale
    rec_lr = (small * scale - k) // scale + 1
    fake_lr = (crop - k) // scale + 1
    if rec_lr < 1 or fake_lr < 1:
        return f"crop size {crop} is smaller than the x{scale} kernel ({k} px)"
    pairs = [(small, rec_lr), (crop, fake_lr * scale)]
    if scale == 4:
        pairs.append(((crop - 13) // 2 + 1, fake_lr * 2))
    if any(a < b or (a - b) % 2 for a, b in pairs):
        return f"crop size {crop} gives odd or negative margins at x{scale}"
    return None


@dataclass(frozen=True)
class FineTuneConfig:
    """Per-image fine-tuning settings; defaults are the official ones."""

    iterations: int = 1000
    crop_size: int = 128
    max_lr: float = 1e-5
    div_factor: float = 10.0
    beta1: float = 0.5
    cycle_weight: float = 5.0
    interp_weight: float = 1.0
    real: bool = True
    noise_std: float = 0.04


@dataclass
class Estimate:
    """What the sweep and KEN found for one image."""

    errors: np.ndarray
    params: np.ndarray


@dataclass
class Selection:
    """The expert chosen for an estimate and how its weights are turned."""

    expert_id: str
    sector: int
    snapped: tuple[float, float, float]

    @property
    def transform(self) -> str:
        return TRANSFORMS[self.sector]


def select_expert(params: Sequence[float], scale: int) -> Selection:
    """Snap ``(λ1, λ2, θ)`` to the grid and name the expert (official rules: θ snaps to the
    nearest odd multiple of π/16; λ2 > λ1 becomes isotropic with the larger value)."""
    lambdas = LAMBDA_SETS[scale]
    lambda1 = min(lambdas, key=lambda v: abs(v - params[0]))
    lambda2 = min(lambdas, key=lambda v: abs(v - params[1]))
    theta = min(THETA_SET, key=lambda v: abs(v - params[2]))
    chosen = Hypothesis(max(lambda1, lambda2), lambda2, theta, sector_of(theta))
    return Selection(chosen.expert_id, chosen.sector, (chosen.lambda1, lambda2, theta))


class MoESR:
    """MoESR at one native scale (2 or 4) with loaded networks on ``device``.

    ``experts`` maps expert ids to their state dicts (one per ×2 network: 1 at ×2, 2 at ×4).
    """

    def __init__(
        self,
        scale: int,
        experts: Mapping[str, Sequence[Mapping[str, torch.Tensor]]],
        ise: ISENet,
        ken: KENNet,
        device: str | torch.device = "cpu",
    ) -> None:
        if scale not in LAMBDA_SETS:
            raise ValueError(f"MoESR has x2 and x4 experts only, not x{scale}")
        self.scale = scale
        self.device = torch.device(device)
        count = NETS_PER_EXPERT[scale]
        self.nets = {k: [sr_net_for(sd).to(self.device).eval() for sd in experts[k][:count]]
                     for k in expert_ids(scale)}
        self.ise = ise.to(self.device).eval()
        self.ken = ken.to(self.device).eval()

    @staticmethod
    def _run(nets: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
        for net in nets:
            x = net(x)
        return x

    @torch.no_grad()
    def estimate(self, lr: torch.Tensor, progress: Progress = no_progress) -> Estimate:
        """Run every hypothesis' expert, score it with ISE, and feed KEN the 85 errors."""
        bicubic = F.interpolate(lr, scale_factor=self.scale, mode="bicubic")
        hypotheses = sweep_hypotheses(self.scale)
        errors = []
        for i, h in enumerate(hypotheses):
            out = self._run(self.nets[h.expert_id], to_sector(lr, h.sector))
            delta = self.ise(from_sector(out, h.sector), bicubic)
            errors.append((delta * delta).mean())
            progress(i + 1, len(hypotheses), "expert sweep")
        errors_t = torch.stack(errors).unsqueeze(0)
        params = self.ken(errors_t).squeeze().cpu().numpy()
        return Estimate(errors=errors_t[0].cpu().numpy(), params=params)

    def prepare(self, selection: Selection) -> list[SRNet]:
        """Fresh trainable copies of the selected expert, weights turned for its sector."""
        nets = [copy.deepcopy(net).train() for net in self.nets[selection.expert_id]]
        for net in nets:
            transform_weights(net, selection.sector)
        return nets

    def kernels(self, params: np.ndarray) -> list[np.ndarray]:
        """The fine-tuning kernel at this scale (and, at ×4, the ×2 one for the middle)."""
        out = [gaussian_kernel(params, KERNEL_SIZES[self.scale], self.scale)]
        if self.scale == 4:
            out.append(gaussian_kernel(np.array([params[0] / 5, params[1] / 5, params[2]]), 13, 2))
        return out

    def finetune(
        self,
        nets: list[SRNet],
        image: np.ndarray,
        params: np.ndarray,
        config: FineTuneConfig,
        seed: int = 0,
        progress: Progress = no_progress,
    ) -> None:
        """Adapt ``nets`` to ``image`` (RGB float64 (H, W, 3) in [0, 1]) in place."""
        if config.iterations <= 0:
            return
        kernel_list = [torch.tensor(k, dtype=torch.float32, device=self.device)
                       for k in self.kernels(params)]
        optimizer = torch.optim.Adam(
            itertools.chain(*(net.parameters() for net in nets)), betas=(config.beta1, 0.999)
        )
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.max_lr, total_steps=config.iterations,
            div_factor=config.div_factor,
        )
        sampler = CropSampler(image, self.scale, config.crop_size, config.iterations, config.real)
        noise = torch.Generator().manual_seed(seed)
        small = config.crop_size // self.scale
        for i, crop in enumerate(sampler.crops()):
            big = torch.from_numpy(sampler.cut(crop.big_top, crop.big_left, config.crop_size,
                                               crop.big_flip))[None].to(self.device)
            sml = torch.from_numpy(sampler.cut(crop.small_top, crop.small_left, small,
                                               crop.small_flip))[None].to(self.device)
            optimizer.zero_grad()
            self._step(nets, big, sml, kernel_list, config, noise)
            optimizer.step()
            schedule.step()
            progress(i + 1, config.iterations, "fine-tuning")

    def _step(
        self,
        nets: list[SRNet],
        real_hr: torch.Tensor,
        real_lr: torch.Tensor,
        kernels: list[torch.Tensor],
        config: FineTuneConfig,
        noise: torch.Generator,
    ) -> None:
        """One DualSR step: forward cycle, backward cycle (and ×4 middle), masked
        interpolation prior; backpropagates the total loss."""
        s = self.scale
        lr_bicubic = F.interpolate(real_lr, scale_factor=s, mode="bicubic")
        fake_hr = self._run(nets, real_lr)
        rec_lr = downscale(fake_hr, kernels[0], s)
        fake_lr = downscale(real_hr, kernels[0], s)
        if config.real:
            fake_lr += torch.randn(fake_lr.shape, generator=noise).to(self.device) * (
                config.noise_std
            )
        fake_lr = quantize(fake_lr)
        rec_mid = nets[0](fake_lr.detach())
        rec_hr = self._run(nets[1:], rec_mid)
        loss_forward = F.l1_loss(rec_lr, shave_to(real_lr, rec_lr)) * config.cycle_weight
        loss_backward = F.l1_loss(rec_hr, shave_to(real_hr, rec_hr)) * config.cycle_weight
        if s == 4:
            mid_target = downscale(real_hr, kernels[1], 2)
            loss_backward += F.l1_loss(rec_mid, shave_to(mid_target, rec_mid)) * config.cycle_weight
        mask = (1 - torch.clamp(sobel_magnitude(lr_bicubic.detach()), 0, 1)).detach()
        loss_interp = F.l1_loss(fake_hr * mask, lr_bicubic * mask) * config.interp_weight
        (loss_backward + loss_forward + loss_interp).backward()

    @torch.no_grad()
    def apply(self, nets: Sequence[nn.Module], lr: torch.Tensor) -> torch.Tensor:
        """The final pass on the whole LR image."""
        return self._run([net.eval() for net in nets], lr)


@dataclass
class Outcome:
    """Everything one image produced."""

    sr: torch.Tensor
    estimate: Estimate
    selection: Selection
    kernel: np.ndarray
    nets: list[SRNet]
    seconds: dict[str, float]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(
    method: MoESR,
    lr: torch.Tensor,
    image: np.ndarray,
    config: FineTuneConfig,
    seed: int = 0,
    progress: Progress = no_progress,
) -> Outcome:
    """The whole per-image procedure: estimate, select, fine-tune, final pass (timed)."""
    seconds = {}
    start = time.perf_counter()
    estimate = method.estimate(lr, progress)
    _sync(method.device)
    seconds["sweep"] = time.perf_counter() - start
    selection = select_expert(estimate.params, method.scale)
    nets = method.prepare(selection)
    start = time.perf_counter()
    method.finetune(nets, image, estimate.params, config, seed, progress)
    _sync(method.device)
    seconds["finetune"] = time.perf_counter() - start
    start = time.perf_counter()
    sr = method.apply(nets, lr)
    _sync(method.device)
    seconds["final"] = time.perf_counter() - start
    kernel = method.kernels(estimate.params)[0]
    return Outcome(sr, estimate, selection, kernel, nets, seconds)
