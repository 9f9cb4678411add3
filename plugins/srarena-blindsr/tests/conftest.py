"""Fixtures of the BlindSR plugin tests: the golden files made with the official code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def blindsr_weights() -> dict[str, Path]:
    """The seeded checkpoints in the official layout (generator: legacy torch container)."""
    folder = FIXTURES / "checkpoint"
    return {name: folder / name for name in ("generator.pth", "discriminator.pth")}


@pytest.fixture(scope="session")
def blindsr_golden():
    """Load ``fixtures/<name>.npz`` as a dict of arrays."""

    def load(name: str) -> dict[str, np.ndarray]:
        with np.load(FIXTURES / f"{name}.npz") as data:
            return {key: data[key] for key in data.files}

    return load


@pytest.fixture
def blindsr_one_thread():
    """Run with one intra-op thread (much faster for these tiny tensors on a busy machine)."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
