"""What a run folder is pinned to, so that it holds one configuration and one truth.

The first run in a folder pins the settings that enter every output key (scale, precision,
tiling, seed) and, per component, what makes its results what they are (an upscaler's
version, weights and options; a metric's version and options). A later run may add
upscalers, metrics and datasets; a run that asks for the same component or setting with
other values is refused before any work, with the values on both sides, since its results
would sit beside the old ones as if they were comparable. The one exception is a generative
upscaler's generation-only options: changing them keeps the (costly) fit and replaces the
images generated with the old values (:func:`regenerated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import Store

META_KEY = "pinned"
SETTINGS = ("scale", "precision", "tile", "tile_overlap", "seed")


class RunConflict(ValueError):
    """A run asks a folder for other settings than those its results were made with."""


@dataclass
class Pins:
    """The settings and component identities of one folder (or one run)."""

    settings: dict[str, Any]
    upscalers: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per generative upscaler, its generation-only options (not pinned: see module doc)."""

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.settings, "upscalers": self.upscalers, "metrics": self.metrics,
                "generation": self.generation}


def settings_of(config: Any) -> dict[str, Any]:
    """The pinned settings of a :class:`~.config.BenchConfig`."""
    values = {name: getattr(config, name) for name in SETTINGS}
    if values["tile"] is None:
        values["tile_overlap"] = None  # the overlap means nothing untiled
    return values


def _legacy(store: Store) -> Pins | None:
    """The pins of a folder made before folders were pinned: from its finished outputs."""
    found = store.output_settings()
    if not found:
        return None
    if len(found) > 1:
        mixed = "; ".join(f"x{s} {p} seed {seed}" for s, p, seed in found)
        raise RunConflict(f"{store.folder} holds results of several settings ({mixed}), made by "
                          "an older srarena: start a new run folder with --out")
    scale, precision, seed = found[0]
    config = store.get_meta("config") or {}
    return Pins({"scale": scale, "precision": precision, "seed": seed,
                 "tile": config.get("tile"),
                 "tile_overlap": config.get("tile_overlap") if config.get("tile") else None})


def load(store: Store) -> Pins | None:
    """The folder's pins, or None for a folder without results."""
    data = store.get_meta(META_KEY)
    if data is None:
        return _legacy(store)
    return Pins(data["settings"], data.get("upscalers", {}), data.get("metrics", {}),
                data.get("generation", {}))


def _differences(kind: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{kind} {name}: {key} is {old.get(key)!r} in this folder, {new.get(key)!r} now"
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def conflicts(pinned: Pins | None, wanted: Pins) -> list[str]:
    """Every difference between a folder's pins and what a run asks for."""
    if pinned is None:
        return []
    found = _differences("setting", "of the run", pinned.settings, wanted.settings)
    for kind, old_table, new_table in (("upscaler", pinned.upscalers, wanted.upscalers),
                                       ("metric", pinned.metrics, wanted.metrics)):
        for name, identity in new_table.items():
            if name in old_table:
                found += _differences(kind, name, old_table[name], identity)
    return found


def refusal(folder: Any, found: list[str]) -> RunConflict:
    """The error that lists the differences and says how to go on."""
    lines = "\n  ".join(found)
    return RunConflict(
        f"{folder} holds results made with other settings; this run would put results that "
        f"are not comparable beside them:\n  {lines}\n"
        "Give this run its own folder (--out NEW_FOLDER), or rerun with the folder's settings.")


def regenerated(pinned: Pins | None, wanted: Pins) -> list[str]:
    """The generative upscalers whose generation options changed: their images go."""
    if pinned is None:
        return []
    return [name for name, options in wanted.generation.items()
            if name in pinned.generation and pinned.generation[name] != options]


def merged(pinned: Pins | None, wanted: Pins) -> Pins:
    """The pins after this run: the folder's, plus the components this run adds."""
    if pinned is None:
        return wanted
    return Pins(dict(pinned.settings), {**pinned.upscalers, **wanted.upscalers},
                {**pinned.metrics, **wanted.metrics}, {**pinned.generation, **wanted.generation})


def save(store: Store, pins: Pins) -> None:
    store.set_meta(META_KEY, pins.to_json())
