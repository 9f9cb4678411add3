"""The weights service: one cache of verified weight files that every plugin uses.

Plugins declare their files statically (:class:`~srarena.specs.WeightSet`); this package
finds them in the cache (:mod:`.cache`), downloads them (:mod:`.download`), checks files a
user supplies (:mod:`.validate`) and loads them without running code (:mod:`.statedict`,
:mod:`.unpickler`). Importing it imports neither torch nor the HTTP stack.

For a component, :func:`resolve` is the entry point: it returns the paths of the set's
files, checked, or raises :class:`WeightsMissing` whose message names each file, where it
comes from and the command that installs it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..specs import WeightFile, WeightSet
from .cache import CHECKSUM_TEXT, FileStatus, folder, home, known_sha256, sha256_file, status
from .errors import (
    ChecksumMismatch,
    DownloadError,
    UnknownWeights,
    UnsafePickle,
    WeightsError,
    WeightsInvalid,
    WeightsMissing,
)
from .statedict import diff_shapes, load_state, shapes

__all__ = [
    "ChecksumMismatch",
    "Declared",
    "DownloadError",
    "FileStatus",
    "UnknownWeights",
    "UnsafePickle",
    "WeightsError",
    "WeightsInvalid",
    "WeightsMissing",
    "declared",
    "diff_shapes",
    "download_url",
    "download_timeout",
    "find",
    "fingerprint",
    "fix_command",
    "folder",
    "home",
    "how_to_get",
    "load_state",
    "manual_reason",
    "missing_files",
    "missing_message",
    "offline",
    "overview",
    "resolve",
    "sha256_file",
    "shapes",
    "status",
]

_FALSE = {"", "0", "false", "no", "off"}


def offline() -> bool:
    """Whether the network is off limits (``SRARENA_OFFLINE`` or ``HF_HUB_OFFLINE`` set)."""
    return any(
        os.environ.get(var, "").strip().lower() not in _FALSE
        for var in ("SRARENA_OFFLINE", "HF_HUB_OFFLINE")
    )


def missing_files(weights: WeightSet) -> list[str]:
    """Declared files of a set that are not in the cache."""
    base = folder(weights)
    return [f.filename for f in weights.files if not (base / f.filename).is_file()]


def manual_reason(wf: WeightFile) -> str | None:
    """Why a file cannot be fetched (all its sources are manual), or None when it can."""
    if any(source.kind != "manual" for source in wf.sources):
        return None
    for source in wf.sources:
        if source.reason:
            return source.reason
    hosts = sorted({source.host for source in wf.sources if source.url})
    if any(source.url.startswith("file:") for source in wf.sources):
        return "a file you added"
    return f"needs a browser ({', '.join(hosts)})" if hosts else "no download source"


def how_to_get(weights: WeightSet) -> str:
    """``"fetch"`` when every file of a set can be downloaded, else ``"manual (why)"``."""
    reasons = [r for r in map(manual_reason, weights.files) if r]
    return "fetch" if not reasons else f"manual ({reasons[0]})"


def _manual_only(weights: WeightSet, filenames: list[str]) -> bool:
    return any(
        all(s.kind == "manual" for s in wf.sources)
        for wf in weights.files
        if wf.filename in filenames
    )


def fix_command(weights: WeightSet) -> str:
    """The command that installs a set's missing files (``add`` if one needs a browser)."""
    pending = missing_files(weights) or [wf.filename for wf in weights.files]
    if _manual_only(weights, pending):
        return f"srarena weights add {weights.name} FILE..."
    return f"srarena weights fetch {weights.name}"


def missing_message(weights: WeightSet, filenames: list[str]) -> str:
    """What is missing, where each file comes from, and the command that installs it."""
    base = folder(weights)
    lines = [f"weights {weights.name!r} are missing {', '.join(filenames)} (in {base})"]
    for wf in weights.files:
        if wf.filename not in filenames:
            continue
        lines.append(f"  {wf.filename}:")
        lines.extend(f"    from {source.describe()}" for source in wf.sources)
    add = f"srarena weights add {weights.name} FILE..."
    if _manual_only(weights, filenames):
        lines.append(f"download by hand from the page above, then run `{add}`")
    elif offline():
        lines.append(
            f"offline mode (SRARENA_OFFLINE/HF_HUB_OFFLINE) downloads nothing: run "
            f"`srarena weights fetch {weights.name}` with the network allowed, or download the "
            f"file elsewhere and run `{add}`"
        )
    else:
        lines.append(f"install with `srarena weights fetch {weights.name}`")
    return "\n".join(lines)


def resolve(weights: WeightSet, override: Path | None = None) -> dict[str, Path]:
    """Paths of a weight set's files, from ``override`` (file or folder) or the cache.

    An override is checked by the set's validator (once per file version per process). A
    cached file is checked against its declared or recorded sha256, which costs a re-hash
    only when the file changed since it was recorded. Raises :class:`WeightsMissing`
    (absent files, with the fix), :class:`ChecksumMismatch` or :class:`WeightsInvalid`.
    """
    from . import validate

    if override is not None:
        return validate.check_override(weights, Path(override))
    absent = missing_files(weights)
    if absent:
        raise WeightsMissing(missing_message(weights, absent))
    paths: dict[str, Path] = {}
    for wf in weights.files:
        state = validate.check(weights, wf)
        if state.state == "mismatch":
            raise ChecksumMismatch(
                f"{state.path}: {state.describe()}; reinstall with `{fix_command(weights)}`"
            )
        if state.state == "invalid":
            raise WeightsInvalid(
                f"{state.path}: {state.describe()}; reinstall with `{fix_command(weights)}`"
            )
        paths[wf.filename] = state.path
    return paths


