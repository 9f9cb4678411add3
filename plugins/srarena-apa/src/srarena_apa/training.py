"""APA training: StyleGAN2-ADA's losses and loop with adaptive pseudo augmentation.

Per iteration, as the official ``training_loop.py``: the generator step (non-saturating
loss), every ``G_reg_interval`` iterations path-length regularisation, the discriminator
step and every ``D_reg_interval`` iterations lazy R1; then the generator EMA. APA
replaces each real image the discriminator sees by one of the generator's latest fakes
with probability ``p``; every ``apa_interval`` iterations ``p`` moves by
``sign(mean(sign(D(real))) - target) * batch * interval / (apa_kimg * 1000)`` (not below
0). Random numbers are drawn in the official order, so with the same initial state a
run on CPU reproduces the official loop. The state can be saved and resumed exactly.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from srarena.kit import to_uint8

from .arch.augment import AugmentPipe
from .arch.networks import Discriminator, Generator
from .config import TrainConfig

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")


def prepare_images(images: Sequence[np.ndarray], size: int, resize_filter: str = "lanczos"
                   ) -> np.ndarray:
    """Float RGB [0, 1] images -> uint8 (N, 3, size, size), resized as ``dataset_tool.py``
    does with ``--width --height`` (PIL, aspect not kept, unchanged if already that size)."""
    from PIL import Image

    resample = {"lanczos": Image.Resampling.LANCZOS, "box": Image.Resampling.BOX}[resize_filter]
    out = np.empty((len(images), 3, size, size), dtype=np.uint8)
    for i, image in enumerate(images):
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"apa trains on RGB images, got shape {image.shape}")
        pixels = to_uint8(image)
        if pixels.shape[:2] != (size, size):
            pixels = np.asarray(Image.fromarray(pixels).resize((size, size), resample))
        out[i] = pixels.transpose(2, 0, 1)
    return out


class InfiniteSampler:
    """The official sampler's index stream: a seeded shuffle, then endless passes in
    which each visited position swaps with one up to half the dataset behind it."""

    def __init__(self, size: int, seed: int, window_size: float = 0.5) -> None:
        self.rnd = np.random.RandomState(seed)
        self.order = np.arange(size)
        self.rnd.shuffle(self.order)
        self.window = int(np.rint(size * window_size))
        self.idx = 0

    def take(self, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.int64)
        size = self.order.size
        for k in range(count):
            i = self.idx % size
            out[k] = self.order[i]
            if self.window >= 2:
                j = (i - self.rnd.randint(self.window)) % size
                self.order[i], self.order[j] = self.order[j], self.order[i]
            self.idx += 1
        return out

    def state_dict(self) -> dict[str, Any]:
        name, keys, pos, has_gauss, gauss = self.rnd.get_state()
        return {"order": torch.from_numpy(self.order.copy()), "idx": self.idx,
                "rnd_keys": torch.from_numpy(keys.astype(np.int64)), "rnd_pos": int(pos),
                "rnd_has_gauss": int(has_gauss), "rnd_gauss": float(gauss)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = state["order"].numpy().copy()
        self.idx = int(state["idx"])
        self.rnd.set_state(("MT19937", state["rnd_keys"].numpy().astype(np.uint32),
                            state["rnd_pos"], state["rnd_has_gauss"], state["rnd_gauss"]))


class ApaLoss:
    """StyleGAN2's losses and regularisers with APA's pseudo augmentation of real images."""

    def __init__(self, G: Generator, D: Discriminator, augment_pipe: AugmentPipe | None,
                 config: TrainConfig, device: torch.device, force_fp32: bool = False) -> None:
        self.G, self.D, self.augment_pipe = G, D, augment_pipe
        self.config = config
        self.device = device
        self.force_fp32 = force_fp32
        self.pl_mean = torch.zeros([], device=device)
        self.pseudo_data: torch.Tensor | None = None
        # sum and count of sign(D(real)) since the last APA update (kept on the device)
        self.sign_sum = torch.zeros([], dtype=torch.float64, device=device)
        self.sign_count = 0
        self.stats: dict[str, torch.Tensor] = {}

    def run_G(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self.G.mapping(z, None)
        if self.config.style_mixing_prob > 0:
            cutoff = torch.empty([], dtype=torch.int64, device=ws.device).random_(1, ws.shape[1])
            cutoff = torch.where(torch.rand([], device=ws.device) < self.config.style_mixing_prob,
                                 cutoff, torch.full_like(cutoff, ws.shape[1]))
            ws[:, cutoff:] = self.G.mapping(torch.randn_like(z), None,
                                            skip_w_avg_update=True)[:, cutoff:]
        return self.G.synthesis(ws, force_fp32=self.force_fp32), ws

    def run_D(self, img: torch.Tensor) -> torch.Tensor:
        if self.config.with_dataaug and self.augment_pipe is not None:
            img = self.augment_pipe(img)
        return self.D(img, None, force_fp32=self.force_fp32)

    def pseudo_augment(self, real: torch.Tensor) -> torch.Tensor:
        """Replace each real image by the matching latest fake with probability ``p``."""
        assert self.augment_pipe is not None
        n = real.shape[0]
        flag = torch.ones([n, 1, 1, 1], device=self.device)
        flag = torch.where(torch.rand([n, 1, 1, 1], device=self.device) < self.augment_pipe.p,
                           flag, torch.zeros_like(flag))
        if torch.allclose(flag, torch.zeros_like(flag)):
            return real
        assert self.pseudo_data is not None, "the generator step must run before D's"
        return self.pseudo_data * flag + real * (1 - flag)

    def accumulate_gradients(self, phase: str, real: torch.Tensor, gen_z: torch.Tensor,
                             gain: float) -> None:
        """Backpropagate one phase's loss (scaled by ``gain``) into the current grads."""
        cfg = self.config
        stats = self.stats
        if phase == "Gmain":
            gen_img, _ = self.run_G(gen_z)
            self.pseudo_data = gen_img.detach()
            loss = F.softplus(-self.run_D(gen_img))
            loss.mean().mul(gain).backward()
            stats["G_loss"] = loss.detach().mean()
        elif phase == "Greg" and cfg.pl_weight != 0:
            n = gen_z.shape[0] // cfg.pl_batch_shrink
            gen_img, gen_ws = self.run_G(gen_z[:n])
            pl_noise = torch.randn_like(gen_img) / math.sqrt(gen_img.shape[2] * gen_img.shape[3])
            pl_grads = torch.autograd.grad(outputs=[(gen_img * pl_noise).sum()],
                                           inputs=[gen_ws], create_graph=True,
                                           only_inputs=True)[0]
            pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
            pl_mean = self.pl_mean.lerp(pl_lengths.mean(), cfg.pl_decay)
            self.pl_mean.copy_(pl_mean.detach())
            loss_pl = (pl_lengths - pl_mean).square() * cfg.pl_weight
            (gen_img[:, 0, 0, 0] * 0 + loss_pl).mean().mul(gain).backward()
            stats["pl_penalty"] = loss_pl.detach().mean() / cfg.pl_weight
        elif phase in ("Dmain", "Dreg"):
            do_main = phase == "Dmain"
            do_r1 = phase == "Dreg" and cfg.r1_gamma != 0
            if not (do_main or do_r1):
                return
            loss_dgen: Any = 0
            if do_main:
                gen_img, _ = self.run_G(gen_z)
                loss_dgen = F.softplus(self.run_D(gen_img))
                loss_dgen.mean().mul(gain).backward()
            real_tmp = self.pseudo_augment(real) if self.augment_pipe is not None else real
            real_tmp = real_tmp.detach().requires_grad_(do_r1)
            real_logits = self.run_D(real_tmp)
            signs = real_logits.detach().sign().flatten().to(torch.float32)
            self.sign_sum += signs.sum().to(torch.float64)
            self.sign_count += signs.numel()
            loss_dreal: Any = 0
            loss_r1: Any = 0
            if do_main:
                loss_dreal = F.softplus(-real_logits)
                stats["D_loss"] = (loss_dgen + loss_dreal).detach().mean()
            if do_r1:
                r1_grads = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_tmp],
                                               create_graph=True, only_inputs=True)[0]
                r1_penalty = r1_grads.square().sum([1, 2, 3])
                loss_r1 = r1_penalty * (cfg.r1_gamma / 2)
                stats["r1_penalty"] = r1_penalty.detach().mean()
            (real_logits * 0 + loss_dreal + loss_r1).mean().mul(gain).backward()
        elif phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")


