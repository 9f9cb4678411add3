"""Executors run jobs and stream their results back to the driver, which writes them.

``LocalExecutor`` runs in this process, one job after the other; ``RayExecutor``
(``srarena.engine.ray_executor``) spreads them over a Ray cluster. Both yield the same
events, so a run gives the same rows whichever executor ran it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .reporter import Reporter
from .work import (
    FitDone,
    GenerativeJob,
    ItemResult,
    SingleJob,
    run_fit,
    run_generate_job,
    run_single_job,
)

Job = SingleJob | GenerativeJob
Event = ItemResult | FitDone


class Executor(Protocol):
    """Runs jobs; yields ``(job, event)`` as results arrive."""

    def run(self, jobs: list[Job], reporter: Reporter) -> Iterator[tuple[Job, Event]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """In this process: images and checkpoints are written straight into the run folder."""

    def run(self, jobs: list[Job], reporter: Reporter) -> Iterator[tuple[Job, Event]]:
        for job in jobs:
            if isinstance(job, SingleJob):
                for result in run_single_job(job, reporter.inner):
                    yield job, result
                continue
            if job.needs_fit:
                reporter.note(f"{job.spec.name}: fitting on {job.label} ({job.size}²)")
                try:
                    yield job, run_fit(job, reporter.inner)
                except Exception as exc:  # noqa: BLE001 - the cell fails, the run goes on
                    reason = f"fit failed: {type(exc).__name__}: {exc}"
                    for target in job.targets:
                        yield job, ItemResult(target, error=reason)
                    continue
            for result in run_generate_job(job, None, reporter.inner):
                yield job, result

    def close(self) -> None:
        """Nothing to release."""
