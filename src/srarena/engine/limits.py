"""Limits before work: an output this machine cannot hold is refused before a cell starts.

A single-image output of ``H x W`` at scale ``s`` is ``H s x W s`` pixels; on its way
through the engine it is held as float32 RGB (the upscaler's result), 8-bit RGB (the PNG),
the encoded PNG and the float32 image the metrics read, besides the upscaler's own working
memory: :data:`BYTES_PER_OUTPUT_PIXEL` is that sum, rounded up. A run whose largest output
needs more than the memory available now is refused with the size, the need and the ways
out (a lower scale, or ``--max-memory`` to raise or lift the limit).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

BYTES_PER_OUTPUT_PIXEL = 48
"""float32 RGB out (12) + 8-bit (3) + PNG (<= 3) + float32 for the metrics (12) + the
metrics' and filters' working copies (~18)."""


class TooLarge(RuntimeError):
    """An output is larger than this machine can hold."""


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``; elsewhere
    free physical pages), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e12:,.1f} TB" if n >= 1e12 else f"{n / 1e9:.1f} GB"


def check_outputs(outputs: Iterable[tuple[str, int, int, int, int]],
                  limit_gb: float | None) -> None:
    """Refuse when the largest output needs more memory than the limit.

    ``outputs``: ``(what, in_height, in_width, out_height, out_width)`` per cell's largest
    output. ``limit_gb``: None for the memory available now, 0 for no check.
    """
    if limit_gb == 0:
        return
    largest = max(outputs, key=lambda o: o[3] * o[4], default=None)
    if largest is None:
        return
    what, in_h, in_w, out_h, out_w = largest
    need = out_h * out_w * BYTES_PER_OUTPUT_PIXEL
    limit = limit_gb * 1e9 if limit_gb is not None else available_memory()
    if limit is None or need <= limit:
        return
    source = "set by --max-memory" if limit_gb is not None else "available now"
    raise TooLarge(
        f"{what}: the output of a {in_w}x{in_h} input is {out_w}x{out_h} "
        f"({out_w * out_h / 1e6:,.0f} Mpx, {_gb(out_w * out_h * 3)} as 8-bit RGB) and needs "
        f"about {_gb(need)} of memory; {_gb(limit)} is {source}. Lower --scale, or raise the "
        "limit with --max-memory GB (0: no check); --tile lowers the upscaler's own memory, "
        "not the output's")
