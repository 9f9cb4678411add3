"""The cache: where weight files live, the manifest of their sha256, and atomic installs.

Each weight set has a folder ``<home>/weights/<set name>/`` holding its files under their
declared names, a manifest (``.srarena-manifest.json``) that records the sha256, size and
modification time of every installed file, and, while a download is under way, a
``<file>.part``. A file only ever takes its final name through ``os.replace`` after its
checksum was checked, so the cache never holds a half-written file under a real name.

A file's expected sha256 is, in this order: the one its plugin declares (published by the
upstream), the one srarena ships (:mod:`.shipped`), or the one recorded here when the first
copy was installed (trust on first use); every later check compares against it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..atomic import atomic_write_text
from ..specs import WeightFile, WeightSet

MANIFEST = ".srarena-manifest.json"
PART_SUFFIX = ".part"
CHUNK = 1 << 20

State = Literal[
    "missing", "partial", "verified", "recorded", "unchecked", "mismatch", "invalid"
]
OK_STATES = ("verified", "recorded")
STATE_HELP: dict[str, str] = {
    "missing": "not installed",
    "partial": "an interrupted download; fetch resumes it",
    "verified": "sha256 matches the published or shipped one",
    "recorded": "no published sha256: trusted on first use, matches the sha256 recorded then",
    "unchecked": "present but not checked since it changed or was placed by hand; run verify",
    "mismatch": "sha256 differs from the expected one; fetch or add it again",
    "invalid": "does not fit the architecture; fetch or add the right file",
}

Checksum = Literal["published", "shipped", "first-use", "none"]
CHECKSUM_WORD: dict[str, str] = {
    "published": "published", "shipped": "shipped", "first-use": "first use", "none": "none yet",
}
CHECKSUM_TEXT: dict[str, str] = {
    "published": "published",
    "shipped": "shipped record",
    "first-use": "recorded here at first use",
    "none": "none yet: recorded at first download",
}


def home() -> Path:
    """srarena's per-user data folder (``SRARENA_HOME`` overrides it)."""
    override = os.environ.get("SRARENA_HOME")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("srarena", appauthor=False))


def folder(weights: WeightSet) -> Path:
    """The cache folder of one weight set."""
    return home() / "weights" / weights.name


def part_path(weights: WeightSet, filename: str) -> Path:
    """Where an unfinished download of ``filename`` accumulates."""
    return folder(weights) / (filename + PART_SUFFIX)


ADD_SUFFIX = ".add.part"
"""The suffix of a copy under way in ``weights add`` (never resumed: cleaned at the next add)."""


def adding_path(weights: WeightSet, filename: str) -> Path:
    """Where ``weights add`` copies ``filename`` before it is checked and renamed."""
    return folder(weights) / (filename + ADD_SUFFIX)


def clean_stale_adds(weights: WeightSet) -> list[Path]:
    """Delete the copies an interrupted ``weights add`` left in a set's folder (downloads'
    ``.part`` files, which ``fetch`` resumes, are kept)."""
    base = folder(weights)
    stale = sorted(base.glob("*" + ADD_SUFFIX)) if base.is_dir() else []
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale


def partials(weights: WeightSet, filename: str) -> list[Path]:
    """Unfinished downloads of ``filename``: ``<file>.part``, and the ``<file>.part*.part``
    that gdown writes while a Google Drive download runs (both resumable)."""
    base = folder(weights)
    if not base.is_dir():
        return []
    stem = filename + PART_SUFFIX
    return sorted(p for p in base.iterdir() if p.is_file() and (
        p.name == stem or (p.name.startswith(stem) and p.name.endswith(PART_SUFFIX))))


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks; ``progress(n)`` after each chunk."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


# --- manifest -------------------------------------------------------------------------------


