"""The statuses srarena records and reports, one vocabulary for the store, the engine and the
availability checks. Each is stored and printed as its value (``Status.OK == "ok"``)."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """What became of an input, a cell, an output, a score, or a component before a run."""

    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"
    """A metric cannot score this input (too small, wrong kind): not an error of the metric."""
    SKIPPED = "skipped"
    """A cell not run because its upscaler cannot run here (see the availability statuses)."""
    NEEDS_EXTRA = "needs extra"
    NEEDS_WEIGHTS = "needs weights"
    NEEDS_GPU = "needs a GPU"

    def __str__(self) -> str:
        return self.value


FINISHED_SCORE = (Status.OK, Status.REFUSED)
"""Score statuses that a rerun keeps (a refusal is an answer; a failure is retried)."""