class Trainer:
    """The training state (networks, optimisers, APA's p, sampler, counters) and loop."""

    def __init__(self, config: TrainConfig, images: np.ndarray, device: str | torch.device,
                 force_fp32: bool | None = None) -> None:
        self.config = config
        self.device = torch.device(device)
        if force_fp32 is None:
            force_fp32 = self.device.type != "cuda"
        self.images = images
        if images.ndim != 4 or images.shape[1:] != (3, config.resolution, config.resolution):
            raise ValueError(f"images must be (N, 3, {config.resolution}, "
                             f"{config.resolution}) uint8, got {images.shape}")
        count = images.shape[0] * (2 if config.xflip else 1)
        self.sampler = InfiniteSampler(count, seed=config.seed)
        # As the official loop: seed, one draw (its DataLoader's base seed), then build.
        torch.manual_seed(config.seed)
        torch.empty((), dtype=torch.int64).random_()
        self.G = Generator(**copy.deepcopy(config.G_kwargs)).train().requires_grad_(False)
        self.G.to(self.device)
        self.D = Discriminator(**copy.deepcopy(config.D_kwargs)).train().requires_grad_(False)
        self.D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.augment_pipe: AugmentPipe | None = None
        if config.augpipe is not None and (config.augment_p > 0 or config.apa_target is not None):
            self.augment_pipe = AugmentPipe.pipeline(config.augpipe).train().to(self.device)
            self.augment_pipe.requires_grad_(False)
            self.augment_pipe.p.copy_(torch.as_tensor(config.augment_p))
        self.loss = ApaLoss(self.G, self.D, self.augment_pipe, config, self.device, force_fp32)
        self.phases: list[tuple[str, torch.nn.Module, torch.optim.Optimizer, int]] = []
        for name, module, interval in (("G", self.G, config.G_reg_interval),
                                       ("D", self.D, config.D_reg_interval)):
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=config.lr * ratio,
                                   betas=tuple(b**ratio for b in config.betas), eps=config.eps)
            self.phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
        torch.manual_seed(config.seed)
        self.cur_nimg = 0
        self.batch_idx = 0
        self.cur_tick = 0
        self.tick_start_nimg = 0
        self.lambda_r = 0.0

    @property
    def total_nimg(self) -> int:
        return math.ceil(self.config.total_kimg * 1000)

    @property
    def done(self) -> bool:
        return self.cur_nimg >= self.config.total_kimg * 1000

    @property
    def p(self) -> float:
        return float(self.augment_pipe.p) if self.augment_pipe is not None else 0.0

    def _real_batch(self) -> torch.Tensor:
        n = self.images.shape[0]
        idx = self.sampler.take(self.config.batch_size)
        batch = np.stack([self.images[i % n][:, :, ::-1] if i >= n else self.images[i]
                          for i in idx])
        return torch.from_numpy(batch).to(self.device).to(torch.float32) / 127.5 - 1

    def step(self) -> None:
        """One training iteration over ``batch_size`` real images."""
        cfg = self.config
        real = self._real_batch().split(cfg.batch_gpu)
        all_z = torch.randn([len(self.phases) * cfg.batch_size, self.G.z_dim], device=self.device)
        phase_z = [z.split(cfg.batch_gpu) for z in all_z.split(cfg.batch_size)]
        for (name, module, opt, interval), zs in zip(self.phases, phase_z, strict=True):
            if self.batch_idx % interval != 0:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            for real_img, gen_z in zip(real, zs, strict=True):
                self.loss.accumulate_gradients(name, real_img, gen_z, interval)
            module.requires_grad_(False)
            for param in module.parameters():
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
            opt.step()
        self._update_ema()
        self.cur_nimg += cfg.batch_size
        self.batch_idx += 1
        if self.augment_pipe is not None and cfg.apa_target is not None \
                and self.batch_idx % cfg.apa_interval == 0:
            self._adjust_p()

    def stats(self) -> dict[str, float]:
        """The latest losses and penalties, APA's p and the last overfitting estimate."""
        out = {name: float(value) for name, value in self.loss.stats.items()}
        return {**out, "p": self.p, "lambda_r": self.lambda_r}

    @torch.no_grad()
    def _update_ema(self) -> None:
        cfg = self.config
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch_size / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    def _adjust_p(self) -> None:
        """APA's heuristic: move p towards keeping mean(sign(D(real))) at the target."""
        cfg = self.config
        assert self.augment_pipe is not None and cfg.apa_target is not None
        self.lambda_r = float(self.loss.sign_sum) / max(self.loss.sign_count, 1)
        self.loss.sign_sum.zero_()
        self.loss.sign_count = 0
        adjust = np.sign(self.lambda_r - cfg.apa_target) * (cfg.batch_size * cfg.apa_interval) \
            / (cfg.apa_kimg * 1000)
        p = self.augment_pipe.p
        p.copy_((p + adjust).max(torch.zeros([], device=p.device)))

    def run(self, on_progress: Callable[[int, int], None] | None = None,
            on_tick: Callable[[Trainer], None] | None = None) -> None:
        """Train until ``total_kimg``. Ticks end, as in the official loop, after the first
        iteration, then every ``kimg_per_tick`` and at the end; ``on_tick`` runs at each
        with ``cur_tick`` the ending tick's number."""
        last_report = 0.0
        while not self.done:
            self.step()
            if on_progress is not None and (time.monotonic() - last_report > 1 or self.done):
                on_progress(self.cur_nimg, self.total_nimg)
                last_report = time.monotonic()
            tick_end = self.tick_start_nimg + self.config.kimg_per_tick * 1000
            if self.done or self.cur_tick == 0 or self.cur_nimg >= tick_end:
                if on_tick is not None:
                    on_tick(self)
                self.cur_tick += 1
                self.tick_start_nimg = self.cur_nimg

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where training stopped."""
        state: dict[str, Any] = {
            "config": self.config.to_json(),
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt": {name: opt.state_dict() for name, _, opt, interval in self.phases
                    if interval == 1},
            "p": torch.tensor(self.p), "pl_mean": self.loss.pl_mean.clone(),
            "sign_sum": self.loss.sign_sum.clone(), "sign_count": self.loss.sign_count,
            "lambda_r": self.lambda_r,
            "counters": torch.tensor([self.cur_nimg, self.batch_idx, self.cur_tick,
                                      self.tick_start_nimg]),
            "sampler": self.sampler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
        }
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config"] != self.config.to_json():
            raise ValueError("the training state was written for another configuration")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        for name, _, opt, interval in self.phases:
            if interval == 1:
                opt.load_state_dict(state["opt"][name])
        if self.augment_pipe is not None:
            self.augment_pipe.p.copy_(state["p"])
        self.loss.pl_mean.copy_(state["pl_mean"])
        self.loss.sign_sum.copy_(state["sign_sum"])
        self.loss.sign_count = int(state["sign_count"])
        self.lambda_r = float(state["lambda_r"])
        self.cur_nimg, self.batch_idx, self.cur_tick, self.tick_start_nimg = (
            int(v) for v in state["counters"])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)
