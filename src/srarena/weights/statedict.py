"""Safe state-dict loading and readable architecture checks, shared by every plugin."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def load_state(path: str | Path) -> Any:
    """Load a checkpoint without executing code: safetensors, or torch with ``weights_only``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def shapes(state: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Key -> shape of every tensor in a state dict."""
    return {key: tuple(value.shape) for key, value in state.items() if hasattr(value, "shape")}


def diff_shapes(
    expected: Mapping[str, tuple[int, ...]],
    found: Mapping[str, tuple[int, ...]],
    limit: int = 20,
) -> list[str]:
    """Human-readable differences between two key->shape maps (empty when they match)."""
    problems: list[str] = []
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    mismatched = [
        f"{k}: expected {list(expected[k])}, file has {list(found[k])}"
        for k in expected
        if k in found and tuple(expected[k]) != tuple(found[k])
    ]
    for title, entries in (
        ("missing keys", missing),
        ("unexpected keys", unexpected),
        ("shape mismatches", mismatched),
    ):
        if entries:
            shown = entries[:limit]
            more = f" … and {len(entries) - limit} more" if len(entries) > limit else ""
            problems.append(f"{title} ({len(entries)}): " + "; ".join(shown) + more)
    return problems
