"""The weights service: one cache of verified weight files that every plugin uses."""

from __future__ import annotations

import os
from pathlib import Path

from ..specs import WeightSet


class WeightsMissing(FileNotFoundError):
    """Weight files are not present; the message names them, their source and the fix."""


def home() -> Path:
    """srarena's per-user data folder (``SRARENA_HOME`` overrides it)."""
    override = os.environ.get("SRARENA_HOME")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("srarena", appauthor=False))


def folder(weights: WeightSet) -> Path:
    return home() / "weights" / weights.name


def missing_files(weights: WeightSet) -> list[str]:
    base = folder(weights)
    return [f.filename for f in weights.files if not (base / f.filename).is_file()]


def fix_command(weights: WeightSet) -> str:
    manual = any(s.kind == "manual" for f in weights.files for s in f.sources)
    if manual:
        return f"srarena weights add {weights.name} FILE..."
    return f"srarena weights fetch {weights.name}"


def resolve(weights: WeightSet, override: Path | None = None) -> dict[str, Path]:
    """Paths of a weight set's files, from ``override`` (file or folder) or the cache."""
    if override is not None:
        override = Path(override)
        if override.is_file() and len(weights.files) == 1:
            return {weights.files[0].filename: override}
        base = override
    else:
        base = folder(weights)
    paths = {f.filename: base / f.filename for f in weights.files}
    absent = [name for name, p in paths.items() if not p.is_file()]
    if absent:
        sources = "; ".join(
            f"{f.filename}: {', '.join(s.describe() for s in f.sources)}"
            for f in weights.files
            if f.filename in absent
        )
        raise WeightsMissing(
            f"weights {weights.name!r} missing {', '.join(absent)} (from {sources}); "
            f"install with `{fix_command(weights)}`"
        )
    return paths
