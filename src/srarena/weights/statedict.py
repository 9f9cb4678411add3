"""Safe state-dict loading and readable architecture checks, shared by every plugin."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UnsafePickle, WeightsInvalid

SAFETENSORS_HEADER_LIMIT = 100_000_000
"""The largest header the safetensors library reads (its own limit)."""


def _safetensors_header(path: Path) -> tuple[int | None, int, bool]:
    """The header length a file's first 8 bytes claim (None if it is shorter), the file's
    size, and whether the header starts as JSON does."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    length = int.from_bytes(head[:8], "little") if len(head) >= 8 else None
    return length, path.stat().st_size, head[8:9] == b"{"


def is_safetensors(path: str | Path) -> bool:
    """Whether a file is safetensors, judged by its header (its name may be temporary)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return True
    length, size, json_like = _safetensors_header(path)
    return json_like and length is not None and 2 <= length <= size - 8


def check_safetensors_header(path: Path) -> None:
    """Refuse a safetensors file whose header cannot be right, before the library reads it:
    the 8-byte length must fit the file (and the library's limit) and the header be JSON."""
    length, size, json_like = _safetensors_header(path)
    if length is None or not json_like or not 2 <= length <= min(size - 8,
                                                                SAFETENSORS_HEADER_LIMIT):
        claim = "no header" if length is None else f"a header of {length} bytes"
        raise WeightsInvalid(
            f"{path}: not a valid safetensors file ({claim} in a file of {size} bytes); "
            "the file is damaged or is not what its name says")


def is_torchscript(path: str | Path) -> bool:
    """Whether a file is a TorchScript archive (a zip holding code), which ``torch.load``
    would hand to ``torch.jit.load``."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in names)


def load_state(path: str | Path, allow: Iterable[Any] = ()) -> Any:
    """Load a checkpoint without executing code: safetensors, or torch with ``weights_only``.

    ``allow`` names extra classes or functions that torch's weights-only loader may accept
    (``torch.serialization.safe_globals``), for checkpoints that store e.g. numpy scalars.
    A refused checkpoint raises :class:`UnsafePickle` saying which global was refused.
    """
    path = Path(path)
    if is_safetensors(path):
        from safetensors.torch import load_file

        check_safetensors_header(path)
        try:
            return load_file(str(path))
        except Exception as exc:  # the library's SafetensorError and friends
            raise WeightsInvalid(f"{path}: not a readable safetensors file ({exc})") from exc
    if is_torchscript(path):
        raise UnsafePickle(f"{path}: a TorchScript archive holds code, which srarena does not "
                           "load; save the model's state_dict (or safetensors) instead")
    import torch

    from .unpickler import first_line

    allowed = list(allow)
    context = torch.serialization.safe_globals(allowed) if allowed else contextlib.nullcontext()
    try:
        with context:
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        if not isinstance(exc, pickle.UnpicklingError) or "weights only" not in str(exc).lower():
            raise WeightsInvalid(
                f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})"
            ) from exc
        raise UnsafePickle(
            f"{path}: torch's safe loader refused it ({first_line(exc)}). srarena never "
            "unpickles code; a checkpoint that holds other objects than tensors needs its "
            "plugin to allow those classes, or a conversion to safetensors"
        ) from exc


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


def check_state_file(
    path: str | Path,
    expected: Mapping[str, tuple[int, ...]],
    unwrap: Sequence[str] = (),
    allow: Iterable[Any] = (),
) -> list[str]:
    """Problems of a checkpoint file against an architecture's key->shape map.

    ``unwrap`` lists top-level keys that may hold the state dict (e.g. ``("params_ema",
    "params")``); the first present is used. The usual body of a weight-set validator.
    """
    try:
        state = load_state(path, allow)
    except (UnsafePickle, WeightsInvalid) as exc:
        return [str(exc)]
    if not isinstance(state, Mapping):
        return [f"not a state dict: the file holds a {type(state).__name__}"]
    for key in unwrap:
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    return diff_shapes(expected, shapes(state))
