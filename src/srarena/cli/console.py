"""Rich rendering for the terminal: progress of a run and its closing summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..engine.reporter import Reporter

if TYPE_CHECKING:
    from ..engine.runner import Summary


class RichReporter(Reporter):
    """Progress bars: the current cell's images (with ETA) and an implementation's inner loop."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stage]}", style="dim"),
            console=console,
        )
        self.cells: dict[str, TaskID] = {}
        self.inner_task: TaskID | None = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def cell_started(self, label: str, total: int) -> None:
        self.cells[label] = self.progress.add_task(label, total=total, stage="")

    def item_done(self, label: str) -> None:
        if label in self.cells:
            self.progress.advance(self.cells[label])
        if self.inner_task is not None:
            self.progress.remove_task(self.inner_task)
            self.inner_task = None

    def inner(self, done: int, total: int, what: str) -> None:
        if self.inner_task is None:
            self.inner_task = self.progress.add_task(f"  {what}", total=total, stage="")
        self.progress.update(self.inner_task, completed=done, total=total,
                             description=f"  {what}")

    def stage(self, label: str, text: str) -> None:
        if label in self.cells:
            self.progress.update(self.cells[label], stage=text)

    def cell_finished(self, label: str) -> None:
        self.cells.pop(label, None)

    def note(self, text: str) -> None:
        self.progress.console.print(text)


def leaderboard_table(frame: Any, directions: dict[str, bool], title: str) -> Table:
    table = Table(title=title)
    table.add_column("upscaler")
    metrics = [c for c in frame.columns if c != "images"]
    for metric in metrics:
        arrow = "↑" if directions.get(metric, True) else "↓"
        table.add_column(f"{metric} {arrow}", justify="right")
    table.add_column("images", justify="right")
    for name, row in frame.iterrows():
        cells = ["" if row[m] != row[m] else f"{row[m]:.4f}" for m in metrics]
        table.add_row(str(name), *cells, str(int(row["images"])))
    return table


def print_warnings(console: Console, warnings: list[dict[str, str]]) -> None:
    """One line per upscaler whose outputs needed mending, with a count and an example."""
    from rich.markup import escape

    by_upscaler: dict[str, list[dict[str, str]]] = {}
    for warning in warnings:
        by_upscaler.setdefault(warning["upscaler"], []).append(warning)
    for name, found in by_upscaler.items():
        first = found[0]
        example = escape(f"{first['dataset']}/{first['image_id']}: {first['warning']}")
        console.print(f"[yellow]warning[/] {escape(name)}: {len(found)} output(s) recorded "
                      f"with a warning, e.g. {example} — a defect of the upscaler: tell its "
                      "author", highlight=False)


def print_summary(console: Console, folder: Path, summary: Summary) -> None:
    """Leaderboard, skipped components with their fixes, and failures with reasons."""
    from ..analysis.leaderboard import leaderboard
    from ..store import Run

    run = Run.open(folder)
    directions = run.metric_directions()
    frame = leaderboard(run, directions)
    if not frame.empty:
        table = leaderboard_table(frame, directions, "Leaderboard (mean over all images)")
        metrics = run.meta().get("metrics", {})
        notes = [f"{name}: {info['protocol']}" for name, info in metrics.items()
                 if name in frame.columns and info.get("protocol")]
        console.print(table)
        for note in notes:
            console.print(f"  [dim]{note}[/]")
    console.print(f"computed {summary.computed} outputs, reused {summary.reused}, "
                  f"{summary.scores} new scores")
    print_warnings(console, summary.warnings)
    if summary.skipped:
        table = Table(title="Skipped", title_style="yellow")
        for column in ("kind", "name", "reason", "fix"):
            table.add_column(column)
        for row in summary.skipped:
            table.add_row(row["kind"], row["name"], row["reason"], row["fix"])
        console.print(table)
    if summary.failures:
        table = Table(title=f"Failed items ({len(summary.failures)})", title_style="red")
        for column in ("kind", "upscaler", "dataset", "image", "metric", "reason"):
            table.add_column(column)
        for row in summary.failures[:50]:
            table.add_row(row["kind"], row["upscaler"], row["dataset"], row["image_id"],
                          row["metric"], row["reason"] or "")
        if len(summary.failures) > 50:
            table.caption = f"… {len(summary.failures) - 50} more: see `srarena export {folder}`"
        console.print(table)
    console.print(f"results: {folder}")
