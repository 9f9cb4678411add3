"""Shared fixtures of the APA tests: fixture paths, golden files, the tiny networks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the APA tests need torch")

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT = FIXTURES / "network-snapshot-000000.pkl"


def golden(name: str) -> dict[str, np.ndarray]:
    """A golden ``.npz`` of the official code's outputs as a dict of arrays."""
    with np.load(FIXTURES / f"golden_{name}.npz") as data:
        return {key: data[key] for key in data.files}


def tiny_kwargs(fp16: int = 0, clamp: float | None = 256, mbstd: int = 4, res: int = 32):
    """The fixtures' network size: z/w 32, channel base 128, channels at most 16."""
    from srarena_apa.config import network_kwargs

    return network_kwargs(res, channel_base=128, channel_max=16, mapping_layers=2,
                          mbstd=mbstd, num_fp16_res=fp16, conv_clamp=clamp, z_dim=32, w_dim=32)


@pytest.fixture(autouse=True)
def one_thread():
    """One CPU thread: the golden files were made so, and it is faster on shared machines."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def snapshot():
    """The fixture snapshot read through srarena's restricted unpickler."""
    from srarena_apa.checkpoint import load_snapshot

    return load_snapshot(SNAPSHOT)


@pytest.fixture(scope="session")
def apa() -> SimpleNamespace:
    return SimpleNamespace(fixtures=FIXTURES, snapshot_path=SNAPSHOT, golden=golden,
                           tiny_kwargs=tiny_kwargs)
