"""Fixtures of the spandrel plugin tests: tiny randomly initialised models of spandrel's own
architecture classes, saved in their official layouts, an isolated weights cache, the CLI.

Nothing is downloaded: every checkpoint is made here, small enough that the whole plugin's
tests run in well under a minute on a CPU.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty SRARENA_HOME (weights cache and manifest), offline."""
    home = tmp_path_factory.mktemp("srarena-home")
    monkeypatch.setenv("SRARENA_HOME", str(home))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    monkeypatch.setenv("SRARENA_SPANDREL_CHECK_PRECISION", "0")  # slow on a CPU; one test runs it
    return home


_installed = False


@dataclass
class Result:
    exit_code: int
    output: str


def cli(*args: Any) -> Result:
    """Run ``srarena ARGS...`` in this process, with the registry rebuilt first (so that it
    sees the models added by an earlier command, as a new process would)."""
    global _installed
    from typer.testing import CliRunner

    from srarena.cli import _install_commands, app
    from srarena.plugins import get_registry

    if not _installed:
        _install_commands()
        _installed = True
    get_registry(refresh=True)
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    text = result.output
    with contextlib.suppress(ValueError, AttributeError):  # click < 8.2 mixes stderr in
        text += result.stderr
    return Result(result.exit_code, text)


# --- images ---------------------------------------------------------------------------------


def make_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An 8-bit RGB image with smooth structure, edges and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(4 * (x + y))], -1)
    image = 0.5 + 0.3 * base + 0.08 * rng.standard_normal((height, width, 3))
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# --- models ---------------------------------------------------------------------------------


def _realesrgan_layout(state: dict[str, Any]) -> dict[str, Any]:
    """spandrel's RRDBNet keys (the original ESRGAN layout, ``model.N``) renamed to
    Real-ESRGAN's (``conv_first``, ``body.N.rdbJ.convK``, ``conv_up1``, …)."""
    layers = sorted({int(k.split(".")[1]) for k in state
                     if k.startswith("model.") and not k.startswith("model.1.")})
    first, *ups, hr, last = layers
    names = {first: "conv_first", hr: "conv_hr", last: "conv_last",
             **{n: f"conv_up{i + 1}" for i, n in enumerate(ups)}}
    blocks = max(int(k.split(".")[3]) for k in state if k.startswith("model.1.sub."))
    out = {}
    for key, value in state.items():
        found = re.match(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$", key)
        if found:
            i, j, k, kind = found.groups()
            out[f"body.{i}.rdb{j}.conv{k}.{kind}"] = value
        elif key.startswith(f"model.1.sub.{blocks}."):
            out["conv_body." + key.rsplit(".", 1)[1]] = value
        else:
            layer, kind = key.split(".")[1], key.split(".")[-1]
            out[f"{names[int(layer)]}.{kind}"] = value
    return out


@dataclass(frozen=True)
class Arch:
    """A tiny model of one architecture, saved as its official files are."""

    id: str
    architecture: str  # spandrel's architecture id
    scale: int
    suffix: str
    build: Callable[[], Any]
    wrap: str | None = None  # the official top-level key ("params_ema", "params")
    layout: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def write(self, folder: Path, seed: int = 0) -> Path:
        import torch

        torch.manual_seed(seed)
        model = self.build()
        with torch.no_grad():  # spread the weights a little: random init gives flat outputs
            for param in model.parameters():
                param.add_(0.02 * torch.randn_like(param))
        state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        if self.layout is not None:
            state = self.layout(state)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.id}-{seed}{self.suffix}"
        if self.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(path))
        else:
            torch.save({self.wrap: state} if self.wrap else state, path)
        return path


def _esrgan(in_nc: int = 3, scale: int = 4, shuffle: int | None = None) -> Any:
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(in_nc=in_nc, out_nc=3, num_filters=8, num_blocks=1, scale=scale,
                  shuffle_factor=shuffle)


def _compact(scale: int = 4, in_ch: int = 3, out_ch: int = 3) -> Any:
    from spandrel.architectures.Compact import Compact

    return Compact(num_in_ch=in_ch, num_out_ch=out_ch, num_feat=8, num_conv=2, upscale=scale)


def _swinir() -> Any:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(img_size=16, in_chans=3, embed_dim=12, depths=[1], num_heads=[2],
                  window_size=8, mlp_ratio=2.0, upscale=2, upsampler="pixelshuffle",
                  resi_connection="1conv")


def _hat() -> Any:
    from spandrel.architectures.HAT import HAT

    return HAT(img_size=16, in_chans=3, embed_dim=12, depths=[1], num_heads=[2], window_size=4,
               compress_ratio=3, squeeze_factor=4, mlp_ratio=2.0, upscale=2, num_feat=8)


def _span() -> Any:
    from spandrel.architectures.SPAN import SPAN

    return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4)


