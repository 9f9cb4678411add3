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
FIRST_USE = "first-use"
"""The folder (in srarena's home) noting, per component whose library fetches its own files
(``downloads_on_first_use``), the version that was built here: then its files are cached."""
OFFLINE_FIRST_USE = ("its files are not cached yet: its library downloads them on first "
                     "use, and offline mode (SRARENA_OFFLINE/HF_HUB_OFFLINE) downloads nothing")
FIRST_USE_FIX = ("run it once with the network allowed (without SRARENA_OFFLINE and "
                 "HF_HUB_OFFLINE), e.g. `srarena score -m NAME IMAGE`")
"""What caches the files of a ``downloads_on_first_use`` component."""
NEEDS_GPU = "needs a CUDA GPU"
"""The reason of everything that cannot run without a CUDA GPU (the summary groups by it)."""


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


def _first_use_note(spec: Any) -> Path:
    from .store import safe_name

    return weights.home() / FIRST_USE / (safe_name(spec.name) + ".txt")


def first_use_done(spec: Any) -> bool:
    """Whether this version of a ``downloads_on_first_use`` component was built here."""
    try:
        return _first_use_note(spec).read_text(encoding="utf-8").strip() == spec.version
    except OSError:
        return False


def record_first_use(spec: Any) -> None:
    """Note that a ``downloads_on_first_use`` component was built here (its files cached)."""
    from .atomic import atomic_write_text

    if not first_use_done(spec):
        note = _first_use_note(spec)
        note.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(note, spec.version + "\n")


def availability(spec: Any) -> Availability:
    """Check an upscaler, metric or dataset spec's extras, weights (declared, or fetched by
    its library on first use, when offline) and GPU needs."""
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
    if (getattr(spec, "downloads_on_first_use", False) and weights.offline()
            and not first_use_done(spec)):
        return Availability(Status.NEEDS_WEIGHTS, OFFLINE_FIRST_USE, FIRST_USE_FIX)
    resources = getattr(spec, "resources", None)
    if resources is not None and resources.needs_gpu and not gpu_visible():
        return Availability(Status.NEEDS_GPU, NEEDS_GPU,
                            "run on a machine with a CUDA GPU (--device cuda)")
    return Availability(Status.OK)
