"""Shared fixtures of the APA tests: fixture paths, golden files, the tiny networks."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def without_onednn():
    """Run the enclosed computations (the float16 ones compared with the official float16
    fixtures) with oneDNN (``torch.backends.mkldnn``) off.

    The fixtures agree with PyTorch's own (ATen) float16 convolution kernels: the batch and
    discriminator outputs to 1e-7. PyTorch runs float16 convolutions with these on a CPU
    without AVX512-FP16. On a CPU with it (``avx512_fp16`` in /proc/cpuinfo: Sapphire Rapids
    and later) PyTorch routes them to oneDNN's native float16 kernels, which round
    differently: the official code and srarena then both land about 2e-3 from the fixtures,
    as far as the float16 path is from the float32 one, and no test could tell the two apart.
    With oneDNN off, float16 convolutions take the ATen kernels on every CPU. (Moving only
    the float16 convolutions off oneDNN gives, on such a CPU, bit for bit the results of
    ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16``, which keeps PyTorch from routing float16 to
    oneDNN but must be set before oneDNN first runs in the process.) Float32 convolutions in
    the block leave oneDNN too, which moves them by float32 rounding only; the float32
    comparisons run outside the block.

    Only ``enabled`` is switched: ``torch.backends.mkldnn.flags()`` would also reset the
    deterministic and TF32 settings (and warns about TF32 on CPU-only builds).
    """
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled


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
                           tiny_kwargs=tiny_kwargs, without_onednn=without_onednn)
