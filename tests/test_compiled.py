"""The threads that run compiled kernels: every task once, errors raised, thread count."""

from __future__ import annotations

import threading

import pytest

from srarena.metrics.niqe import compiled


@pytest.mark.parametrize("threads", ["1", "2", "3"])
@pytest.mark.parametrize("tasks", [0, 1, 2, 5, 8])
def test_every_task_runs_once(monkeypatch, threads, tasks):
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    seen, lock = [], threading.Lock()

    def kernel(first, last):
        with lock:
            seen.extend(range(first, last))

    compiled.run_split(kernel, tasks)
    assert sorted(seen) == list(range(tasks))


def test_an_error_in_any_chunk_is_raised_after_all_chunks_ran(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    finished = []

    def kernel(first, last):
        if first == 3:
            raise ValueError("chunk 3-5 failed")
        finished.append(first)

    with pytest.raises(ValueError, match="chunk 3-5"):
        compiled.run_split(kernel, 9)
    assert sorted(finished) == [0, 6]


def test_thread_map_keeps_the_order(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert compiled.thread_map(lambda x: x * x, range(7)) == [x * x for x in range(7)]


def test_thread_count_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert compiled.thread_count() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert compiled.thread_count() >= 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert compiled.thread_count() >= 1
