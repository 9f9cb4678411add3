"""One writer per run folder: an advisory lock that the system releases when its holder ends.

The lock is ``fcntl.flock`` on ``<run>/.srarena.lock``, held for the whole run, so it is
released on exit, on an exception, on Ctrl-C and on ``kill -9`` alike: a crash never leaves a
folder locked. The file names its holder (pid, host, command, start time) so that a second
run can say who holds the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

LOCK_NAME = ".srarena.lock"


class FolderBusy(RuntimeError):
    """Another process holds the run folder."""

    def __init__(self, folder: Path, holder: dict[str, Any]) -> None:
        self.folder, self.holder = folder, holder
        super().__init__(f"run folder {folder} is in use by {describe(holder)}: wait for it to "
                         "finish (or rerun with --wait), or give this run another --out")


def describe(holder: dict[str, Any]) -> str:
    """``pid 123 on host, since 12:00:01 (srarena bench ...)`` from a lock file's record."""
    if not holder:
        return "another srarena process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    text = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {since}"
    return text + (f" ({holder['command']})" if holder.get("command") else "")


def _holder(handle: IO[str]) -> dict[str, Any]:
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except ValueError:
        return {}


@contextlib.contextmanager
def hold(folder: Path, wait: bool = False,
         waiting: Callable[[dict[str, Any]], None] | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block; the folder is created if needed.

    Raises :class:`FolderBusy` when another process holds it, unless ``wait``: then
    ``waiting(holder)`` is called once and the call blocks until the lock is free.
    """
    import fcntl

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            if not wait:
                raise FolderBusy(folder, holder) from None
            if waiting is not None:
                waiting(holder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                  "command": " ".join(["srarena", *sys.argv[1:]]) if sys.argv else ""}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(record))
        handle.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
