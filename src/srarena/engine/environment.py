"""The environment record of a run: versions, device, git hash."""

from __future__ import annotations

import platform
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


def resolve_device(requested: str) -> str:
    """``auto`` becomes cuda, mps or cpu by what torch sees; without torch, cpu."""
    if requested != "auto":
        return requested
    if _version("torch") is None:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


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
