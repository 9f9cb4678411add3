"""Downloads with the standard library: resumable, checksummed, fast to fail, offline-aware.

A file is downloaded into ``<file>.part`` in its set's cache folder (Google Drive files
through gdown: :mod:`.gdrive`). An interrupted transfer resumes with an HTTP ``Range``
request, both within one call (a connection cut mid-file is retried from where it stopped)
and across calls (the ``.part`` stays). The finished ``.part`` is checked against its
expected sha256 (published, shipped, or recorded at its first install: see
:func:`cache.expected`; with none, the set's validator) and only then renamed.

``SRARENA_OFFLINE=1`` or ``HF_HUB_OFFLINE=1`` forbids any network access: a missing file
raises :class:`WeightsMissing` at once. ``SRARENA_HTTP_TIMEOUT`` (seconds, default 10)
bounds connecting and each read, so an unreachable host fails in seconds.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..specs import Source, WeightFile, WeightSet
from . import cache, missing_message, offline
from .errors import ChecksumMismatch, DownloadError, WeightsError, WeightsInvalid, WeightsMissing
from .validate import check, run_validator

DownloadProgress = Callable[[str, int, "int | None"], None]
"""``progress(label, bytes_done, bytes_total)`` of a download (total None when unknown)."""

DEFAULT_TIMEOUT = 10.0
READ_CHUNK = 256 * 1024
ATTEMPTS = 4
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def timeout() -> float:
    """Seconds allowed to connect and for each read (``SRARENA_HTTP_TIMEOUT``)."""
    value = os.environ.get("SRARENA_HTTP_TIMEOUT", "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def url_of(source: Source) -> str | None:
    """The download URL of a source; ``None`` for a manual one.

    Hugging Face files resolve to ``<endpoint>/<repo>/resolve/<revision>/<filename>``, the
    endpoint being ``HF_ENDPOINT`` or ``https://huggingface.co``.
    """
    if source.kind == "manual":
        return None
    if source.kind == "huggingface":
        endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or "https://huggingface.co"
        revision = urllib.parse.quote(source.revision, safe="")
        return f"{endpoint}/{source.repo}/resolve/{revision}/{urllib.parse.quote(source.filename)}"
    return source.url


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return
    raise DownloadError(f"{url}: only https:// URLs are downloaded (http:// only on loopback)")


def _user_agent() -> str:
    from .. import __version__

    return f"srarena/{__version__} (+weights service)"


def _start_of(content_range: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", content_range or "")
    return int(match.group(1)) if match else None


def download(
    url: str,
    part: Path,
    label: str,
    progress: DownloadProgress | None = None,
    expected_size: int | None = None,
) -> None:
    """Download ``url`` into ``part``, resuming from the bytes ``part`` already holds.

    A connection cut after some bytes arrived is retried with a ``Range`` request (up to
    ``ATTEMPTS`` tries in all); a failure to connect, an HTTP error or a timeout before any
    byte arrived raises :class:`DownloadError` at once.
    """
    _check_url(url)
    limit = timeout()
    host = urllib.parse.urlsplit(url).hostname
    for _attempt in range(ATTEMPTS):
        have = part.stat().st_size if part.exists() else 0
        if expected_size is not None and have >= expected_size:
            return
        headers = {"User-Agent": _user_agent(), "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            response = urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=limit
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:
                return  # the part already holds the whole file; the checksum decides
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {host}: {reason} (timeout {limit:g} s, SRARENA_HTTP_TIMEOUT)"
            ) from exc
        with response:
            mode = "ab"
            if have and (response.status != 206 or _start_of(
                response.headers.get("Content-Range")) != have):
                have, mode = 0, "wb"  # the server ignored the range: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else expected_size
            received, cut = 0, None
            with open(part, mode) as out:
                if progress is not None:
                    progress(label, have, total)
                while True:
                    try:
                        chunk = response.read1(READ_CHUNK)
                    except (OSError, http.client.HTTPException) as exc:
                        cut = exc
                        break
                    if not chunk:
                        break
                    out.write(chunk)
                    have += len(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(label, have, total)
        if received == 0 and (cut is not None or (total is not None and have < total)):
            raise DownloadError(f"{url}: the transfer stopped with no data ({cut or 'closed'})")
        if cut is None and (total is None or have >= total):
            return
    raise DownloadError(
        f"{url}: connection cut repeatedly ({part.stat().st_size if part.exists() else 0} "
        f"bytes kept in {part.name}; run the same command again to resume)"
    )


# --- fetching a weight set ------------------------------------------------------------------


def transfer(source: Source, part: Path, label: str, progress: DownloadProgress | None = None,
             expected_size: int | None = None) -> str:
    """Download one source's file into ``part`` (resuming) and return where it came from."""
    if source.kind == "gdrive":
        from . import gdrive

        gdrive.download(source, str(part), label, timeout(), ATTEMPTS, progress)
        return source.url
    url = url_of(source)
    assert url is not None, "manual sources are not downloaded"
    download(url, part, label, progress, expected_size)
    return url


