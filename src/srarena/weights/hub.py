"""Hugging Face Hub files named ``hf://owner/repo/path/to/file[@revision]``.

``srarena weights add NAME hf://...`` (and an importer such as ``spandrel``) downloads the
file with the weights service's own resumable HTTPS download
(``<endpoint>/<repo>/resolve/<revision>/<file>``, ``HF_ENDPOINT`` selecting a mirror) into a
staging folder of the cache, ``<cache>/.hub/<owner>--<repo>/<revision>/<file>``, then checks
and installs it like any file added by hand. An interrupted download resumes at the next
``add``; the staged copy is deleted once the file was added or refused.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

from ..specs import Source
from . import cache, offline
from .errors import DownloadError, WeightsMissing

PREFIX = "hf://"


def is_ref(text: str) -> bool:
    """Whether a command-line argument names a Hub file."""
    return str(text).startswith(PREFIX)


def parse(ref: str) -> Source:
    """The ``huggingface`` source of ``hf://owner/repo/file[@revision]``."""
    body = ref[len(PREFIX):]
    path, _, revision = body.rpartition("@") if "@" in body else (body, "", "main")
    parts = PurePosixPath(path).parts
    if len(parts) < 3 or any(part in ("..", ".") for part in parts) or not revision:
        raise ValueError(f"{ref}: a Hugging Face file is hf://OWNER/REPO/PATH/TO/FILE"
                         "[@REVISION]")
    return Source("huggingface", repo="/".join(parts[:2]), filename="/".join(parts[2:]),
                  revision=revision)


def staged(source: Source) -> Path:
    """Where a Hub file is downloaded before it is added."""
    owner, repo = source.repo.split("/")
    return (cache.home() / "weights" / ".hub" / f"{owner}--{repo}" /
            source.revision.replace("/", "--") / source.filename)


def download(ref: str, progress=None) -> Path:
    """Download a Hub file into its staging place (resuming) and return its path."""
    from .download import transfer

    source = parse(ref)
    target = staged(source)
    if target.is_file():
        return target  # downloaded by an earlier add that stopped before checking it
    if offline():
        raise WeightsMissing(f"{ref}: offline mode (SRARENA_OFFLINE/HF_HUB_OFFLINE) downloads "
                             "nothing; run the command with the network allowed")
    part = target.with_name(target.name + cache.PART_SUFFIX)
    part.parent.mkdir(parents=True, exist_ok=True)
    try:
        transfer(source, part, PurePosixPath(source.filename).name, progress)
    except DownloadError:
        if part.is_file() and part.stat().st_size == 0:
            part.unlink()
        raise
    os.replace(part, target)
    return target


def discard(path: Path) -> None:
    """Delete a staged Hub file and the folders it leaves empty."""
    root = cache.home() / "weights" / ".hub"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    for parent in path.parents:
        if parent == root.parent or not parent.is_relative_to(root):
            break
        with contextlib.suppress(OSError):
            parent.rmdir()
