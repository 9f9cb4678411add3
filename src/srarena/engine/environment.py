"""The environment record of a run: versions, device, git hash."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from importlib import metadata
from typing import Any


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def git_hash() -> str | None:
    """The commit of the working directory's repository, when there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


DEVICE_NAMES = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


class DeviceError(ValueError):
    """Not a device name (a usage error)."""


class DeviceUnavailable(RuntimeError):
    """A device this machine does not have."""


def resolve_device(requested: str) -> str:
    """``auto`` becomes cuda, mps or cpu by what torch sees (without torch, cpu); a named
    device is checked: :class:`DeviceError` for a name that is no device,
    :class:`DeviceUnavailable` for one this machine lacks."""
    if not DEVICE_NAMES.fullmatch(requested):
        raise DeviceError(f"--device {requested!r} is not a device: use auto, cpu, cuda, "
                          "cuda:N or mps")
    if requested == "cpu":
        return requested
    if _version("torch") is None:
        if requested == "auto":
            return "cpu"
        raise DeviceUnavailable(f"--device {requested} needs PyTorch, which is not installed "
                                "(pip install torch); or use --device cpu")
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"--device {requested}: no CUDA GPU is visible here (no NVIDIA GPU, driver or "
                "CUDA build of PyTorch): use --device cpu, or run on a machine with a GPU")
        index = int(requested.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(f"--device {requested}: this machine has "
                                    f"{torch.cuda.device_count()} CUDA GPU(s), cuda:0 onwards")
        return requested
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        raise DeviceUnavailable("--device mps: Apple's Metal (MPS) is not available here: use "
                                "--device cpu")
    return requested


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def environment(device: str, plugin_versions: dict[str, str]) -> dict[str, Any]:
    """What a reader of the results needs to know to reproduce them."""
    from .. import __version__

    return {
        "srarena": __version__,
        "plugins": plugin_versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": _version("numpy"),
        "pillow": _version("Pillow"),
        "torch": _version("torch"),
        "device": device,
        "device_name": device_name(device),
        "git": git_hash(),
    }
