"""Checkpoint files: the official FastGAN layout, and the LPIPS VGG16 trunk file.

Official training writes ``all_<iter>.pth`` = ``{'g', 'd', 'g_ema', 'opt_g', 'opt_d'}``: the
live generator and discriminator state dicts (keys prefixed ``module.`` by DataParallel), the
EMA generator parameters as a plain list in ``Generator.parameters()`` order and the two Adam
states; ``<iter>.pth`` = ``{'g', 'd'}`` holds the EMA parameters with the live buffers, which
is what the official ``eval.py`` generates from. srarena writes ``all_<iter>.pth`` in the same
layout plus a ``'srarena'`` entry (configuration and RNG states, for exact resumption) that
official code ignores. Everything is loaded with ``weights_only=True``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srarena.kit import diff_shapes, load_state, sha256_file, shapes

PREFIX = "module."
ALL_RE = re.compile(r"^all_(\d+)\.pth$")
EMA_RE = re.compile(r"^(\d+)\.pth$")

# torchvision VGG16 ``features`` indices of the 13 convolutions and their (out, in) channels
VGG_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128),
             12: (256, 256), 14: (256, 256), 17: (512, 256), 19: (512, 512), 21: (512, 512),
             24: (512, 512), 26: (512, 512), 28: (512, 512)}
VGG_FILENAME = "vgg16-397923af.pth"
VGG_SHA256_PREFIX = "397923af"


def strip_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """Drop DataParallel's leading ``module.`` from every key that has it."""
    return {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in state.items()}


def add_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    return {PREFIX + k: v for k, v in state.items()}


def iteration_of(path: Path) -> int | None:
    """The iteration in an ``all_<n>.pth`` or ``<n>.pth`` file name."""
    match = ALL_RE.match(path.name) or EMA_RE.match(path.name)
    return int(match.group(1)) if match else None


def latest(folder: Path, pattern: re.Pattern[str] = ALL_RE) -> Path | None:
    """The file of ``folder`` matching ``pattern`` with the highest iteration."""
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := pattern.match(p.name))]
    return max(found)[1] if found else None


def find(checkpoint: Path) -> Path:
    """The file to generate from: ``checkpoint`` itself, or its newest ``all_``/``<n>.pth``."""
    if checkpoint.is_file():
        return checkpoint
    chosen = latest(checkpoint) or latest(checkpoint, EMA_RE)
    if chosen is None:
        raise FileNotFoundError(f"no FastGAN checkpoint (all_<iter>.pth or <iter>.pth) in "
                                f"{checkpoint}")
    return chosen


def generator_config(state: Mapping[str, Any]) -> dict[str, int]:
    """``ngf``, ``nz`` and ``im_size`` of a generator state dict (keys without prefix)."""
    weight = state["init.init.0.weight_orig"]  # ConvTranspose2d(nz, 32 * ngf, 4)
    if weight.shape[1] % 32:
        raise ValueError(f"init layer has {weight.shape[1]} channels, not a multiple of 32")
    im_size = 1024 if "feat_1024.1.weight_orig" in state else (
        512 if "feat_512.1.weight_orig" in state else 256)
    return {"ngf": weight.shape[1] // 32, "nz": weight.shape[0], "im_size": im_size}


def load_generator(path: Path, ema: bool = True) -> tuple[Any, dict[str, Any]]:
    """The EMA generator of an official or srarena checkpoint file, loaded strictly.

    From ``all_<iter>.pth`` the ``g`` state is loaded and its parameters replaced by the
    ``g_ema`` list, which gives exactly the ``g`` of the official ``<iter>.pth``. With
    ``ema=False`` the trained (live) ``g`` of ``all_<iter>.pth`` is kept; an ``<iter>.pth``
    holds no live generator (its ``g`` already has the EMA parameters), so it is refused.
    """
    import torch

    from .arch import Generator

    data = load_state(path)
    if not isinstance(data, dict) or "g" not in data:
        raise ValueError(f"{path} is not a FastGAN checkpoint (no 'g' entry)")
    state = strip_prefix(data["g"])
    extra = data.get("srarena")
    extra = extra if isinstance(extra, dict) else {}  # what save_generator adds
    config = generator_config(state)
    generator = Generator(ngf=config["ngf"], nz=config["nz"], im_size=config["im_size"])
    generator.load_state_dict(state, strict=True)
    ema_params = data.get("g_ema")
    if not ema:
        if ema_params is None:
            raise ValueError(f"{path} holds only the EMA generator (an <iter>.pth: its 'g' has "
                             "the EMA parameters); the live generator is in all_<iter>.pth")
        ema_params = None
    if ema_params is not None:
        params = list(generator.parameters())
        if len(ema_params) != len(params):
            raise ValueError(f"{path}: g_ema has {len(ema_params)} tensors, the generator "
                             f"{len(params)} parameters")
        with torch.no_grad():
            for param, value in zip(params, ema_params, strict=True):
                if tuple(value.shape) != tuple(param.shape):
                    raise ValueError(f"{path}: g_ema shape {tuple(value.shape)} does not fit "
                                     f"{tuple(param.shape)}")
                param.copy_(value)
    if ema_params is not None:
        ema_used = True
    elif "ema" in extra:  # written by save_generator
        ema_used = bool(extra["ema"])
    else:  # an official <iter>.pth: its 'g' holds the EMA parameters; else the live g
        ema_used = "g_ema" not in data
    iteration = extra["iteration"] if "iteration" in extra else iteration_of(path)
    info = {"iteration": iteration, "ema": ema_used, **config, "fit": extra.get("config", {})}
    return generator, info


def save_generator(path: Path, generator: Any, info: dict[str, Any]) -> None:
    """Write ``generator`` as the official ``<iter>.pth`` layout (``'g'`` with DataParallel's
    prefix, what the official eval.py loads) plus a ``'srarena'`` entry with ``info``."""
    import torch

    state = {k: v.detach().cpu() for k, v in generator.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"g": add_prefix(state), "srarena": info}, tmp)
    tmp.replace(path)


def validate_generator_file(filename: str, path: Path) -> list[str]:
    """WeightSet validator of ``fastgan-checkpoint``: an official generator checkpoint that
    loads strictly into srarena's Generator (keys, shapes, g_ema length)."""
    try:
        load_generator(path)
    except Exception as exc:  # noqa: BLE001 - every unreadable or foreign file is a problem
        return [f"not a FastGAN generator checkpoint: {type(exc).__name__}: {exc}"]
    return []


def vgg_shapes() -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for index, (cout, cin) in VGG_CONVS.items():
        out[f"features.{index}.weight"] = (cout, cin, 3, 3)
        out[f"features.{index}.bias"] = (cout,)
    return out


def validate(filename: str, path: Path) -> list[str]:
    """WeightSet validator for the VGG16 trunk: torchvision's hash prefix, then the shapes."""
    problems = []
    digest = sha256_file(path)
    if not digest.startswith(VGG_SHA256_PREFIX):
        problems.append(f"{filename}: sha256 {digest[:16]}… does not start with "
                        f"{VGG_SHA256_PREFIX} (torchvision's check for {VGG_FILENAME})")
    try:
        state = load_state(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a problem to report
        return problems + [f"cannot read {path.name}: {type(exc).__name__}: {exc}"]
    found = {k: v for k, v in shapes(state).items() if k.startswith("features.")}
    return problems + diff_shapes(vgg_shapes(), found)
