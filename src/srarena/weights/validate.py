"""Checking files against an architecture, and installing files a user downloaded by hand.

A weight set's ``validator`` (``"module:func"``) is called as ``validator(filename, path)``
and returns a list of problems (empty when the file fits). ``filename`` is the declared
name; ``path`` may be a temporary name (``*.part``) or a user's file with any name, so a
validator must not rely on ``path``'s suffix. :func:`statedict.check_state_file` does the
usual key-and-shape comparison with a readable diff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..specs import WeightFile, WeightSet, load_factory
from . import cache
from .errors import ChecksumMismatch, WeightsError, WeightsInvalid, WeightsMissing


def run_validator(weights: WeightSet, filename: str, path: Path) -> list[str]:
    """Problems the set's validator finds in ``path`` (no validator: only non-emptiness)."""
    path = Path(path)
    if path.stat().st_size == 0:
        return [f"{path} is empty"]
    if not weights.validator:
        return []
    try:
        validator = load_factory(weights.validator)
    except (ImportError, AttributeError, ValueError) as exc:
        return [f"the validator {weights.validator} of {weights.name} cannot be loaded: {exc}"]
    try:
        return [str(problem) for problem in validator(filename, path)]
    except WeightsError as exc:
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - a file that cannot even be read does not fit
        return [f"cannot be read as {weights.name}/{filename}: {type(exc).__name__}: {exc}"]


def check(weights: WeightSet, wf: WeightFile, rehash: bool = False) -> cache.FileStatus:
    """A file's state, hashing it when its record does not cover it (or with ``rehash``).

    A present file with neither a declared nor a recorded sha256 (placed in the cache by
    hand) is run through the validator and, if it fits, its sha256 is recorded now (trust
    on first use); if it does not fit, its state is ``invalid`` with the problems.
    """
    current = cache.file_status(weights, wf, rehash=rehash)
    if current.state == "unchecked" and current.sha256 is None:
        current = cache.file_status(weights, wf, rehash=True)
    if current.state != "unchecked":
        return current
    problems = run_validator(weights, wf.filename, current.path)
    if problems:
        return replace(current, state="invalid", detail="; ".join(problems))
    assert current.sha256 is not None
    cache.record(current.path.parent, wf.filename, current.sha256, "placed by hand")
    return replace(current, state="recorded", source="placed by hand", detail="recorded now")


def verify(weights: WeightSet) -> list[cache.FileStatus]:
    """Re-hash every present file of a set and compare it with its declared or recorded sha256."""
    return [check(weights, wf, rehash=True) for wf in weights.files]


def _invalid(weights: WeightSet, wf: WeightFile, path: Path, problems: list[str]) -> str:
    return (
        f"{path} does not fit {weights.name} ({wf.filename}):\n  - " + "\n  - ".join(problems)
    )


def _expand(paths: Iterable[Path], weights: WeightSet) -> list[Path]:
    names = {wf.filename for wf in weights.files}
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = [path / name for name in sorted(names) if (path / name).is_file()]
            if not inside:
                raise WeightsMissing(
                    f"{path} holds none of {', '.join(sorted(names))} (files of {weights.name})"
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise WeightsMissing(f"{path}: no such file")
    return found


def match_files(weights: WeightSet, paths: Iterable[Path]) -> list[tuple[WeightFile, Path, str]]:
    """Pair each given file with the declared file it is: (declared, path, sha256).

    A one-file set takes a file of any name. Otherwise a file matches by name, or failing
    that by a declared sha256.
    """
    given = _expand(paths, weights)
    by_name = {wf.filename: wf for wf in weights.files}
    by_sha = {wf.sha256: wf for wf in weights.files if wf.sha256}
    pairs: list[tuple[WeightFile, Path, str]] = []
    if len(weights.files) == 1 and len(given) > 1:
        raise WeightsInvalid(
            f"{weights.name} has one file ({weights.files[0].filename}); {len(given)} were given"
        )
    for path in given:
        sha = cache.sha256_file(path)
        if len(weights.files) == 1:
            wf = weights.files[0]
        else:
            wf = by_name.get(path.name) or by_sha.get(sha)
            if wf is None:
                raise WeightsInvalid(
                    f"cannot tell which file of {weights.name} {path} is: expected one of "
                    f"{', '.join(by_name)}; rename it to the file it is"
                )
        if any(other is wf for other, _, _ in pairs):
            raise WeightsInvalid(f"two files were given for {weights.name}/{wf.filename}")
        pairs.append((wf, path, sha))
    return pairs


def add(weights: WeightSet, paths: Iterable[Path]) -> list[cache.FileStatus]:
    """Check files downloaded by hand and install them into the cache.

    Every file is checked before any is installed: its sha256 against the published or
    shipped one, then the architecture through the validator. A file without either has
    its sha256 recorded (replacing an earlier first-use record: adding is an explicit
    decision to trust). Copies go through ``<file>.add.part``; one left by an interrupted
    add is deleted by the next, and a finished add deletes the file's download partials.
    """
    pairs = match_files(weights, paths)
    for wf, path, sha in pairs:
        reference, origin = cache.expected(weights, wf)
        if origin in ("published", "shipped") and sha != reference:
            raise ChecksumMismatch(
                f"{path}: sha256 {sha}, but {weights.name}/{wf.filename} is "
                f"{cache.REFERENCE_TEXT[origin]} as {reference}; it is not the expected file "
                "(sources: " + "; ".join(s.describe() for s in wf.sources) + ")"
            )
        problems = run_validator(weights, wf.filename, path)
        if problems:
            raise WeightsInvalid(_invalid(weights, wf, path, problems))
    cache.clean_stale_adds(weights)
    results = []
    for wf, path, sha in pairs:
        part = cache.adding_path(weights, wf.filename)
        copied = cache.copy_to_part(path, part)
        if copied != sha:
            cache.discard(part)
            raise ChecksumMismatch(f"{path} changed while it was being copied; try again")
        cache.install(weights, wf.filename, part, sha, f"added from {path.name}")
        for download in cache.partials(weights, wf.filename):
            download.unlink(missing_ok=True)  # the file is installed: nothing to resume
        results.append(cache.file_status(weights, wf))
    return results


_checked_overrides: set[tuple[str, str, int, int]] = set()


def check_override(weights: WeightSet, override: Path) -> dict[str, Path]:
    """Paths of a set's files taken from ``override`` (a file or a folder), validated.

    A file stands for a one-file set; a folder must hold the declared file names. The
    validator runs once per file version per process.
    """
    override = Path(override)
    if override.is_file():
        if len(weights.files) != 1:
            raise WeightsInvalid(
                f"--weights {override}: {weights.name} has {len(weights.files)} files "
                f"({', '.join(wf.filename for wf in weights.files)}); give a folder holding them"
            )
        paths = {weights.files[0].filename: override}
    elif override.is_dir():
        paths = {wf.filename: override / wf.filename for wf in weights.files}
        absent = [name for name, path in paths.items() if not path.is_file()]
        if absent:
            raise WeightsMissing(
                f"--weights {override}: the folder lacks {', '.join(absent)} "
                f"(files of {weights.name})"
            )
    else:
        raise WeightsMissing(f"--weights {override}: no such file or folder")
    by_name = {wf.filename: wf for wf in weights.files}
    for name, path in paths.items():
        stat = path.stat()
        key = (weights.name, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key in _checked_overrides:
            continue
        problems = run_validator(weights, name, path)
        if problems:
            raise WeightsInvalid("--weights: " + _invalid(weights, by_name[name], path, problems))
        _checked_overrides.add(key)
    return paths
