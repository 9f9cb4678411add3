"""Loading and checking MoESR's official checkpoint files.

Per scale the official code reads ``checkpoints/x{s}/SR_networks_ensemble.pt`` (a dict from
expert id to a list of :class:`~srarena_moesr.arch.SRNet` state dicts, one per ×2 network),
``ISE.pt`` and ``KEN.pt`` (plain state dicts). srarena keeps the six files, unchanged, in one
weight set under the names ``x{s}_<official name>``; all are loaded with ``weights_only=True``
(they hold only dicts, lists and tensors).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srarena.kit import WeightsMissing, diff_shapes, load_state, shapes

SCALES = (2, 4)
OFFICIAL_NAMES = ("SR_networks_ensemble.pt", "ISE.pt", "KEN.pt")


def filename(scale: int, official: str) -> str:
    """The name srarena stores ``checkpoints/x{scale}/{official}`` under."""
    return f"x{scale}_{official}"


def filenames(scale: int) -> list[str]:
    return [filename(scale, name) for name in OFFICIAL_NAMES]


def _expected() -> dict[str, dict[str, tuple[int, ...]]]:
    import torch

    from .arch import ISENet, KENNet, SRNet

    with torch.device("meta"):
        return {
            "SR_networks_ensemble.pt": shapes(SRNet().state_dict()),
            "ISE.pt": shapes(ISENet().state_dict()),
            "KEN.pt": shapes(KENNet().state_dict()),
        }


def ensemble_problems(
    ensemble: Any, scale: int, expected: Mapping[str, tuple[int, ...]] | None
) -> list[str]:
    """What is wrong with an experts file for ``scale`` (shapes checked when ``expected``)."""
    from .method import NETS_PER_EXPERT, expert_ids

    if not isinstance(ensemble, Mapping):
        return [f"expected a dict of expert id -> state dicts, found {type(ensemble).__name__}"]
    problems = []
    needed = NETS_PER_EXPERT[scale]
    missing = [key for key in expert_ids(scale) if key not in ensemble]
    if missing:
        problems.append(
            f"missing experts ({len(missing)} of 25): {', '.join(missing[:6])}"
            + (" …" if len(missing) > 6 else "")
            + (f"; found {', '.join(list(ensemble)[:4])} …" if ensemble else "")
        )
    for key in expert_ids(scale):
        entry = ensemble.get(key)
        if entry is None:
            continue
        if not isinstance(entry, (list, tuple)) or len(entry) < needed:
            problems.append(f"{key}: expected a list of {needed} state dict(s)")
            continue
        for i, state in enumerate(entry[:needed]):
            if not isinstance(state, Mapping):
                problems.append(f"{key}[{i}]: not a state dict")
            elif expected is not None:
                problems += [f"{key}[{i}]: {p}" for p in diff_shapes(expected, shapes(state))]
    return problems


def validate(name: str, path: str | Path) -> list[str]:
    """Check a candidate file for this weight set against the official architecture."""
    parsed = {filename(s, n): (s, n) for s in SCALES for n in OFFICIAL_NAMES}
    if name not in parsed:
        return [f"{name!r} is not a file of this weight set ({', '.join(parsed)})"]
    scale, official = parsed[name]
    try:
        state = load_state(path)
    except Exception as exc:  # noqa: BLE001 - report any unreadable file as a problem
        return [f"cannot load {path} with weights_only=True: {type(exc).__name__}: {exc}"]
    expected = _expected()[official]
    if official == "SR_networks_ensemble.pt":
        return ensemble_problems(state, scale, expected)
    if not isinstance(state, Mapping):
        return [f"expected a state dict, found {type(state).__name__}"]
    return diff_shapes(expected, shapes(state))


def load_scale(weights: Mapping[str, Path], scale: int) -> tuple[dict[str, Any], Any, Any]:
    """Load the experts (id -> state dicts), ISE and KEN networks of one scale.

    Widths are read from the files (the official ones are 64 features); loading is strict.
    """
    from .arch import ise_net_for, ken_net_for

    names = filenames(scale)
    absent = [n for n in names if n not in weights or not Path(weights[n]).is_file()]
    if absent:
        raise WeightsMissing(
            f"MoESR x{scale} needs {', '.join(absent)} (weight set moesr-emad2022); "
            "install with `srarena weights add moesr-emad2022 FILE...`"
        )
    ensemble = load_state(weights[names[0]])
    problems = ensemble_problems(ensemble, scale, None)
    if problems:
        raise ValueError(f"{weights[names[0]]}: " + "; ".join(problems))
    ise = ise_net_for(load_state(weights[names[1]]))
    ken = ken_net_for(load_state(weights[names[2]]))
    return dict(ensemble), ise, ken