def fetch_file(
    weights: WeightSet, wf: WeightFile, progress: DownloadProgress | None = None,
    use_records: bool = True,
) -> cache.FileStatus:
    """Download one file from its first working source, check it, and install it.

    The file is checked against its size and its expected sha256 (:func:`cache.expected`:
    declared, shipped, or recorded at the first install; ``use_records=False`` keeps the
    declared one only, for re-recording). A file with no expected sha256 must pass the set's
    validator, and its sha256 is then recorded.
    """
    if offline():
        raise WeightsMissing(missing_message(weights, [wf.filename]))
    sources = [s for s in wf.sources if s.kind != "manual"]
    if not sources:
        raise WeightsMissing(missing_message(weights, [wf.filename]))
    base = cache.folder(weights)
    part = cache.part_path(weights, wf.filename)
    reference, origin = cache.expected(weights, wf)
    if not use_records and origin != "published":
        reference, origin = None, "none"
    failures: list[WeightsError] = []

    def resuming() -> bool:
        return any(p.stat().st_size for p in cache.partials(weights, wf.filename))

    for source in sources:
        tries = 2 if resuming() else 1
        for _ in range(tries):  # a resumed download that fails its check is redone afresh
            base.mkdir(parents=True, exist_ok=True)
            resumed = resuming()
            try:
                where = transfer(source, part, wf.filename, progress, wf.size)
            except DownloadError as exc:
                failures.append(exc)
                break
            sha = cache.sha256_file(part)
            problem = _check(weights, wf, part, sha, reference, origin, where)
            if problem is None:
                if reference is None:
                    problems = run_validator(weights, wf.filename, part)
                    if problems:
                        cache.discard(part)
                        raise WeightsInvalid(
                            f"{where} does not fit {weights.name}:\n  - " + "\n  - ".join(problems)
                        )
                cache.install(weights, wf.filename, part, sha, where)
                return cache.file_status(weights, wf)
            cache.discard(part)
            failures.append(problem)
            if not resumed:
                break
    if part.is_file() and part.stat().st_size == 0:
        cache.discard(part)
    with contextlib.suppress(OSError):
        base.rmdir()  # only succeeds when nothing was left in it
    if len(failures) == 1:
        raise failures[0]
    mismatch = any(isinstance(f, ChecksumMismatch) for f in failures)
    kind = ChecksumMismatch if mismatch else DownloadError
    lines = "\n  - ".join(str(f) for f in failures)
    raise kind(f"{weights.name}/{wf.filename}: every source failed:\n  - {lines}")


def _check(
    weights: WeightSet, wf: WeightFile, part: Path, sha: str, reference: str | None,
    origin: str, url: str,
) -> ChecksumMismatch | None:
    size = part.stat().st_size
    if wf.size is not None and size != wf.size:
        return ChecksumMismatch(
            f"{weights.name}/{wf.filename} from {url}: {size} bytes, declared {wf.size}; "
            "the file was discarded"
        )
    if reference is not None and sha != reference:
        hint = ""
        if origin == "first-use":
            hint = ("; the upstream file may have changed: download it yourself and run "
                    f"`srarena weights add {weights.name} FILE` to accept it")
        elif origin == "shipped":
            hint = ("; the upstream file differs from the one srarena's maintainers recorded: "
                    "report it, or check the file yourself before you trust it")
        return ChecksumMismatch(
            f"{weights.name}/{wf.filename} from {url}: sha256 {sha}, "
            f"{cache.REFERENCE_TEXT[origin]} {reference}; the file was discarded{hint}"
        )
    return None


def fetch(weights: WeightSet, progress: DownloadProgress | None = None) -> list[cache.FileStatus]:
    """Make every file of a set present and checked, downloading what is missing or bad.

    Files already installed are re-hashed only if they changed since their record. Errors
    of several files are reported together after every file was tried.
    """
    current = [check(weights, wf) for wf in weights.files]
    pending = [st.filename for st in current if not st.ok]
    if pending and offline():
        raise WeightsMissing(missing_message(weights, pending))
    results: list[cache.FileStatus] = []
    failures: list[WeightsError] = []
    for wf, state in zip(weights.files, current, strict=True):
        if state.ok:
            results.append(state)
            continue
        try:
            results.append(fetch_file(weights, wf, progress))
        except WeightsError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise WeightsError("\n".join(str(f) for f in failures))
    return results
