"""Running jobs on a Ray cluster (``srarena bench --executor ray``; extra ``srarena[ray]``).

Each single-image cell is split into chunks of images, each chunk one Ray task with the
resources the upscaler declares (GPUs, memory). A generative cell is one fitting task and
generation tasks that take the fitted checkpoint as an argument, so Ray runs them after it.
Results stream back to the driver, which alone writes the database, with the same keys as a
local run. A task whose worker dies is retried ``max_retries`` times by Ray, then its images
are recorded as failed with the reason. When workers can read the run folder (shared
storage, checked at start) they write images and checkpoints there; otherwise images and
checkpoints travel through Ray's object store.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .executors import Event, Job
from .reporter import Reporter
from .work import (
    FitDone,
    GenerativeJob,
    ItemResult,
    SingleJob,
    pack_checkpoint,
    run_fit,
    run_generate_job,
    run_single_job,
)

SHARED_CHECK = ".srarena-shared-check"


def _single_chunk(job: SingleJob) -> list[ItemResult]:
    return list(run_single_job(job))


def _with_pixels(job: SingleJob) -> tuple[SingleJob, list[ItemResult]]:
    """The chunk with its inputs read (they travel with the task: a worker may not see the
    driver's files), and an error result for each input that cannot be read."""

    targets, failed = [], []
    for target in job.targets:
        try:
            targets.append(replace(target, lr=target.read(), load=None))
        except Exception as exc:  # noqa: BLE001 - one failed item
            failed.append(ItemResult(target, error=f"{type(exc).__name__}: {exc}"))
    return replace(job, targets=targets), failed


def _held(images: list[Any]) -> list[Any]:
    """Readers of arrays already read (picklable, so a fit's images travel with it)."""
    from functools import partial

    import numpy as np

    return [partial(np.asarray, read()) for read in images]


def _fit(job: GenerativeJob) -> FitDone:
    return run_fit(job)


def _generate_chunk(job: GenerativeJob, fitted: FitDone) -> list[ItemResult]:
    return list(run_generate_job(job, fitted.files))


def _can_read(path: str, token: str) -> bool:
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


class RayExecutor:
    """Spreads jobs over a Ray cluster (``address``: None starts a local one, or 'auto')."""

    def __init__(self, address: str | None = None, max_retries: int = 2, chunk_size: int = 8,
                 num_cpus: int | None = None) -> None:
        import ray

        self.ray = ray
        self.max_retries = max_retries
        self.chunk_size = chunk_size
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        self.remote_single = ray.remote(_single_chunk)
        self.remote_fit = ray.remote(_fit)
        self.remote_generate = ray.remote(_generate_chunk)

    def shared_storage(self, folder: Path) -> bool:
        """True when a Ray worker reads the run folder as the driver does."""
        token = secrets.token_hex(8)
        marker = folder / SHARED_CHECK
        marker.write_text(token)
        try:
            return bool(self.ray.get(self.ray.remote(_can_read).remote(str(marker.resolve()),
                                                                          token)))
        finally:
            marker.unlink(missing_ok=True)

    def _options(self, job: Job) -> dict[str, Any]:
        resources = job.spec.resources
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": self.max_retries}
        if resources.gpus:
            options["num_gpus"] = resources.gpus
        if resources.memory_gb > 1:
            options["memory"] = int(resources.memory_gb * 2**30)
        return options

    def _chunks(self, job: Any) -> list[Any]:
        """The job cut into tasks of ``chunk_size`` targets; inside each, the task streams as
        in process (one thread for reading and writing beside the upscaler)."""

        streaming = replace(job.streaming, workers=1)
        return [replace(job, targets=job.targets[i : i + self.chunk_size], streaming=streaming)
                for i in range(0, len(job.targets), self.chunk_size)]

    def run(self, jobs: list[Job], reporter: Reporter) -> Iterator[tuple[Job, Event]]:
        if not jobs:
            return
        shared = self.shared_storage(jobs[0].folder)
        reporter.note(f"ray: {len(jobs)} cells; images travel by "
                      + ("the shared run folder" if shared else "Ray's object store"))
        pending: dict[Any, tuple[Job, str, Any]] = {}
        for job in jobs:
            job.shared, job.in_process = shared, False
            options = self._options(job)
            if isinstance(job, SingleJob):
                for chunk in self._chunks(job):
                    chunk, unreadable = _with_pixels(chunk)
                    for result in unreadable:
                        yield job, result
                    if chunk.targets:
                        pending[self.remote_single.options(**options).remote(chunk)] = \
                            (job, "items", chunk)
                continue
            if job.needs_fit:
                try:
                    held = replace(job, images=_held(job.images or []))
                except Exception as exc:  # noqa: BLE001 - the fit cannot start
                    for target in job.targets:
                        yield job, ItemResult(target, error=f"fit failed: cannot read the "
                                                            f"dataset: {type(exc).__name__}: {exc}")
                    continue
                fitted = self.remote_fit.options(**options).remote(held)
                pending[fitted] = (job, "fit", job)
            else:
                files = None if shared else pack_checkpoint(job.folder / job.fit_dir)
                fitted = self.ray.put(FitDone(files))
            lean = _without_images(job)
            for chunk in self._chunks(lean):
                pending[self.remote_generate.options(**options).remote(chunk, fitted)] = \
                    (job, "items", chunk)
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            job, kind, part = pending.pop(ready[0])
            try:
                value = self.ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - a task that failed after its retries
                reason = (f"ray task failed after {self.max_retries} retries: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                if kind == "items":
                    for target in part.targets:
                        yield job, ItemResult(target, error=reason)
                continue
            if kind == "fit":
                yield job, value
            else:
                for result in value:
                    yield job, result

    def close(self) -> None:
        """Leave the cluster running (it may be shared); a local one ends with the process."""


def _without_images(job: GenerativeJob) -> GenerativeJob:

    return replace(job, images=None)
