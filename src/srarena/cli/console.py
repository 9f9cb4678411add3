"""Rich rendering for the terminal: progress of a run and its closing summary.

The progress shows, per cell, the current rate (over the last seconds, not since the run
began) and the time left at that rate. Failures are said live once per (component, reason)
and counted at the end; what could not run is said once, at the end, in one short block
(every component and its fix with ``--verbose``).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID
from rich.progress import TextColumn as _TextColumn
from rich.table import Column as _TableColumn
from rich.text import Text

from ..engine.reporter import Reporter
from . import notices
from .layout import Column, print_table

if TYPE_CHECKING:
    from rich.progress import Task

    from ..engine.runner import Summary

RATE_WINDOW = 10.0
"""Seconds of finished items the rate is measured over."""
GROUPS_SHOWN = 8
"""Kinds of failure listed in the closing summary before "… N more"."""


class MovingRate:
    """Items per second over the items finished in the last ``window`` seconds (the last two
    at least, for items slower than the window). The caller gives the times."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self.times: deque[float] = deque()

    def add(self, now: float) -> None:
        self.times.append(now)
        while len(self.times) > 2 and self.times[0] < now - self.window:
            self.times.popleft()

    def rate(self) -> float | None:
        """None until two items have finished."""
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return None
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


def clock_text(seconds: float) -> str:
    """``0:07``, ``12:03``, ``1:02:03``."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def pace_text(rate: float | None, remaining: int) -> str:
    """``2.41/s eta 0:07`` (``done`` when nothing remains; empty until a rate is known)."""
    if rate is None:
        return ""
    eta = "done" if remaining <= 0 else f"eta {clock_text(remaining / rate)}"
    return f"{rate:.2f}/s {eta}"


class _StageColumn(ProgressColumn):
    """The cell's stage (e.g. ``upscaler 93 % busy``), cut with an ellipsis when the line is
    full: the first column to give way."""

    def render(self, task: Task) -> Text:
        return Text(task.fields.get("stage", ""), style="dim", no_wrap=True,
                    overflow="ellipsis")


class RichReporter(Reporter):
    """Progress bars: each cell's items, rate and ETA, and an implementation's inner loop;
    the first failure of each (component, reason)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.label = _TableColumn(width=1, overflow="fold")
        """Fixed to the longest label that fits; a longer one wraps at its spaces."""
        columns: list[ProgressColumn] = [_TextColumn("{task.description}",
                                                     table_column=self.label)]
        if console.width >= 70:
            columns.append(BarColumn(bar_width=10))
        columns += [MofNCompleteColumn(table_column=_TableColumn(no_wrap=True)),
                    _TextColumn("{task.fields[pace]}", table_column=_TableColumn(no_wrap=True)),
                    _StageColumn()]
        self.progress = Progress(*columns, console=console)
        self.cells: dict[str, TaskID] = {}
        self.rates: dict[str, MovingRate] = {}
        self.inner_task: TaskID | None = None
        self.failures: dict[tuple[str, str], int] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def _fit_label(self, label: str) -> None:
        """Widen the label column to ``label`` while the other columns keep ~40 characters."""
        longest_word = max(len(word) for word in label.split())
        room = max(self.console.width - 42, longest_word)
        self.label.width = max(self.label.width or 1, min(len(label), room))

    def cell_started(self, label: str, total: int) -> None:
        self._fit_label(label)
        self.cells[label] = self.progress.add_task(label, total=total, stage="", pace="")
        self.rates[label] = MovingRate()

    def item_done(self, label: str) -> None:
        if label in self.cells:
            self.progress.advance(self.cells[label])
        if self.inner_task is not None:
            self.progress.remove_task(self.inner_task)
            self.inner_task = None

    def inner(self, done: int, total: int, what: str) -> None:
        if self.inner_task is None:
            self.inner_task = self.progress.add_task(f"  {what}", total=total, stage="",
                                                     pace="")
        self.progress.update(self.inner_task, completed=done, total=total,
                             description=f"  {what}")

    def stage(self, label: str, text: str) -> None:
        """Called once per computed item (reused ones only advance the bar): the rate."""
        if label not in self.cells:
            return
        task = self._task(label)
        rate = self.rates[label]
        rate.add(self.progress.get_time())
        remaining = int((task.total or 0) - task.completed)
        self.progress.update(self.cells[label], stage=text,
                             pace=pace_text(rate.rate(), remaining))

    def _task(self, label: str) -> Task:
        task_id = self.cells[label]
        return next(t for t in self.progress.tasks if t.id == task_id)

    def cell_finished(self, label: str) -> None:
        self.cells.pop(label, None)

    def note(self, text: str) -> None:
        self.progress.console.print(text)

    def failed(self, component: str, where: str, reason: str) -> None:
        key = (component, notices.reason_key(reason))
        self.failures[key] = self.failures.get(key, 0) + 1
        if self.failures[key] == 1:
            self.progress.console.print(Text.assemble(("failed", "red"), f" {where}: {reason}"))


# --- the closing summary -------------------------------------------------------------------


def say(console: Console, text: Text, indent: int = 0) -> None:
    """Print ``text`` wrapped to the console's width, every line indented by ``indent``
    (no trailing spaces)."""
    for line in text.wrap(console, max(console.width - indent, 20)):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


