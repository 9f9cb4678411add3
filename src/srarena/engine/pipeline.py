"""The plumbing of the streaming bench: a bounded pool of worker threads, read-ahead in
order, and a clock that says which stage the upscaler waits for.

The upscaler runs in the calling thread, back to back; decoding and hashing inputs,
encoding outputs and scoring run on the pool (PNG codecs, NumPy, Numba and torch release the
GIL while they work). Every queue is bounded by its caller waiting on the oldest future, so
memory holds only what is in flight, whatever the size of the dataset. With ``workers=0``
everything runs inline, in order: the serial reference the streaming path is tested against.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(requested: int | None) -> int:
    """The pool size: ``requested`` when set (0: serial), else one thread per CPU."""
    if requested is None:
        return cpu_count()
    if requested < 0:
        raise ValueError(f"workers must be 0 (serial) or more, not {requested}")
    return requested


class InlinePool(Executor):
    """An executor that runs each task at once in the caller: the serial reference mode."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever reads the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


def make_pool(workers: int) -> Executor:
    """A thread pool of ``workers`` threads, or the inline pool for 0."""
    if workers == 0:
        return InlinePool()
    return ThreadPoolExecutor(workers, thread_name_prefix="srarena")


def in_flight(workers: int) -> int:
    """How many tasks of one stage may wait or run at once (read-ahead, encodes, scores)."""
    return max(2, 2 * workers)


def read_ahead(pool: Executor, items: Iterable[T], load: Callable[[T], R], depth: int,
               clock: StageClock | None = None) -> Iterator[tuple[T, Future[R]]]:
    """``(item, future of load(item))`` in order, with up to ``depth`` loads running ahead;
    the time spent waiting for a load is the clock's ``inputs`` wait."""
    queue: deque[tuple[T, Future[R]]] = deque()
    source = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(queue) < depth:
            item = next(source, None)
            if item is None:
                exhausted = True
                break
            queue.append((item, pool.submit(load, item)))
        if not queue:
            return
        item, future = queue.popleft()
        if clock is not None and not future.done():
            with clock.waiting("inputs"):
                future.exception()
        yield item, future


def drain(futures: deque[Future[R]], limit: int, clock: StageClock | None = None,
          stage: str = "outputs") -> Iterator[R]:
    """Pop and yield the results of finished futures from the front of ``futures``, and wait
    for the oldest while more than ``limit`` are in flight (``limit=0``: wait for all)."""
    while futures and (futures[0].done() or len(futures) > limit):
        if clock is not None and not futures[0].done():
            with clock.waiting(stage):
                futures[0].exception()
        yield futures.popleft().result()


@dataclass
class StageClock:
    """Where the driver's time goes in one cell: computing, or waiting for a stage."""

    started: float | None = None
    """When the cell's first step began: its clock runs from then, not from planning."""
    busy: float = 0.0
    waits: dict[str, float] = field(default_factory=dict)

    def computing(self) -> _Span:
        return _Span(self, None)

    def waiting(self, stage: str) -> _Span:
        return _Span(self, stage)

    def add(self, stage: str | None, seconds: float) -> None:
        if stage is None:
            self.busy += seconds
        else:
            self.waits[stage] = self.waits.get(stage, 0.0) + seconds

    def describe(self, what: str = "upscaler") -> str:
        """E.g. ``upscaler 93 % busy`` or ``upscaler 41 % busy, waiting on metrics``, since
        the cell's first step (the rate is the console's, over its last items)."""
        now = time.perf_counter()
        wall = max(now - (self.started or now), 1e-9)
        busy = 100 * min(self.busy / wall, 1)
        text = f"{what} {busy:.0f} % busy"
        if self.waits and self.busy / wall < 0.9:
            stage, seconds = max(self.waits.items(), key=lambda kv: kv[1])
            if seconds / wall > 0.05:
                text += f", waiting on {stage}"
        return text


class _Span:
    def __init__(self, clock: StageClock, stage: str | None) -> None:
        self.clock, self.stage = clock, stage

    def __enter__(self) -> _Span:
        self.start = time.perf_counter()
        if self.clock.started is None:
            self.clock.started = self.start
        return self

    def __exit__(self, *exc: object) -> None:
        self.clock.add(self.stage, time.perf_counter() - self.start)
