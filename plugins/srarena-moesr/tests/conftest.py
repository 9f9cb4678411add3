"""Shared fixtures for the MoESR plugin tests (golden files made with the official code)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from srarena_moesr.checkpoint import OFFICIAL_NAMES, filename

FIXTURES = Path(__file__).parent / "fixtures"


def _weights(scales: tuple[int, ...] = (2, 4)) -> dict[str, Path]:
    return {
        filename(s, name): FIXTURES / "checkpoints" / f"x{s}" / name
        for s in scales
        for name in OFFICIAL_NAMES
    }


def _golden(name: str) -> dict:
    with np.load(FIXTURES / f"{name}.npz") as data:
        out = {key: data[key] for key in data.files}
    if "meta" in out:
        out["meta"] = json.loads(str(out["meta"]))
    return out


@pytest.fixture(scope="session")
def moesr_fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def moesr_weights() -> Callable[..., dict[str, Path]]:
    """``moesr_weights(scales)``: fixture checkpoints (official layout, 4-feature networks)
    under srarena's file names."""
    return _weights


@pytest.fixture(scope="session")
def moesr_golden() -> Callable[[str], dict]:
    """``moesr_golden(name)``: a golden ``.npz`` as a dict, ``meta`` decoded."""
    return _golden


@pytest.fixture(scope="session")
def moesr_input() -> np.ndarray:
    """The 41x50 golden input as the engine hands it: RGB float32 in [0, 1]."""
    return np.asarray(Image.open(FIXTURES / "input.png").convert("RGB"), np.float32) / 255.0


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The 4-feature test networks gain nothing from threads, and on a busy 2-core machine
    thread spinning slows them tenfold; results are identical (checked with 1 and 2)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
