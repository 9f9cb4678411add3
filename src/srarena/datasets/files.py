"""Finding image files and parsing dataset arguments (``PATH?key=value&...``)."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl

IMAGE_EXTENSIONS = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".tif", ".tiff", ".webp",
        ".gif", ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".tga", ".qoi", ".jp2", ".j2k",
        ".avif", ".heic", ".heif", ".jxl", ".ico", ".dds", ".sgi", ".rgb", ".ras", ".psd",
    }
)  # fmt: skip
"""Extensions (lower-cased) of files taken as images; a file with one that fails to decode
becomes a failed item with its reason, every other file is ignored."""

IGNORED_FOLDERS = frozenset({"__MACOSX"})


class DatasetError(ValueError):
    """A dataset argument or folder cannot be used; the message says why."""


class EmptyDataset(DatasetError):
    """A dataset that holds no images: nothing to run, which is not a failure."""


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_FOLDERS


def find_images(root: Path) -> list[tuple[str, Path]]:
    """Image files under ``root`` as ``(image_id, path)``, sorted by id.

    Recursive; hidden files and folders (name starting with ``.``, and ``__MACOSX``) are
    skipped, symbolic links to files are followed, links to folders are not; a folder that
    cannot be listed raises :class:`DatasetError`. The id is the path relative to ``root``
    with ``/`` separators and without the extension, in Unicode NFC; files that would share
    an id (``a.png`` and ``a.jpg``) keep their extension (files whose names differ only in
    their Unicode form still share one: the bench keeps them apart).
    """
    found: list[tuple[str, Path]] = []
    for folder, subfolders, files in os.walk(root, onerror=_unreadable):
        subfolders[:] = [d for d in subfolders if not is_hidden(d)]
        for name in files:
            path = Path(folder, name)
            if is_hidden(name) or path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            found.append((_relative(path, root), path))
    stems: dict[str, int] = {}
    for relative, _ in found:
        stem = _strip(relative)
        stems[stem] = stems.get(stem, 0) + 1
    items = [(_strip(rel) if stems[_strip(rel)] == 1 else rel, path) for rel, path in found]
    return sorted(items, key=lambda pair: pair[0])


def _unreadable(exc: OSError) -> None:
    """A folder that cannot be listed fails the dataset: its images would vanish unsaid."""
    raise DatasetError(f"cannot read the folder {exc.filename}: {exc.strerror}") from exc


def _relative(path: Path, root: Path) -> str:
    return unicodedata.normalize("NFC", path.relative_to(root).as_posix())


def _strip(relative: str) -> str:
    return relative[: len(relative) - len(PurePosixPath(relative).suffix)]


def split_query(argument: str) -> tuple[str, str]:
    """``(path, query)``: the whole argument when it names an existing path (so a ``?`` in
    a folder name still works), else the text around its last ``?``."""
    if "?" in argument and not Path(argument).expanduser().exists():
        path, _, query = argument.rpartition("?")
        return path, query
    return argument, ""


def parse_argument(
    argument: str | None, known: dict[str, str], source: str
) -> tuple[Path, dict[str, str]]:
    """Split ``PATH?key=value&key=value`` into the folder and its options.

    ``known`` maps each accepted key to its description (for the error message); the path
    and query are split by :func:`split_query`.
    """
    if not argument:
        raise DatasetError(f"{source}: give a folder, e.g. '{source}:/path/to/images'")
    text, query = split_query(argument)
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise DatasetError(f"{source}: cannot parse options {query!r}: {exc}") from exc
    for key, value in pairs:
        if key not in known:
            accepted = "; ".join(f"{k} ({v})" for k, v in known.items()) or "none"
            raise DatasetError(f"{source}: unknown option {key!r}; accepted: {accepted}")
        if key in options:
            raise DatasetError(f"{source}: option {key!r} given twice")
        options[key] = value
    folder = Path(text).expanduser()
    if not folder.exists():
        raise DatasetError(f"{source}: folder {text!r} does not exist")
    if not folder.is_dir():
        raise DatasetError(f"{source}: {text!r} is not a folder")
    return folder.resolve(), options


def looks_like_study(root: Path) -> bool:
    """True when every image under ``root`` lies at ``root/<Domain>/<dataset>/<file>``."""
    images = find_images(root)
    return bool(images) and all(len(path.relative_to(root).parts) == 3 for _, path in images)
