"""Compiled kernels and the threads that run them.

Kernels are compiled with Numba (:data:`jit`) and release the GIL, so plain Python threads
run them in parallel: :func:`run_split` hands each thread a contiguous chunk of a range of
tasks. Threads: ``OMP_NUM_THREADS`` when set (Ray sets it per task), else every CPU the
process may run on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numba

jit = numba.njit(nogil=True, cache=True, error_model="numpy")
"""Compiled, releasing the GIL, cached on disk; NumPy's float semantics (a division by zero
gives inf or NaN instead of raising, which lets loops with divisions run in SIMD lanes).
Nothing is fused into a multiply-add: Numba emits none unless asked (``fastmath``)."""


def thread_count() -> int:
    """``OMP_NUM_THREADS`` when set, else the CPUs this process may run on."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """Helper threads for :func:`run_split` (the caller is the other one)."""
    return ThreadPoolExecutor(threads - 1, thread_name_prefix="srarena-kernels")


def run_split(kernel: Callable[[int, int], object], tasks: int) -> None:
    """``kernel(first, last)`` over ``range(tasks)`` in contiguous chunks, one per thread;
    returns when all are done, raising the first error. Not to be called from ``kernel``."""
    threads = min(thread_count(), tasks)
    if threads <= 1:
        kernel(0, tasks)
        return
    bounds = [tasks * k // threads for k in range(threads + 1)]
    pool = _pool(threads)
    futures = [pool.submit(kernel, bounds[k], bounds[k + 1]) for k in range(1, threads)]
    try:
        kernel(bounds[0], bounds[1])  # the calling thread takes the first chunk
    finally:
        errors = [future.exception() for future in futures]
    for error in errors:
        if error is not None:
            raise error


def thread_map(function: Callable, items: Sequence) -> list:
    """``function`` over ``items`` on the kernels' threads, for work that releases the GIL
    (compiled kernels, most of NumPy)."""
    results: list = [None] * len(items)

    def kernel(first: int, last: int) -> None:
        for i in range(first, last):
            results[i] = function(items[i])

    run_split(kernel, len(items))
    return results