def paths_for(
    weights: WeightSet | None,
    given: Mapping[str, str | Path],
    scales: tuple[int, ...] | None = None,
    optional: Collection[str] = (),
) -> dict[str, Path]:
    """The files a component needs for ``scales``: those the caller passed in ``given``
    (``Context.weights``), the others from the cache, verified as :func:`resolve` does.

    Raises :class:`WeightsMissing` (with the command that installs them) for files in
    neither place, except the ``optional`` ones, which are then left out.
    """
    passed = {name: Path(path) for name, path in given.items()}
    if weights is None:
        return passed
    needed = weights.for_scales(scales)
    absent = set(missing_files(needed))
    rest = tuple(wf for wf in needed.files if wf.filename not in passed
                 and not (wf.filename in optional and wf.filename in absent))
    if not rest:
        return passed
    return {**resolve(replace(needed, files=rest)), **passed}


_hashes: dict[tuple[str, int, int], str] = {}


def fingerprint(paths: Mapping[str, Path]) -> str:
    """One sha256 naming a set of weight files by content (for keying results).

    Uses the cache's records where they cover a file and hashes other files once per
    process and file version.
    """
    digest = hashlib.sha256()
    for name in sorted(paths):
        path = Path(paths[name])
        sha = known_sha256(path)
        if sha is None:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            sha = _hashes.get(key) or _hashes.setdefault(key, sha256_file(path))
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


@dataclass
class Declared:
    """A weight set as the installed plugins declare it, and who uses it."""

    weights: WeightSet
    users: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def declared(registry: Any = None) -> dict[str, Declared]:
    """Every weight set declared by a registered upscaler or metric, by set name.

    Two components may share a set by declaring the same one; a different declaration
    under a taken name is listed in ``conflicts`` and ignored.
    """
    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    sets: dict[str, Declared] = {}
    for kind, table in (("upscaler", registry.upscalers), ("metric", registry.metrics)):
        for name in sorted(table):
            ws = getattr(table[name], "weights", None)
            if ws is None:
                continue
            entry = sets.setdefault(ws.name, Declared(ws))
            user = f"{kind}:{name}"
            (entry.users if entry.weights == ws else entry.conflicts).append(user)
    return dict(sorted(sets.items()))


def find(name: str, registry: Any = None) -> WeightSet:
    """A weight set by its name, or by the name of the component that uses it."""
    sets = declared(registry)
    if name in sets:
        return sets[name].weights
    users = [entry.weights for entry in sets.values()
             if any(user.split(":", 1)[1] == name for user in entry.users)]
    if len(users) == 1:
        return users[0]
    known = ", ".join(sets) or "none (no installed plugin declares weights)"
    raise UnknownWeights(
        f"no weight set named {name!r}; declared: {known}. See `srarena weights list`."
    )


def overview(names: list[str] | None = None, rehash: bool = False) -> list[dict[str, Any]]:
    """One row per declared file: set, users, licence, size, state, sources, fix.

    ``names`` limits the rows to those sets (or components); by default every declared
    set. Without ``rehash`` states come from the records alone (fast); with it every
    present file is hashed and checked (:func:`validate.verify`).
    """
    from . import validate

    sets = declared()
    chosen = [find(name) for name in names] if names else [d.weights for d in sets.values()]
    rows = []
    for ws in chosen:
        entry = sets.get(ws.name, Declared(ws))
        states = validate.verify(ws) if rehash else status(ws)
        set_get, fix = how_to_get(ws), fix_command(ws)
        for wf, st in zip(ws.files, states, strict=True):
            reason = manual_reason(wf)
            rows.append(
                {
                    "weights": ws.name,
                    "users": entry.users,
                    "conflicts": entry.conflicts,
                    "licence": ws.licence,
                    "file": st.filename,
                    "path": str(st.path),
                    "size": st.size if st.size is not None else wf.size,
                    "state": st.state,
                    "ok": st.ok,
                    "detail": st.describe(),
                    "sha256": st.sha256,
                    "declared_sha256": wf.sha256,
                    "expected_sha256": st.expected,
                    "checksum": st.checksum,
                    "checksum_text": CHECKSUM_TEXT[st.checksum],
                    "get": "manual" if reason else "fetch",
                    "manual_reason": reason,
                    "set_get": set_get,
                    "sources": [s.describe() for s in wf.sources],
                    "hosts": list(dict.fromkeys(s.host for s in wf.sources if s.host)),
                    "installed_from": st.source,
                    "fix": "" if st.ok else fix,
                }
            )
    return rows


def download_url(url: str, part: Path, label: str) -> None:
    """Download ``url`` into ``part`` (resuming, with timeouts) for a file not in a weight set
    (e.g. pyiqa's own files); the caller checks and moves it."""
    from .download import download

    download(url, part, label)


def download_timeout() -> float:
    """Seconds a download waits to connect and for each read (``SRARENA_HTTP_TIMEOUT``)."""
    from .download import timeout

    return timeout()
