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


def native_float16_cpu() -> bool:
    """Whether PyTorch routes float16 convolutions to oneDNN's native float16 kernels here:
    on a CPU with AVX512-FP16 (``avx512_fp16`` in /proc/cpuinfo: Sapphire Rapids and later)
    or AMX-FP16, as PyTorch's own check."""
    if torch.cpu._is_amx_fp16_supported():
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_fp16" in flags


@contextlib.contextmanager
def fixture_float16_kernels():
    """Run the enclosed computations (the float16 ones compared with the official float16
    fixtures) with the float16 kernels the fixtures were made with.

    The fixtures come from a CPU without AVX512-FP16, where PyTorch (oneDNN on, its
    default) gives them bit for bit: every gradient fingerprint of the float16 training
    phases, measured on an AMD EPYC (Zen 4). There nothing is switched: turning oneDNN off
    there moves the float32 convolutions (float32 rounding), which float16 then amplifies
    (Gmain lands 0.95 of the float16 effect away, the float32 path 1.0).

    On a CPU with native float16 (:func:`native_float16_cpu`) PyTorch routes float16
    convolutions to oneDNN's float16 kernels, which round differently: the official code and
    srarena then both land about 2e-3 from the fixtures, as far as the float16 path is from
    the float32 one, and no test could tell the two apart. There oneDNN is switched off, so
    that float16 convolutions take PyTorch's own (ATen) kernels, which follow the fixtures
    to float16 rounding (the measured ratios in the tests' docstrings). (Moving only the
    float16 convolutions off oneDNN gives, on such a CPU, bit for bit the results of
    ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16``, which must be set before oneDNN first runs in
    the process.)

    Only ``enabled`` is switched: ``torch.backends.mkldnn.flags()`` would also reset the
    deterministic and TF32 settings (and warns about TF32 on CPU-only builds).
    """
    if not native_float16_cpu():
        yield
        return
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
                           tiny_kwargs=tiny_kwargs,
                           fixture_float16_kernels=fixture_float16_kernels)
