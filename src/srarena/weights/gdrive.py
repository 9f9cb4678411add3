"""Public Google Drive files and folders, through gdown (imported only when a download runs).

A ``gdrive`` source names a Drive file (``https://drive.google.com/file/d/<id>``) or a
folder (``https://drive.google.com/drive/folders/<id>``) and, for a folder, the file's path
inside it. The folder is listed once per process (gdown reads Drive's folder pages, its
subfolders included), the file is picked by that path, and gdown downloads it: Drive's
confirmation page for large files is answered, an interrupted transfer resumes from the
bytes already on disk (gdown keeps them in ``<file>.part<random>.part`` beside the target),
and the finished bytes land in the caller's ``<file>.part``, which the caller checks and
installs. gdown keeps no cookies file (``use_cookies=False``): nothing is written outside
the cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from ..specs import Source
from .errors import DownloadError

FOLDER_RE = re.compile(r"^https://drive\.google\.com/drive/(?:u/\d+/)?folders/([-\w]{10,})")
FILE_RE = re.compile(r"^https://drive\.google\.com/(?:file/d/([-\w]{10,})|.*[?&]id=([-\w]{10,}))")
FOLDER_LIMIT_NOTE = (
    "Drive's folder page lists at most 50 entries per folder; a file beyond them cannot be "
    "found by its name"
)

_listings: dict[str, list[tuple[str, str]]] = {}


def target(source: Source) -> tuple[str, str]:
    """``("folder", id)`` or ``("file", id)`` of a gdrive source's URL."""
    folder = FOLDER_RE.match(source.url)
    if folder:
        return "folder", folder.group(1)
    file = FILE_RE.match(source.url)
    if file:
        return "file", file.group(1) or file.group(2)
    raise DownloadError(f"{source.url}: not a Google Drive folder or file URL")


def _gdown():
    try:
        import gdown
    except ImportError as exc:
        raise DownloadError("Google Drive downloads need gdown, which is not installed: "
                            "`pip install gdown` (a dependency of srarena)") from exc
    return gdown


def _gdown_errors() -> tuple[type[BaseException], ...]:
    import requests

    gdown = _gdown()

    return (gdown.exceptions.DownloadError, gdown.exceptions.FileURLRetrievalError,
            requests.exceptions.RequestException, OSError)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def listing(folder_id: str, limit: float) -> list[tuple[str, str]]:
    """Every file of a Drive folder, subfolders included: ``(path inside it, file id)``."""
    if folder_id in _listings:
        return _listings[folder_id]
    gdown = _gdown()

    try:
        found = gdown.download_folder(id=folder_id, skip_download=True, quiet=True,
                                      use_cookies=False, timeout=(limit, limit))
    except _gdown_errors() as exc:
        raise DownloadError(
            f"cannot list the Google Drive folder {folder_id}: {_reason(exc)} (timeout "
            f"{limit:g} s, SRARENA_HTTP_TIMEOUT)") from exc
    files = [(entry.path.replace("\\", "/"), entry.id) for entry in found or ()]
    _listings[folder_id] = files
    return files


def pick(files: list[tuple[str, str]], wanted: str, where: str) -> str:
    """The id of the one file whose path ends with the components of ``wanted``."""
    parts = PurePosixPath(wanted).parts
    matches = [(path, file_id) for path, file_id in files
               if PurePosixPath(path).parts[-len(parts):] == parts]
    if len(matches) == 1:
        return matches[0][1]
    if matches:
        paths = ", ".join(path for path, _ in matches)
        raise DownloadError(f"{where}: {wanted!r} matches several files ({paths}); the plugin "
                            "must declare a longer path")
    name = parts[-1]
    near = [path for path, _ in files if PurePosixPath(path).name.lower() == name.lower()]
    hint = (f"; files of that name: {', '.join(near)}" if near else
            f"; it lists {len(files)} files" + (f" ({FOLDER_LIMIT_NOTE})" if files else ""))
    raise DownloadError(f"{where}: no file {wanted!r} in the folder{hint}")


def download(source: Source, part: str, label: str, limit: float, attempts: int,
             progress: Callable[[str, int, int | None], None] | None = None) -> None:
    """Download a gdrive source's file into ``part`` (resuming gdown's unfinished bytes)."""
    gdown = _gdown()

    kind, drive_id = target(source)
    if kind == "folder":
        if not source.filename:
            raise DownloadError(f"{source.url}: a folder source must name the file inside it")
        drive_id = pick(listing(drive_id, limit), source.filename, source.url)

    def report(done: int, total: int | None) -> None:
        if progress is not None:
            progress(label, done, total)

    try:
        gdown.download(id=drive_id, output=part, quiet=True, use_cookies=False, resume=True,
                       progress=report, timeout=(limit, limit), retries=attempts - 1)
    except _gdown_errors() as exc:
        raise DownloadError(
            f"Google Drive file {drive_id} ({source.describe()}): {_reason(exc)}; run the same "
            "command again to resume") from exc
