"""Device, timing and peak-memory helpers shared by the benchmark scripts.

The scripts run as ``python benchmarks/bench_x.py``, so this folder is on ``sys.path`` and
they import these helpers as ``from devices import ...``. Nothing here imports torch (or
srarena) at module import: each helper imports what it needs when called, so a script that
keeps torch out of its start-up still does. Peak figures come from srarena's own
``srarena.engine.work.peak_memory_mb`` (CUDA allocator peak; process peak RSS, macOS-aware).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def sync(device: str) -> None:
    """Wait for queued CUDA work on a CUDA device, so that a timer reads the real end."""
    if is_cuda(device):
        import torch

        torch.cuda.synchronize()


def timed(device: str, run: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of ``repeats`` calls of ``run`` (synchronised), and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        result = run()
        sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds, result


def reset_peak(device: str) -> None:
    """Start a new CUDA peak-memory window (the host RSS peak cannot be reset)."""
    if is_cuda(device):
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_mb(device: str) -> float:
    """The one peak figure for ``device`` in MiB: CUDA allocator peak, else process peak RSS."""
    from srarena.engine.work import peak_memory_mb

    return peak_memory_mb(device)


def peak_memory(device: str) -> dict[str, float]:
    """Peaks in MiB: ``peak_host_rss_mib`` always, ``peak_cuda_mib`` too on a CUDA device."""
    from srarena.engine.work import peak_memory_mb

    peaks = {"peak_host_rss_mib": peak_memory_mb("cpu")}
    if is_cuda(device):
        peaks["peak_cuda_mib"] = peak_memory_mb(device)
    return peaks


def describe_peaks(peaks: Mapping[str, float | str]) -> str:
    """``peak CUDA X MiB (GPU), peak host RSS Y MiB`` from a :func:`peak_memory` dict.

    The CUDA part appears only when the dict has ``peak_cuda_mib``, the GPU name only when
    it has ``gpu``.
    """
    text = f"peak host RSS {peaks['peak_host_rss_mib']:.0f} MiB"
    if "peak_cuda_mib" in peaks:
        gpu = f" ({peaks['gpu']})" if "gpu" in peaks else ""
        text = f"peak CUDA {peaks['peak_cuda_mib']:.0f} MiB{gpu}, {text}"
    return text


def describe_memory(device: str) -> str:
    """This process's peaks so far on ``device``, as :func:`describe_peaks` writes them."""
    return describe_peaks(peak_memory(device))


def device_name(device: str) -> str:
    """The GPU's name on a CUDA device, else ``CPU, N threads`` (torch's CPU threads)."""
    import torch

    if is_cuda(device):
        return torch.cuda.get_device_name()
    return f"CPU, {torch.get_num_threads()} threads"
