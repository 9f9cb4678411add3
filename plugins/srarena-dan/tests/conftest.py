"""Fixtures of the DAN plugin tests: golden data made with the official code (see README).

Each ``fixtures/golden_<version>_s<setting>_x<scale>.npz`` holds the official run of one
configuration with reduced width and depth (nf 16; DANv1 nb 2; DANv2 nb 2, ng 2) and the
official 4 loops: the key list and shapes of the official state dict, the three buffers,
the seed recipe of the weights (below), the 8-bit LR input, the official SR of the last
loop (float, before clamping), the PNG that the official ``inference.py`` wrote, the codes
of all loops and (DANv2) the estimated kernels. Two checkpoints are stored as the official
code read them (``fixtures/checkpoints``); the others are rebuilt here from the recipe,
which the tests check reproduces the stored ones bit for bit.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


class Golden:
    """One golden configuration: its data, its weights, and how to build srarena's side."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data = np.load(FIXTURES / f"golden_{name}.npz")
        self.version = name[:2]
        setting, scale, _, _, loop, nf, nb, ng = (int(x) for x in self.data["config"])
        self.setting, self.scale = setting, scale
        self.arch = {"nf": nf, "nb": nb, "ng": ng, "loop": loop}

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    @property
    def variant(self) -> Any:
        from srarena_dan.config import variant

        return dataclasses.replace(variant(self.version, self.setting, self.scale), **self.arch)

    @property
    def checkpoint_name(self) -> str:
        return f"dan{self.version}_x{self.scale}_setting{self.setting}.pth"

    @property
    def lr(self) -> np.ndarray:
        """The input as srarena hands it: RGB float32 in [0, 1]."""
        return self.data["lr"].astype(np.float32) / np.float32(255.0)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {str(k): tuple(int(x) for x in self.data[f"shape:{k}"]) for k in self.data["keys"]}

    def state(self) -> dict[str, Any]:
        """The seeded weights the official run used (numpy RandomState, stable by design)."""
        import torch

        gain, bias = float(self.data["gain"]), float(self.data["bias"])
        seed = int(self.data["seed"])
        out: dict[str, np.ndarray] = {}
        for key, shape in self.shapes().items():
            if key in ("encoder", "init_kernel", "init_ker_map"):
                out[key] = np.asarray(self.data[key], dtype=np.float32)
                continue
            rng = np.random.RandomState((seed + zlib.crc32(key.encode())) % 2**32)
            value = rng.standard_normal(shape).astype(np.float32)
            if len(shape) > 1:
                value *= np.float32(gain / np.sqrt(np.prod(shape[1:])))
            else:
                value *= np.float32(bias)
            out[key] = value
        last = [k for k in out if k.startswith("Restorer.upscale.") and k.endswith(".bias")][-1]
        out[last] = out[last] + np.float32(float(self.data["offset"]))
        return {key: torch.from_numpy(value) for key, value in out.items()}

    def pca(self) -> Any:
        import torch

        return torch.from_numpy(np.asarray(self.data["encoder"][0], dtype=np.float32))

    def write(self, folder: Path, state: dict[str, Any] | None = None) -> dict[str, Path]:
        """Checkpoint and PCA file under their official names; returns ``Context.weights``."""
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        ckpt = folder / self.checkpoint_name
        torch.save(self.state() if state is None else state, ckpt)
        pca = folder / self.variant.pca_file
        torch.save(self.pca(), pca)
        return {ckpt.name: ckpt, pca.name: pca}

    def upscaler(self, weights: dict[str, Path], device: str = "cpu", **options: Any) -> Any:
        """srarena's DAN upscaler for this configuration with the reduced network."""
        from srarena_dan.plugin import SPECS, upscaler_name
        from srarena_dan.upscaler import DANUpscaler

        from srarena.components import Context

        spec = next(s for s in SPECS if s.name == upscaler_name(self.version, self.setting))
        options = {**spec.options, **self.arch, **options}
        context = Context(device=device, weights=weights, options=options)
        return DANUpscaler(spec, self.scale, context)


@pytest.fixture(scope="session")
def golden():
    """``golden(name)``: the :class:`Golden` configuration of that name."""
    cache: dict[str, Golden] = {}
    return lambda name: cache.setdefault(name, Golden(name))


@pytest.fixture(scope="session")
def official_shapes() -> dict[str, dict[str, list[int]]]:
    """Key -> shape of every official full-size configuration, from the official code."""
    with gzip.open(FIXTURES / "official_shapes.json.gz", "rt") as handle:
        return json.load(handle)


@pytest.fixture(autouse=True)
def one_thread():
    """The reduced networks are tiny: one thread is fastest and immune to a busy machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
