"""Safe extraction of downloaded dataset archives (zip, tar, tar.gz).

Every member is checked before anything is written: its path must stay inside the target
folder (no absolute path, no ``..``, no drive letter), only regular files and folders are
written (links, devices and FIFOs are refused), and the member count and the total
uncompressed size are bounded, so that a hostile or broken archive cannot write outside the
cache or fill the disk.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .files import DatasetError

MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 64 * 1024**3
CHUNK = 1 << 20


class UnsafeArchive(DatasetError):
    """An archive member would escape the target folder, is a link, or exceeds a limit."""


@dataclass(frozen=True)
class Member:
    """One file or folder of an archive, as checked before extraction."""

    path: PurePosixPath
    size: int
    is_dir: bool


def _safe_path(name: str, archive: Path) -> PurePosixPath:
    clean = name.replace("\\", "/")
    path = PurePosixPath(clean)
    if (clean.startswith("/") or ".." in path.parts or (path.parts and ":" in path.parts[0])
            or not path.parts):
        raise UnsafeArchive(f"{archive.name}: member {name!r} would be written outside the "
                            "target folder; the archive was refused")
    return path


def _zip_members(archive: Path, handle: zipfile.ZipFile) -> Iterator[tuple[Member, Any]]:
    for info in handle.infolist():
        mode = (info.external_attr >> 16) & 0o170000
        if mode and mode not in (0o100000, 0o040000):  # a link or a special file (Unix attrs)
            raise UnsafeArchive(f"{archive.name}: member {info.filename!r} is not a regular "
                                "file or folder (links are refused)")
        yield Member(_safe_path(info.filename, archive), info.file_size, info.is_dir()), info


def _tar_members(archive: Path, handle: tarfile.TarFile) -> Iterator[tuple[Member, Any]]:
    for info in handle:
        if not (info.isfile() or info.isdir()):
            raise UnsafeArchive(f"{archive.name}: member {info.name!r} is not a regular file "
                                "or folder (links and devices are refused)")
        yield Member(_safe_path(info.name, archive), info.size, info.isdir()), info


def extract(archive: Path, target: Path, *, max_members: int = MAX_MEMBERS,
            max_bytes: int = MAX_TOTAL_BYTES) -> int:
    """Extract ``archive`` into the (new or empty) folder ``target``; returns the file count.

    Raises :class:`UnsafeArchive` (nothing is written) for a member outside ``target``, a
    link or special file, more than ``max_members`` members or more than ``max_bytes``
    uncompressed bytes.
    """
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            return _write(archive, list(_zip_members(archive, handle)), handle.open, target,
                          max_members, max_bytes)
    try:
        with tarfile.open(archive, "r:*") as handle:
            return _write(archive, list(_tar_members(archive, handle)), handle.extractfile,
                          target, max_members, max_bytes)
    except tarfile.TarError:
        raise DatasetError(f"{archive.name} is neither a zip nor a tar archive") from None


def _write(archive: Path, members: list[tuple[Member, Any]], opener: Callable[[Any], Any],
           target: Path, max_members: int, max_bytes: int) -> int:
    if len(members) > max_members:
        raise UnsafeArchive(f"{archive.name}: {len(members)} members, more than the limit of "
                            f"{max_members}")
    total = sum(m.size for m, _ in members)
    if total > max_bytes:
        raise UnsafeArchive(f"{archive.name}: {total} bytes uncompressed, more than the limit "
                            f"of {max_bytes}")
    target.mkdir(parents=True, exist_ok=True)
    files = 0
    for member, info in members:
        destination = target.joinpath(*member.path.parts)
        if member.is_dir:
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with opener(info) as src, open(destination, "wb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > member.size:  # a size field that lies
                    raise UnsafeArchive(f"{archive.name}: member {member.path} is larger "
                                        "than it declares")
                out.write(chunk)
        files += 1
    return files


def remove_tree(path: Path) -> None:
    """Delete a folder the cache made (links inside are removed, never followed)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