def read_manifest(base: Path) -> dict[str, dict[str, Any]]:
    """The records of a set folder, by file name (empty when absent or unreadable)."""
    try:
        data = json.loads((base / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def _write_manifest(base: Path, files: dict[str, dict[str, Any]]) -> None:
    payload = json.dumps({"format": 1, "files": files}, indent=2, sort_keys=True)
    atomic_write_text(base / MANIFEST, payload + "\n")


def record(base: Path, filename: str, sha256: str, source: str) -> dict[str, Any]:
    """Record an installed file's sha256 with its current size and modification time."""
    stat = (base / filename).stat()
    entry = {
        "sha256": sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "source": source,
        "installed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    files = read_manifest(base)
    previous = files.get(filename)
    if previous and previous.get("sha256") == sha256:
        entry["installed"] = previous.get("installed", entry["installed"])
        entry["source"] = previous.get("source", source)
    files[filename] = entry
    _write_manifest(base, files)
    return entry


def expected(weights: WeightSet, wf: WeightFile, manifest: dict[str, Any] | None = None,
             ) -> tuple[str | None, Checksum]:
    """The sha256 a file must have and where it comes from, in the lookup order: declared
    (published), shipped by srarena, recorded here at the first install; else none.
    ``manifest``: the set's manifest when the caller has read it already."""
    from . import shipped

    if wf.sha256:
        return wf.sha256, "published"
    record_ = shipped.lookup(weights.name, wf.filename)
    if record_ is not None:
        return record_["sha256"], "shipped"
    if manifest is None:
        manifest = read_manifest(folder(weights))
    entry = manifest.get(wf.filename)
    if entry and entry.get("sha256"):
        return entry["sha256"], "first-use"
    return None, "none"


REFERENCE_TEXT = {"published": "declared", "shipped": "shipped in srarena's checksums.json",
                  "first-use": "recorded at its first install"}


def _stat_matches(path: Path, entry: dict[str, Any] | None) -> bool:
    if not entry:
        return False
    stat = path.stat()
    return stat.st_size == entry.get("size") and stat.st_mtime_ns == entry.get("mtime_ns")


def known_sha256(path: Path) -> str | None:
    """The recorded sha256 of ``path`` if its folder's manifest matches the file as it is."""
    path = Path(path)
    entry = read_manifest(path.parent).get(path.name)
    try:
        return entry["sha256"] if entry and _stat_matches(path, entry) else None
    except OSError:
        return None


# --- installing -----------------------------------------------------------------------------


def copy_to_part(source: Path, part: Path) -> str:
    """Copy ``source`` to ``part`` (flushed to disk) and return the copy's sha256."""
    digest = hashlib.sha256()
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(part, "wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def install(weights: WeightSet, filename: str, part: Path, sha256: str, source: str) -> Path:
    """Give a checked ``.part`` its final name atomically and record its sha256."""
    base = folder(weights)
    final = base / filename
    os.replace(part, final)
    record(base, filename, sha256, source)
    return final


def discard(part: Path) -> None:
    """Delete an unusable partial file, and its set folder if that leaves it empty."""
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    with contextlib.suppress(OSError):
        part.parent.rmdir()


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileStatus:
    """Where one declared file stands in the cache."""

    weights: str
    filename: str
    path: Path
    state: State
    sha256: str | None = None
    expected: str | None = None
    size: int | None = None
    source: str = ""
    detail: str = ""
    checksum: Checksum = "none"

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES

    def describe(self) -> str:
        text = STATE_HELP[self.state]
        return f"{text} ({self.detail})" if self.detail else text


def file_status(weights: WeightSet, wf: WeightFile, rehash: bool = False,
                manifest: dict[str, Any] | None = None) -> FileStatus:
    """The state of one file; with ``rehash`` the sha256 is computed from the bytes.

    Without ``rehash`` only the manifest is read: a file whose size and modification time
    still match its record has the recorded sha256, any other present file is
    ``unchecked``. With ``rehash`` a matching file's record is refreshed. The sha256 is
    compared with :func:`expected`'s (declared, shipped or recorded at first install).
    ``manifest``: the set's manifest when the caller has read it already.
    """
    base = folder(weights)
    path = base / wf.filename
    manifest = read_manifest(base) if manifest is None else manifest
    reference, origin = expected(weights, wf, manifest)
    common = dict(weights=weights.name, filename=wf.filename, path=path, expected=reference,
                  checksum=origin)
    if not path.is_file():
        parts = partials(weights, wf.filename)
        if parts:
            size = max(p.stat().st_size for p in parts)
            return FileStatus(**common, state="partial", size=size, detail=f"{size} bytes so far")
        return FileStatus(**common, state="missing", size=wf.size)
    entry = manifest.get(wf.filename)
    size = path.stat().st_size
    source = entry.get("source", "") if entry else ""
    if not rehash:
        if not _stat_matches(path, entry):
            detail = "changed since it was installed" if entry else "not installed by srarena"
            return FileStatus(**common, state="unchecked", size=size, source=source, detail=detail)
        assert entry is not None
        sha = entry["sha256"]
    else:
        sha = sha256_file(path)
    if reference is None:
        return FileStatus(
            **common, state="unchecked", sha256=sha, size=size, detail="no sha256 to compare"
        )
    if sha != reference:
        return FileStatus(
            **common, state="mismatch", sha256=sha, size=size, source=source,
            detail=f"{REFERENCE_TEXT[origin]} {reference[:12]}…, file has {sha[:12]}…",
        )
    if rehash and not _stat_matches(path, entry):
        record(base, wf.filename, sha, source or "placed by hand")
    state: State = "recorded" if origin == "first-use" else "verified"
    return FileStatus(**common, state=state, sha256=sha, size=size, source=source)


def status(weights: WeightSet, rehash: bool = False) -> list[FileStatus]:
    """The state of every file of a set (see :func:`file_status`)."""
    manifest = read_manifest(folder(weights))
    return [file_status(weights, wf, rehash=rehash, manifest=manifest) for wf in weights.files]
