"""Training configuration: the official ``train.py`` presets and options, resolved.

APA's ``train.py`` derives every hyperparameter from a base configuration (``--cfg``),
the dataset resolution and the GPU count, then applies overrides. This module computes
the same values (``resolve``) and holds them in :class:`TrainConfig`, which the trainer
runs and the checkpoint records. Nothing here imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Base configurations of train.py: batch (mb), minibatch-stddev group, feature-map
# multiplier, learning rate, R1 gamma, EMA half-life (kimg), EMA ramp-up, mapping depth.
# 'auto' is filled in from the resolution and GPU count. ('cifar' needs the 'orig'
# discriminator, which is not implemented.)
PRESETS: dict[str, dict[str, Any]] = {
    "auto": dict(mb=None, mbstd=None, fmaps=None, lrate=None, gamma=None, ema=None,
                 ramp=0.05, map=2),
    "stylegan2": dict(mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=10, ema=10, ramp=None,
                      map=8),
    "paper256": dict(mb=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema=20, ramp=None,
                     map=8),
    "paper512": dict(mb=64, mbstd=8, fmaps=1, lrate=0.0025, gamma=0.5, ema=20, ramp=None,
                     map=8),
    "paper1024": dict(mb=32, mbstd=4, fmaps=1, lrate=0.002, gamma=2, ema=10, ramp=None,
                      map=8),
}
AUGMENT_MODES = ("apa", "noaug", "fixed")

# The options srarena exposes (``-o apa.KEY=VALUE``), with their defaults. ``kimg`` is
# srarena's budget (the official default is 25000 kimg, weeks per dataset at 1024²).
TRAIN_OPTIONS: dict[str, Any] = {
    "kimg": 500,             # training length in thousands of real images shown to D
    "cfg": "auto",           # base configuration (train.py --cfg)
    "gpus": 1,               # the GPU count --cfg=auto and the batch split are computed for
    "batch": None,           # override the total batch (train.py --batch)
    "gamma": None,           # override R1 gamma (train.py --gamma)
    "mirror": True,          # x-flip the dataset (train.py --mirror, README's APA command)
    "aug": "apa",            # apa | noaug | fixed (train.py --aug)
    "p": None,               # the fixed pseudo-augmentation probability for aug=fixed
    "target": 0.6,           # APA's overfitting threshold (train.py --target)
    "with_dataaug": True,    # also apply ADA's augmentations (README's APA command)
    "augpipe": "bgc",        # ADA pipeline for with_dataaug (train.py --augpipe)
    "fp32": False,           # disable mixed precision (train.py --fp32)
    "resize_filter": "lanczos",  # dataset_tool.py --resize-filter: lanczos | box
    "snap": 10,              # ticks (4 kimg each) between resumable checkpoints
    # Network-size overrides (not train.py options; None = the preset's value), for
    # smoke tests and small GPUs: train.py's fixed z/w dimension, channel base and cap,
    # and mapping depth.
    "z_dim": None,
    "channel_base": None,
    "channel_max": None,
    "map": None,
}
GENERATE_OPTIONS: dict[str, Any] = {
    "truncation_psi": 1.0,   # generate.py --trunc
    "noise_mode": "const",   # generate.py --noise-mode: const | random | none
}
NOISE_MODES = ("const", "random", "none")


@dataclass
class TrainConfig:
    """Everything the training loop needs; defaults are the official loop defaults."""

    resolution: int
    G_kwargs: dict[str, Any]
    D_kwargs: dict[str, Any]
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    r1_gamma: float = 10.0
    pl_weight: float = 2.0
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing_prob: float = 0.9
    batch_size: int = 4
    batch_gpu: int = 4
    ema_kimg: float = 10.0
    ema_rampup: float | None = None
    G_reg_interval: int = 4
    D_reg_interval: int = 16
    augment_p: float = 0.0
    apa_target: float | None = None
    apa_interval: int = 4
    apa_kimg: float = 500.0
    augpipe: str | None = "bgc"
    with_dataaug: bool = False
    total_kimg: float = 25000.0
    kimg_per_tick: float = 4.0
    xflip: bool = False
    seed: int = 0
    resize_filter: str = "lanczos"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text)
        data["betas"] = tuple(data["betas"])
        return cls(**data)


def network_kwargs(resolution: int, channel_base: int, channel_max: int = 512,
                   mapping_layers: int = 2, mbstd: int = 4, num_fp16_res: int = 4,
                   conv_clamp: float | None = 256, z_dim: int = 512, w_dim: int = 512
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Generator and discriminator constructor arguments as train.py writes them."""
    common = dict(c_dim=0, img_resolution=resolution, img_channels=3)
    g_kwargs = dict(z_dim=z_dim, w_dim=w_dim, mapping_kwargs=dict(num_layers=mapping_layers),
                    synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max,
                                          num_fp16_res=num_fp16_res, conv_clamp=conv_clamp),
                    **common)
    d_kwargs = dict(block_kwargs={}, mapping_kwargs={},
                    epilogue_kwargs=dict(mbstd_group_size=mbstd), channel_base=channel_base,
                    channel_max=channel_max,
                    num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, **common)
    return g_kwargs, d_kwargs


