"""Download progress and sizes as ``weights fetch`` and ``datasets fetch`` show them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def human_size(n: int | None) -> str:
    """Bytes as ``12.3 MB`` (decimal units; ``?`` when unknown)."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return str(n)


def download_progress() -> Any:
    """A rich progress display on stderr: bar, bytes, speed, time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def reporter(progress: Any, prefix: str) -> Callable[[str, int, int | None], None]:
    """The ``progress(label, done, total)`` callback of a download, one bar per label."""
    tasks: dict[str, Any] = {}

    def report(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            tasks[label] = progress.add_task(f"{prefix}/{label}" if prefix else label,
                                             total=total, completed=done)
        else:
            progress.update(tasks[label], completed=done, total=total)

    return report
