"""What every command answers when something is wrong: one sentence and a documented exit
status, never a traceback (``SRARENA_DEBUG=1`` shows it).

The exception types are imported only when something was raised: ``srarena --help`` stays
light.
"""

from __future__ import annotations

import errno
import os

FAILED, USAGE, ENVIRONMENT, INTERRUPTED = 1, 2, 3, 130
"""The exit statuses besides 0 (see :data:`EXIT_CODES`)."""

EXIT_CODES = """Exit status: 0 when everything that could run succeeded (skipped upscalers, metrics
and empty datasets are listed, not failures); 1 when an item failed (an image, an output, a
score or a whole cell; each is listed with its reason); 2 for a usage error (an unknown name,
a value no run can use, a run folder in use or made with other settings); 3 when this machine
cannot do what was asked (disk full or read-only, no GPU, an output larger than its memory;
rerun the same command once it is fixed); 130 when interrupted (rerun the same command to
resume). SRARENA_DEBUG=1 shows the traceback of an error."""

PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM})


def fail(exc: Exception | str, code: int = FAILED) -> Exception:
    """Say ``error: …`` on stderr; returns the ``typer.Exit`` to raise with ``code``."""
    import typer

    typer.secho(f"error: {exc}", fg="red", err=True)
    return typer.Exit(code)


def debug() -> bool:
    """Whether the user asked for tracebacks (``SRARENA_DEBUG=1``)."""
    return os.environ.get("SRARENA_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def _usage_errors() -> tuple[type[Exception], ...]:
    from ..datasets.files import DatasetError
    from ..engine.chain import ScaleError
    from ..engine.config import ConfigError
    from ..engine.environment import DeviceError
    from ..engine.pinned import RunConflict
    from ..plugins import UnknownComponent
    from ..runlock import FolderBusy
    from ..weights.errors import WeightsError

    return (UnknownComponent, WeightsError, ScaleError, DatasetError, ConfigError, DeviceError,
            RunConflict, FolderBusy)


def _environment_errors() -> tuple[type[Exception], ...]:
    from ..engine.environment import DeviceUnavailable
    from ..engine.limits import TooLarge
    from ..engine.work import DiskError
    from ..store import StoreError
    from ..weights.errors import DownloadError

    return (StoreError, TooLarge, DeviceUnavailable, DownloadError, DiskError)


def _disk_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    return (f"cannot write{where}: {what}. Free space or fix the folder's permissions, then "
            "rerun the same command: it resumes where this run stopped")


def exit_status(exc: BaseException) -> tuple[int, str] | None:
    """``(status, message)`` for an error a user can act on; None for a bug (re-raised)."""
    from ..engine.work import ENVIRONMENT_ERRNOS
    from ..store import StoreError

    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS | PERMISSION_ERRNOS:
        return ENVIRONMENT, _disk_message(exc)
    if isinstance(exc, _environment_errors()):
        text = str(exc)
        if isinstance(exc, StoreError):
            text += ". Free space or fix the folder, then rerun the same command to resume"
        return ENVIRONMENT, text
    if isinstance(exc, _usage_errors()):
        return USAGE, str(exc)
    return None