def check_options(options: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated with ``options``; unknown keys are an error naming the known ones."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"apa: unknown options {unknown}; known: {sorted(known)}")
    return {**known, **options}


def resolve(resolution: int, options: dict[str, Any], seed: int = 0) -> TrainConfig:
    """The training configuration train.py would build for ``options`` at ``resolution``
    (keys other than :data:`TRAIN_OPTIONS`, e.g. the generation options, are ignored)."""
    opts = {**TRAIN_OPTIONS, **{k: v for k, v in options.items() if k in TRAIN_OPTIONS}}
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"apa trains at power-of-two resolutions >= 8, not {resolution}")
    gpus = int(opts["gpus"])
    if gpus < 1 or gpus & (gpus - 1):
        raise ValueError("apa: gpus must be a power of two")
    cfg = str(opts["cfg"])
    if cfg not in PRESETS:
        raise ValueError(f"apa: cfg {cfg!r}: choose one of {sorted(PRESETS)}")
    spec = dict(PRESETS[cfg])
    if cfg == "auto":
        res = resolution
        spec["mb"] = max(min(gpus * min(4096 // res, 32), 64), gpus)
        spec["mbstd"] = min(spec["mb"] // gpus, 4)
        spec["fmaps"] = 1 if res >= 512 else 0.5
        spec["lrate"] = 0.002 if res >= 1024 else 0.0025
        spec["gamma"] = 0.0002 * res**2 / spec["mb"]
        spec["ema"] = spec["mb"] * 10 / 32
    fp32 = bool(opts["fp32"])

    def override(key: str, default: int) -> int:
        value = default if opts[key] is None else int(opts[key])
        if value < 1:
            raise ValueError(f"apa: {key} must be a positive integer")
        return value

    z_dim = override("z_dim", 512)
    g_kwargs, d_kwargs = network_kwargs(
        resolution, channel_base=override("channel_base", int(spec["fmaps"] * 32768)),
        channel_max=override("channel_max", 512), mapping_layers=override("map", spec["map"]),
        mbstd=spec["mbstd"], num_fp16_res=0 if fp32 else 4, conv_clamp=None if fp32 else 256,
        z_dim=z_dim, w_dim=z_dim)
    batch_size, batch_gpu = spec["mb"], spec["mb"] // gpus
    if opts["batch"] is not None:
        batch = int(opts["batch"])
        if batch < 1 or batch % gpus:
            raise ValueError("apa: batch must be at least 1 and divisible by gpus")
        batch_size, batch_gpu = batch, batch // gpus
    if batch_gpu % min(spec["mbstd"], batch_gpu):
        raise ValueError(f"apa: the per-GPU batch {batch_gpu} must be a multiple of the "
                         f"minibatch-stddev group {spec['mbstd']}")
    gamma = spec["gamma"] if opts["gamma"] is None else float(opts["gamma"])
    if gamma < 0:
        raise ValueError("apa: gamma must be non-negative")
    kimg = float(opts["kimg"])
    if kimg <= 0:
        raise ValueError("apa: kimg must be positive")

    aug = str(opts["aug"])
    if aug not in AUGMENT_MODES:
        raise ValueError(f"apa: aug {aug!r}: choose one of {AUGMENT_MODES}")
    apa_target, augment_p = None, 0.0
    if aug == "apa":
        apa_target = float(opts["target"])
        if not 0 <= apa_target <= 1:
            raise ValueError("apa: target must be between 0 and 1")
    if aug == "fixed":
        if opts["p"] is None or not 0 <= float(opts["p"]) <= 1:
            raise ValueError("apa: aug=fixed needs p between 0 and 1")
        augment_p = float(opts["p"])
    elif opts["p"] is not None:
        raise ValueError("apa: p applies to aug=fixed only")
    with_dataaug = bool(opts["with_dataaug"])
    if with_dataaug and aug == "noaug":
        raise ValueError("apa: with_dataaug cannot be used with aug=noaug")
    if opts["resize_filter"] not in ("lanczos", "box"):
        raise ValueError("apa: resize_filter must be lanczos or box")
    return TrainConfig(
        resolution=resolution, G_kwargs=g_kwargs, D_kwargs=d_kwargs, lr=spec["lrate"],
        r1_gamma=gamma, batch_size=batch_size, batch_gpu=batch_gpu, ema_kimg=spec["ema"],
        ema_rampup=spec["ramp"], augment_p=augment_p, apa_target=apa_target,
        augpipe=None if aug == "noaug" else str(opts["augpipe"]), with_dataaug=with_dataaug,
        total_kimg=kimg, xflip=bool(opts["mirror"]), seed=int(seed),
        resize_filter=str(opts["resize_filter"]),
        extra={"cfg": cfg, "gpus": gpus, "aug": aug, "snap": int(opts["snap"])},
    )
