"""Loading and checking BlindSR's checkpoint files (sunreef/BlindSR ``checkpoints/x2_blind_sr``).

Each file is a dict ``{'step': int, '<net>_state_dict': state dict, 'optimizer_state_dict':
Adam state}`` with ``<net>`` = ``generator`` or ``discriminator``, written by ``torch.save``
from CUDA tensors. srarena reads it with ``weights_only=True`` onto the CPU, uses the state
dict (strictly: every key and shape must match) and ignores the optimiser state. A bare
state dict with the same keys is accepted too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from srarena.kit import diff_shapes, load_state, shapes

from .arch import Discriminator, Generator

FILES = {"generator.pth": "generator", "discriminator.pth": "discriminator"}
NETWORKS = {"generator": Generator, "discriminator": Discriminator}


def state_dict_of(container: Any, network: str) -> Mapping[str, Any]:
    """The network's state dict inside an official checkpoint (or a bare state dict)."""
    if not isinstance(container, Mapping):
        raise ValueError(f"expected a dict, the file holds a {type(container).__name__}")
    key = f"{network}_state_dict"
    if key in container:
        return container[key]
    if any(k.endswith("_state_dict") for k in container):
        found = ", ".join(k for k in container if k.endswith("_state_dict"))
        raise ValueError(f"no '{key}' in the checkpoint (it holds {found}): wrong file?")
    return container


def expected_shapes(network: str) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return shapes(NETWORKS[network]().state_dict())


def _read(path: str | Path, network: str) -> tuple[Mapping[str, Any], list[str]]:
    """The network's state dict in ``path`` and how its keys/shapes differ from the network's."""
    state = state_dict_of(load_state(path), network)
    return state, diff_shapes(expected_shapes(network), shapes(state))


def validate(filename: str, path: str | Path) -> list[str]:
    """Problems of ``path`` as the weight file ``filename`` (empty when it fits)."""
    network = FILES.get(filename)
    if network is None:
        return [f"unknown file {filename!r}; BlindSR needs {', '.join(FILES)}"]
    try:
        return _read(path, network)[1]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a problem to report
        return [f"{Path(path).name}: {exc}"]


def load_network(path: str | Path, network: str, device: torch.device | str = "cpu") -> Any:
    """Build the named network and load its weights strictly from an official checkpoint."""
    state, problems = _read(path, network)
    if problems:
        detail = "; ".join(problems)
        raise ValueError(f"{Path(path).name} does not fit BlindSR's {network}: {detail}")
    module = NETWORKS[network]()
    module.load_state_dict(state, strict=True)
    return module.to(device).eval()


def load_networks(
    paths: Mapping[str, Path], device: torch.device | str = "cpu"
) -> tuple[Generator, Discriminator]:
    """Generator and discriminator from ``{'generator.pth': path, 'discriminator.pth': path}``."""
    return (
        load_network(paths["generator.pth"], "generator", device),
        load_network(paths["discriminator.pth"], "discriminator", device),
    )
