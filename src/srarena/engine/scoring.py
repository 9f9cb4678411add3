"""Scoring images with metrics in batches, isolating the inputs a metric refuses; and the
bench's scorer, which scores on the worker pool while the upscaler goes on."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..components import InputRefused, Metric
from ..status import Status
from .pipeline import StageClock, drain


@dataclass
class ScoreOutcome:
    """One image's score: ``status`` is ok, refused (the metric cannot score it) or failed."""

    value: float | None
    status: Status
    reason: str | None = None
    seconds: float = 0.0


def _refusal(metric: Metric, image: np.ndarray, reference: np.ndarray | None) -> str | None:
    spec = metric.spec
    side = min(image.shape[:2])
    if side < spec.min_size:
        return f"{spec.name} needs images of at least {spec.min_size}px per side, got {side}px"
    if spec.kind == "full-reference" and reference is None:
        return f"{spec.name} needs an HR ground truth, which this dataset lacks"
    return None


def score_batch(
    metric: Metric,
    images: Sequence[np.ndarray],
    references: Sequence[np.ndarray | None],
) -> list[ScoreOutcome]:
    """Score ``images``; a batch that raises is retried one by one to isolate the culprit."""
    outcomes: list[ScoreOutcome | None] = [None] * len(images)
    todo = []
    for index, (image, reference) in enumerate(zip(images, references, strict=True)):
        reason = _refusal(metric, image, reference)
        if reason:
            outcomes[index] = ScoreOutcome(None, Status.REFUSED, reason)
        else:
            todo.append(index)
    full_reference = metric.spec.kind == "full-reference"
    if todo:
        start = time.perf_counter()
        try:
            values = metric.score(
                [images[i] for i in todo],
                [references[i] for i in todo] if full_reference else None,  # type: ignore[misc]
            )
            if len(values) != len(todo):
                raise RuntimeError(f"{metric.spec.name} returned {len(values)} scores "
                                   f"for {len(todo)} images")
            each = (time.perf_counter() - start) / len(todo)
            for index, value in zip(todo, values, strict=True):
                outcomes[index] = _value(metric, value, each)
        except Exception:  # noqa: BLE001 - isolate the failing input(s)
            for index in todo:
                outcomes[index] = _score_one(metric, images[index], references[index])
    return [o for o in outcomes if o is not None]


def _value(metric: Metric, value: float, seconds: float) -> ScoreOutcome:
    value = float(value)
    if np.isnan(value):  # +inf is a valid PSNR (identical images); NaN never is
        return ScoreOutcome(None, Status.FAILED, f"{metric.spec.name} returned {value}", seconds)
    return ScoreOutcome(value, Status.OK, None, seconds)


def _score_one(metric: Metric, image: np.ndarray, reference: np.ndarray | None) -> ScoreOutcome:
    start = time.perf_counter()
    try:
        refs = [reference] if metric.spec.kind == "full-reference" else None
        (value,) = metric.score([image], refs)  # type: ignore[list-item]
    except InputRefused as exc:
        return ScoreOutcome(None, Status.REFUSED, str(exc))
    except Exception as exc:  # noqa: BLE001
        return ScoreOutcome(None, Status.FAILED, f"{type(exc).__name__}: {exc}")
    return _value(metric, value, time.perf_counter() - start)


@dataclass
class ToScore:
    """An output waiting for its scores: the image (or how to read it), its HR reader, and
    the metrics that still have to score it."""

    output_key: str
    dataset: str
    image_id: str
    image: np.ndarray | Callable[[], np.ndarray]
    hr: Callable[[], np.ndarray] | None
    metrics: list[str] = field(default_factory=list)


Scored = tuple[ToScore, str, ScoreOutcome]
"""One metric's outcome on one output."""


class Scorer:
    """Scores outputs in batches on ``pool`` while the driver goes on.

    Outputs gather into batches of the metrics' largest ``batch_size``; each full batch is one
    task on the pool, which reads the images (and HR references, once per batch) and runs
    every metric on them. A metric instance is used by one task at a time (its lock); on
    CUDA each metric launches its work on a stream of its own, so that it does not wait for
    (or hold up) the upscaler's kernels. At most ``limit`` batches are in flight: adding more
    waits for the oldest (the clock's ``metrics`` wait).
    """

    def __init__(self, metrics: dict[str, Metric], pool: Executor, limit: int,
                 clock: Callable[[], StageClock | None] = lambda: None) -> None:
        self.metrics = metrics
        self.pool = pool
        self.limit = limit
        self.clock = clock
        self.size = max((m.spec.batch_size for m in metrics.values()), default=1)
        self.locks = {name: threading.Lock() for name in metrics}
        self.streams: dict[str, Any] = {}
        self.pending: list[ToScore] = []
        self.running: deque[Future[list[Scored]]] = deque()

    def add(self, item: ToScore) -> Iterator[Scored]:
        """Queue an output; yields the outcomes of batches that have finished meanwhile."""
        self.pending.append(item)
        if len(self.pending) >= self.size:
            self._submit()
        for done in drain(self.running, self.limit, self.clock(), "metrics"):
            yield from done

    def finish(self) -> Iterator[Scored]:
        """Score what is queued and yield every outcome still to come."""
        if self.pending:
            self._submit()
        for done in drain(self.running, 0, self.clock(), "metrics"):
            yield from done

    def _submit(self) -> None:
        batch, self.pending = self.pending, []
        self.running.append(self.pool.submit(self._score, batch))

    def _score(self, batch: list[ToScore]) -> list[Scored]:
        scored: list[Scored] = []
        images: dict[int, np.ndarray] = {}
        for index, item in enumerate(batch):
            try:
                images[index] = item.image() if callable(item.image) else item.image
            except Exception as exc:  # noqa: BLE001 - e.g. an output file damaged since
                reason = f"cannot read the output: {type(exc).__name__}: {exc}"
                scored += [(item, name, ScoreOutcome(None, Status.FAILED, reason))
                           for name in item.metrics]
        references: dict[int, np.ndarray | str | None] = {}

        def reference(index: int) -> np.ndarray | str | None:
            """The HR image, or why it cannot be read."""
            if index not in references:
                read = batch[index].hr
                try:
                    references[index] = read() if read is not None else None
                except Exception as exc:  # noqa: BLE001
                    references[index] = f"cannot read the HR image: {type(exc).__name__}: {exc}"
            return references[index]

        for name, metric in self.metrics.items():
            todo = [i for i in images if name in batch[i].metrics]
            if metric.spec.kind == "full-reference":
                unreadable = [i for i in todo if isinstance(reference(i), str)]
                scored += [(batch[i], name, ScoreOutcome(None, Status.FAILED, reference(i)))
                           for i in unreadable]
                todo = [i for i in todo if i not in unreadable]
                hr = [reference(i) for i in todo]
            else:
                hr = [None] * len(todo)
            if not todo:
                continue
            with self.locks[name], self._stream(name, metric):
                outcomes = score_batch(metric, [images[i] for i in todo], hr)
            scored += [(batch[i], name, outcome)
                       for i, outcome in zip(todo, outcomes, strict=True)]
        return scored

    def _stream(self, name: str, metric: Metric) -> Any:
        """The metric's own CUDA stream when it runs on CUDA (else nothing)."""
        if not str(metric.context.device).startswith("cuda"):
            return contextlib.nullcontext()
        import torch

        if name not in self.streams:
            self.streams[name] = torch.cuda.Stream(device=metric.context.device)
        return torch.cuda.stream(self.streams[name])
