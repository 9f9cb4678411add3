"""The manifest of added models: ``<weights cache>/spandrel/models.json`` (no torch here).

It lives in the cache folder of the generic ``spandrel`` weight set (``srarena weights path
spandrel``) and holds, per model name, the facts of one file per native scale (see
:mod:`.facts`)::

    {"format": 1,
     "models": {"mine": {"files": [{"filename": "ESRGAN-x4.pth", "sha256": "…", "scale": 4,
                                     "architecture": "ESRGAN", …}]}}}

The files themselves are in the weights cache under ``spandrel-<name>/``, installed and
recorded by the weights service like every plugin's files. Registration reads this file
only: it is small, and nothing in it needs torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srarena import Source, UpscalerSpec

from .facts import GENERIC, USER_WEIGHTS_LICENCE, model_spec, set_name, summary

FILENAME = "models.json"
FORMAT = 1


def path() -> Path:
    from srarena.kit import weights_folder

    from .facts import generic_spec

    spec = generic_spec()
    assert spec.weights is not None
    return weights_folder(spec.weights) / FILENAME


def read() -> dict[str, dict[str, Any]]:
    """The added models by name (empty when there are none or the file is unreadable)."""
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        return {}
    return {name: entry for name, entry in models.items()
            if isinstance(entry, dict) and isinstance(entry.get("files"), list)}


def write(models: Mapping[str, Mapping[str, Any]]) -> Path:
    from srarena.kit import atomic_write_text

    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "models": {name: models[name] for name in sorted(models)}}
    atomic_write_text(target, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return target


def sources(model: str, facts: Mapping[str, Any]) -> tuple[Source, ...]:
    """Where an added file comes from: the user, who may add it again."""
    origin = facts.get("source") or "a file you added"
    return (Source(
        kind="manual", url=facts.get("source_url") or "https://openmodeldb.info",
        instructions=f"the file you added as {model} (from {origin}); add it again with "
                     f"`srarena weights add {GENERIC} FILE --name {model}`",
        reason="a file you added"),)


def spec(model: str, entry: Mapping[str, Any]) -> UpscalerSpec:
    """The upscaler ``spandrel:<model>`` of a manifest entry."""
    files = entry["files"]
    origin = "; ".join(f"x{f['scale']} from {f.get('source', '?')}" for f in
                       sorted(files, key=lambda f: f["scale"]))
    return model_spec(
        model, files, {f["filename"]: sources(model, f) for f in files},
        description=f"A model you added ({origin}), run through spandrel",
        weights_licence=entry.get("licence") or USER_WEIGHTS_LICENCE)


def specs() -> list[UpscalerSpec]:
    """One upscaler per added model; an entry that no longer makes a spec is skipped."""
    made = []
    for model, entry in sorted(read().items()):
        try:
            made.append(spec(model, entry))
        except (KeyError, TypeError, ValueError):
            continue
    return made


def describe(model: str, entry: Mapping[str, Any]) -> str:
    """One line per added model: name, scales and what each file is."""
    files = sorted(entry["files"], key=lambda f: f["scale"])
    return f"spandrel:{model} ({set_name(model)}): " + "; ".join(
        f"{summary(f)} from {f.get('source', '?')}" for f in files)