def short_protocol(text: str) -> str:
    """A protocol's first clause (up to its first ": " or "; ")."""
    for mark in (": ", "; "):
        head, found, _ = text.partition(mark)
        if found and len(head) >= 20:
            return head
    return text


def print_leaderboard(console: Console, frame: Any, directions: dict[str, bool],
                      protocols: dict[str, str], verbose: bool) -> None:
    """The mean of each metric per upscaler (best first), and how each metric was computed."""
    metrics = [c for c in frame.columns if c != "images"]
    columns = [Column("upscaler", whole=True)]
    for i, metric in enumerate(metrics):
        arrow = "↑" if directions.get(metric, True) else "↓"
        columns.append(Column(metric, f"{metric} {arrow}", priority=0 if i == 0 else i + 1,
                              whole=True, justify="right"))
    columns.append(Column("images", priority=len(metrics) + 1, whole=True, justify="right"))
    rows = [{"upscaler": str(name), "images": str(int(row["images"])),
             **{m: "" if row[m] != row[m] else f"{row[m]:.4f}" for m in metrics}}
            for name, row in frame.iterrows()]
    print_table(console, columns, rows, title="Leaderboard (mean over all images)",
                more="the report")
    for metric in metrics:
        if protocols.get(metric):
            text = protocols[metric] if verbose else short_protocol(protocols[metric])
            say(console, Text(f"{metric}: {text}", style="dim"), 2)
    if not verbose and any(short_protocol(protocols.get(m, "")) != protocols.get(m, "")
                           for m in metrics):
        say(console, Text("(in full: srarena metrics --protocols, or --verbose)",
                                     style="dim"), 2)


def print_not_run(console: Console, skipped: list[dict[str, str]], heading: str,
                  verbose: bool = False, more: str = "") -> None:
    """What could not run, in one short block under ``heading``: counts by cause with the
    fix of each (and every component with its reason and fix, with ``verbose``; ``more``
    says where what the table leaves out can be read)."""
    if not skipped:
        return
    causes, alone = notices.not_run(skipped)
    if causes:
        console.print(Text(f"{heading}:", style="yellow"))
        for cause in causes:
            say(console, Text(cause.line()), 2)
    for row in alone:
        fix = f" — {notices.fix_hint(row['fix'])}" if row.get("fix") else ""
        line = f" {row['kind']} {row['name']}: {row['reason']}{fix}"
        say(console, Text.assemble(("skipped", "yellow"), line), 2)
    if verbose and causes:
        columns = [Column("name", whole=True), Column("kind", priority=2, whole=True),
                   Column("reason", priority=1, merge_into="name"), Column("fix", whole=True)]
        shared = [row for row in skipped if row not in alone]
        print_table(console, columns, [{**row, "fix": notices.fix_hint(row["fix"])}
                                       for row in shared], more=more)


def print_failures(console: Console, folder: Path, failures: list[dict[str, Any]],
                   scale: int | None) -> None:
    """Failures grouped by (component, reason): count, one example and the fix."""
    if not failures:
        return
    groups = notices.failure_groups(failures, scale)
    console.print(Text(f"Failed: {notices.counted(len(failures), 'item')} (every one in "
                       f"srarena report {folder})", style="red"))
    for group in groups[:GROUPS_SHOWN]:
        say(console, Text(group.headline()), 2)
        if group.detail():
            say(console, Text(group.detail(), style="dim"), 4)
    if len(groups) > GROUPS_SHOWN:
        more = len(groups) - GROUPS_SHOWN
        say(console, Text(f"… {more} more kinds of failure: srarena report "
                                     f"{folder}"), 2)


def print_warnings(console: Console, warnings: list[dict[str, str]]) -> None:
    """One line per upscaler whose outputs needed mending, with a count and an example."""
    by_upscaler: dict[str, list[dict[str, str]]] = {}
    for warning in warnings:
        by_upscaler.setdefault(warning["upscaler"], []).append(warning)
    for name, found in by_upscaler.items():
        first = found[0]
        say(console, Text.assemble(
            ("warning", "yellow"),
            f" {name}: {notices.counted(len(found), 'output')} recorded with a warning, e.g. "
            f"{first['dataset']}/{first['image_id']}: {first['warning']} — a defect of the "
            "upscaler: tell its author"))


def print_summary(console: Console, folder: Path, summary: Summary,
                  verbose: bool = False) -> None:
    """Leaderboard, what could not run (once), and failures grouped with their fixes."""
    from ..analysis.leaderboard import leaderboard
    from ..store import Run

    run = Run.open(folder)
    directions = run.metric_directions()
    frame = leaderboard(run, directions)
    meta = run.meta()
    if not frame.empty:
        protocols = {name: info.get("protocol", "")
                     for name, info in meta.get("metrics", {}).items()}
        print_leaderboard(console, frame, directions, protocols, verbose)
    console.print(f"computed {summary.computed} outputs, reused {summary.reused}, "
                  f"{summary.scores} new scores")
    print_warnings(console, summary.warnings)
    where = "each one below" if verbose else "rerun with --verbose for each one"
    print_not_run(console, summary.skipped, f"Not run here ({where})", verbose,
                  more=f"srarena report {folder}")
    print_failures(console, folder, summary.failures, (meta.get("config") or {}).get("scale"))
    console.print(f"results: {folder}", highlight=False)
