"""Whether a component can run here, and the command that makes it run (no torch import)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import weights
from .status import Status

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
"""One folder per GPU the NVIDIA driver drives (Linux)."""


@dataclass(frozen=True)
class Availability:
    """``status``: ok, needs extra, needs weights or needs a GPU; ``reason`` and ``fix`` say
    why and what to run (both empty when ok)."""

    status: Status
    reason: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


def missing_requirements(spec: Any) -> list[str]:
    """The import names a spec requires that are not installed."""
    return [m for m in getattr(spec, "requires", ()) if importlib.util.find_spec(m) is None]


def gpu_visible() -> bool:
    """Whether the NVIDIA driver shows a GPU and ``CUDA_VISIBLE_DEVICES`` does not hide it
    (read from the driver: no torch import)."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if "CUDA_VISIBLE_DEVICES" in os.environ and hidden in ("", "-1"):
        return False
    try:
        return any(NVIDIA_GPUS.iterdir())
    except OSError:
        return False


def availability(spec: Any) -> Availability:
    """Check an upscaler, metric or dataset spec's extras, weights and GPU needs."""
    missing = missing_requirements(spec)
    if missing:
        hint = getattr(spec, "install_hint", "") or f"pip install {missing[0]}"
        return Availability(Status.NEEDS_EXTRA, f"needs {', '.join(missing)}", hint)
    ws = getattr(spec, "weights", None)
    if ws is not None:
        absent = weights.missing_files(ws)
        if absent:
            return Availability(Status.NEEDS_WEIGHTS, f"weights missing: {', '.join(absent)}",
                                weights.fix_command(ws))
    resources = getattr(spec, "resources", None)
    if resources is not None and resources.needs_gpu and not gpu_visible():
        return Availability(Status.NEEDS_GPU, "needs a CUDA GPU",
                            "run on a machine with a CUDA GPU (--device cuda)")
    return Availability(Status.OK)