def _dat() -> Any:
    from spandrel.architectures.DAT import DAT

    return DAT(img_size=16, in_chans=3, embed_dim=16, split_size=[2, 4], depth=[2],
               num_heads=[2], expansion_factor=2.0, upscale=2)


def _omnisr() -> Any:
    from spandrel.architectures.OmniSR import OmniSR

    return OmniSR(num_in_ch=3, num_out_ch=3, num_feat=8, block_num=1, window_size=4,
                  res_num=1, up_scale=2)


ARCHS = {arch.id: arch for arch in (
    Arch("esrgan", "ESRGAN", 4, ".pth", _esrgan),  # the original ESRGAN layout, unwrapped
    Arch("realesrgan-x2plus", "ESRGAN", 2, ".pth", lambda: _esrgan(12, 4, 2),
         wrap="params_ema", layout=_realesrgan_layout),
    Arch("compact", "Compact", 4, ".pth", _compact, wrap="params"),
    Arch("swinir", "SwinIR", 2, ".safetensors", _swinir),
    Arch("hat", "HAT", 2, ".pth", _hat, wrap="params_ema"),
    Arch("span", "SPAN", 4, ".safetensors", _span),
    Arch("dat", "DAT", 2, ".pth", _dat, wrap="params"),
    Arch("omnisr", "OmniSR", 2, ".safetensors", _omnisr),
)}

COMPACT_X2 = Arch("compact-x2", "Compact", 2, ".pth", lambda: _compact(2), wrap="params")
GREY_COMPACT = Arch("grey-compact", "Compact", 2, ".pth", lambda: _compact(2, 1, 1))
COMPACT_X1 = Arch("compact-x1", "Compact", 1, ".pth", lambda: _compact(1), wrap="params")


def _scunet() -> Any:
    from spandrel.architectures.SCUNet import SCUNet

    return SCUNet(in_nc=3, config=[1, 1, 1, 1, 1, 1, 1], dim=32)


SCUNET = Arch("scunet", "SCUNet", 1, ".pth", _scunet)


def seeded_tensor(key: str, shape: list[int], rng: np.random.Generator, gain: float) -> np.ndarray:
    """One parameter of a golden test's checkpoint: uniform values from ``rng``, scaled so
    that the tiny network's output stays in range (fan-in scaling for weights, near 1 for
    norm weights, small for biases and position tables)."""
    uniform = rng.random(shape) * 2.0 - 1.0
    if "relative_position_bias_table" in key or "pos_embed" in key:
        scale, offset = 0.02, 0.0
    elif len(shape) == 1:
        scale, offset = (0.1, 1.0) if "norm" in key and key.endswith("weight") else (0.02, 0.0)
    else:
        scale, offset = gain * float(np.sqrt(3.0 / max(1, int(np.prod(shape[1:]))))), 0.0
    return (uniform * scale + offset).astype(np.float32)


def seeded_state(layout: list[list[Any]], seed: int, gain: float = 1.0,
                 offsets: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """The parameters of a golden test's checkpoint (``[key, shape]`` in the checkpoint's
    order) from ``seed``, plus ``offsets`` on named keys. The fixture generator made its
    checkpoints with this function, so the test rebuilds the very tensors it ran."""
    rng = np.random.default_rng(seed)
    state = {key: seeded_tensor(key, list(shape), rng, gain) for key, shape in layout}
    for key, offset in (offsets or {}).items():
        state[key] = (state[key] + np.float32(offset)).astype(np.float32)
    return state


def direct(path: Path, image: np.ndarray) -> np.ndarray:
    """Direct spandrel inference, as its README shows: ``ModelLoader().load_from_file``, then
    ``descriptor(tensor)`` on the [0, 1] float32 NCHW image, then 8 bits."""
    import spandrel
    import torch

    from srarena.kit import from_uint8, to_uint8

    descriptor = spandrel.ModelLoader().load_from_file(path).eval()
    tensor = torch.from_numpy(np.ascontiguousarray(from_uint8(image).transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        out = descriptor(tensor)
    return to_uint8(out[0].permute(1, 2, 0).numpy())


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """Every tiny model of :data:`ARCHS`, written once per session."""
    folder = tmp_path_factory.mktemp("models")
    return {name: arch.write(folder) for name, arch in ARCHS.items()}


@pytest.fixture(scope="session")
def sp():
    """The helpers above, for the test modules (which cannot import conftest by name under
    pytest's importlib import mode)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        cli=cli, make_image=make_image, write_png=write_png, read_png=read_png, direct=direct,
        ARCHS=ARCHS, COMPACT_X2=COMPACT_X2, GREY_COMPACT=GREY_COMPACT, COMPACT_X1=COMPACT_X1,
        SCUNET=SCUNET, seeded_state=seeded_state,
    )
