"""The checksums srarena ships for files whose publisher gives none (``checksums.json``).

Most upstreams publish weight files without a sha256. A maintainer downloads each such file
once (``scripts/record_checksums.py``), records its sha256 and size with where and when it
was recorded, and the project ships that record. Every later fetch, add or use of the file
is checked against it, so a user's first download is checked too, not only trusted.

The lookup order for a file's expected sha256 is: the plugin's declaration (published by
the upstream), then this shipped record, then the record the user's cache made at the first
install (trust on first use).

Format (versioned)::

    {"format": 1,
     "sets": {"<weight set>": {"<file>": {"sha256": "…", "size": 123, "source": "<url>",
                                           "recorded": "2026-01-01T00:00:00+00:00",
                                           "by": "scripts/record_checksums.py (srarena 0.x)"}}}}
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write_text
from ..specs import WeightSet

if TYPE_CHECKING:
    from .download import DownloadProgress

FORMAT = 1
MANIFEST = Path(__file__).with_name("checksums.json")
"""The manifest srarena ships (inside the package)."""

_loaded: dict[str, tuple[int, dict[str, dict[str, dict[str, Any]]]]] = {}


def read() -> dict[str, dict[str, dict[str, Any]]]:
    """The shipped records by set and file name (empty when the manifest is absent)."""
    path = MANIFEST
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _loaded.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    sets = data.get("sets") if isinstance(data, dict) and data.get("format") == FORMAT else None
    records = {name: files for name, files in (sets or {}).items() if isinstance(files, dict)}
    _loaded[str(path)] = (stamp, records)
    return records


def lookup(set_name: str, filename: str) -> dict[str, Any] | None:
    """The shipped record of one file (``sha256``, ``size``, ``source``, ``recorded``)."""
    entry = read().get(set_name, {}).get(filename)
    return entry if isinstance(entry, dict) and entry.get("sha256") else None


def write(records: dict[str, dict[str, dict[str, Any]]]) -> Path:
    """Write :data:`MANIFEST` (sets and files sorted, so that diffs stay small)."""
    path = MANIFEST
    payload = {"format": FORMAT, "sets": {name: dict(sorted(files.items()))
                                          for name, files in sorted(records.items()) if files}}
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


@contextmanager
def _scratch_home() -> Iterator[Path]:
    """A throw-away ``SRARENA_HOME``, so that a recording downloads afresh from upstream."""
    saved = os.environ.get("SRARENA_HOME")
    with tempfile.TemporaryDirectory(prefix="srarena-record-") as tmp:
        os.environ["SRARENA_HOME"] = tmp
        try:
            yield Path(tmp)
        finally:
            if saved is None:
                os.environ.pop("SRARENA_HOME", None)
            else:
                os.environ["SRARENA_HOME"] = saved


def record(weights: WeightSet, replace: bool = False,
           progress: DownloadProgress | None = None) -> list[str]:
    """Download every file of ``weights`` without a published sha256 from its upstream (into
    a scratch folder, never the user's cache) and write its record into :data:`MANIFEST`.

    A file that already has a shipped record is checked against it: a different sha256
    fails with :class:`ChecksumMismatch` unless ``replace``. The set's validator checks a
    file recorded for the first time. Returns one line per file saying what was done.
    """
    from .. import __version__
    from . import download

    lines = []
    for wf in weights.files:
        if wf.sha256:
            lines.append(f"{weights.name}/{wf.filename}: published sha256, nothing to record")
            continue
        previous = lookup(weights.name, wf.filename)
        with _scratch_home():
            status = download.fetch_file(weights, wf, progress, use_records=not replace)
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        same = previous is not None and previous["sha256"] == status.sha256
        entry = {"sha256": status.sha256, "size": status.size, "source": status.source,
                 "recorded": previous.get("recorded", now) if same else now,
                 "by": f"scripts/record_checksums.py (srarena {__version__})"}
        records = {name: dict(files) for name, files in read().items()}
        records.setdefault(weights.name, {})[wf.filename] = entry
        write(records)
        lines.append(f"{weights.name}/{wf.filename}: " + (
            "matches the shipped record" if same else
            f"recorded sha256 {status.sha256} ({status.size} bytes) from {status.source}"))
    return lines
