"""Recording a run: the driver's single writer of the run's database.

Every row is committed as it arrives, after its file is in place, so a run killed at any
moment keeps everything finished and a rerun recomputes only what has no ``ok`` row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..status import Status
from ..store import Store
from .reporter import Reporter
from .scoring import Scored
from .work import ItemResult


@dataclass
class Summary:
    """What the run did, for the closing message and the exit status."""

    computed: int = 0
    reused: int = 0
    recomputed: int = 0
    """Finished outputs whose file was missing or changed: computed again."""
    scores: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    """Outputs recorded with a warning (e.g. values outside [0, 1], clipped)."""

    @property
    def exit_code(self) -> int:
        """1 when an item failed or a named dataset could not be read, else 0 (an empty
        dataset or a component that cannot run here is listed, not a failure)."""
        unreadable = any(skip.get("failed") for skip in self.skipped)
        return 1 if self.failures or unreadable else 0


class Recorder:
    """Writes inputs, cells, outputs and scores, and tells the reporter about failures (what
    was skipped is kept in the summary, said once at the end)."""

    def __init__(self, store: Store, reporter: Reporter, summary: Summary) -> None:
        self.store = store
        self.reporter = reporter
        self.summary = summary

    def skip(self, kind: str, name: str, reason: str, fix: str = "",
             failed: bool | None = None) -> None:
        """A component or dataset that will not run, with what fixes it: an ``srarena``
        command or an instruction in words. ``failed``: whether it counts as a failure (by
        default only a dataset that cannot be read does)."""
        failed = kind == "dataset" if failed is None else failed
        self.summary.skipped.append({"kind": kind, "name": name, "reason": reason, "fix": fix,
                                     "failed": failed})

    def input(self, row: dict[str, Any], error: str | None = None, **facts: Any) -> None:
        """An input read (with its hash and size), or one that could not be read."""
        if error is not None:
            self.store.put_input(**row, status=Status.FAILED, reason=error)
            self.reporter.failed(row["dataset"], f"{row['dataset']}/{row['image_id']}", error)
        else:
            self.store.put_input(**row, status=Status.OK, reason=None, **facts)

    def cell(self, status: Status, reason: str | None = None, fix: str | None = None,
             **cell: Any) -> None:
        self.store.put_cell(**cell, status=status, reason=reason, fix=fix)

    def finish_cell(self, cell: dict[str, Any]) -> None:
        """A cell whose items are all recorded: failed when every item failed."""
        failed = self.store.every_output_failed(cell["cell_key"])
        self.cell(Status.FAILED if failed else Status.OK,
                  "every item failed" if failed else None, **cell)

    def output(self, row: dict[str, Any], result: ItemResult, label: str,
               side: dict[str, str]) -> None:
        """An output computed (its image already written) or failed."""
        if result.error:
            self.store.put_output(**row, status=Status.FAILED, reason=result.error,
                                  seconds=result.seconds, info=result.info)
            self.reporter.failed(row["upscaler"], f"{label} {result.target.image_id}",
                                 result.error)
            return
        info = {**result.info, "warnings": result.warnings} if result.warnings else result.info
        stale = self.store.put_output(
            **row, status=Status.OK, reason=None, path=result.target.path, side_outputs=side,
            info=info, tiling=result.tiling, seconds=result.seconds,
            peak_memory_mb=result.peak_memory_mb, sha256=result.sha256)
        for path in stale:  # a superseded output's file, when it lay elsewhere
            self.store.inside(path).unlink(missing_ok=True)
        self.summary.computed += 1
        for warning in result.warnings:
            self.summary.warnings.append({"upscaler": row["upscaler"], "dataset": row["dataset"],
                                          "image_id": row["image_id"], "warning": warning})

    def score(self, scored: Scored, score_key: str, version: str) -> None:
        item, metric, outcome = scored
        self.store.put_score(score_key=score_key, output_key=item.output_key, metric=metric,
                             metric_version=version, value=outcome.value,
                             status=outcome.status, reason=outcome.reason,
                             seconds=outcome.seconds)
        if outcome.status is Status.OK:
            self.summary.scores += 1
        else:
            self.reporter.failed(metric, f"{metric} on {item.dataset}/{item.image_id}",
                                 outcome.reason or "")
