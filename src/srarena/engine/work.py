"""The work of a cell, as plain functions over picklable jobs (run in process or on Ray).

A worker computes; the driver alone writes the database. When the worker can see the run
folder (in process, or on shared storage) it writes images and checkpoints there itself and
returns their paths; otherwise it returns arrays and bytes, which the driver writes.

Inside a job the work streams (:mod:`.pipeline`): inputs are read and checked ahead on the
pool, the upscaler runs back to back in the calling thread, and each output is encoded on
the pool while the next is computed.
"""

from __future__ import annotations

import errno
import resource
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..components import Context, Progress
from ..imageio import PNG_LEVEL, save_png, to_rgb, to_uint8
from ..specs import UpscalerSpec
from ..store import array_hash
from .chain import Chain
from .instances import close_all, open_generative, open_steps
from .pipeline import StageClock, drain, in_flight, make_pool, read_ahead, worker_count
from .single import ChainResult, check_output, run_image, run_image_batch


class InputChanged(RuntimeError):
    """An input no longer reads as it did when the run was planned."""


@dataclass
class Target:
    """One output to compute: its id, result key and where it goes in the run folder.

    A single-image target reads its input with ``load`` (checked against ``input_hash``)
    or carries it in ``lr`` (sent to a Ray worker); a generated one has a ``seed``.
    """

    image_id: str
    key: str
    path: str
    side_prefix: str
    lr: np.ndarray | None = None
    load: Callable[[], np.ndarray] | None = None
    input_hash: str | None = None
    seed: int | None = None

    def read(self) -> np.ndarray:
        """The input image, as hashed when the run was planned."""
        if self.lr is not None:
            return self.lr
        assert self.load is not None, "a single-image target needs lr or load"
        image = self.load()
        if self.input_hash is not None and array_hash(image) != self.input_hash:
            raise InputChanged(f"{self.image_id} changed since the run started; rerun")
        return image


@dataclass
class ItemResult:
    """What a worker returns for one target."""

    target: Target
    error: str | None = None
    image: np.ndarray | None = None
    written: bool = False
    side_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    side_paths: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    tiling: str = "none"
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    sha256: str | None = None
    """Of the PNG written (when the worker wrote it)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class FitDone:
    """A generative fit finished; ``files`` holds the checkpoint when not on shared storage."""

    files: dict[str, bytes] | None


@dataclass
class Streaming:
    """How a job streams: pool size (0: serial reference), PNG level, and its clock."""

    workers: int | None = None
    png_level: int = PNG_LEVEL
    clock: StageClock = field(default_factory=StageClock)


@dataclass
class SingleJob:
    """One single-image upscaler over some images of one dataset."""

    label: str
    spec: UpscalerSpec
    context: Context
    chain: Chain
    targets: list[Target]
    tile: int | None
    overlap: int
    folder: Path
    shared: bool = True
    """The worker can write into the run folder."""
    in_process: bool = True
    """The driver runs the job itself (the result keeps its image: no PNG read back)."""
    streaming: Streaming = field(default_factory=Streaming)


@dataclass
class GenerativeJob:
    """A generative upscaler on one dataset: fit (unless done), then generate ``targets``."""

    label: str
    spec: UpscalerSpec
    context: Context
    size: int
    fit_dir: str
    targets: list[Target]
    folder: Path
    images: list[Callable[[], np.ndarray]] | None = None
    """Readers of the dataset's images, in order, when the fit is still to do."""
    shared: bool = True
    """The worker can write into the run folder."""
    in_process: bool = True
    """The driver runs the job itself (the result keeps its image: no PNG read back)."""
    streaming: Streaming = field(default_factory=Streaming)

    @property
    def needs_fit(self) -> bool:
        return self.images is not None


def peak_memory_mb(device: str) -> float:
    """Peak accelerator memory on CUDA; otherwise the process's peak resident memory."""
    torch = sys.modules.get("torch")
    if device.startswith("cuda") and torch is not None:
        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _reset_peak(device: str) -> None:
    torch = sys.modules.get("torch")
    if device.startswith("cuda") and torch is not None:
        torch.cuda.reset_peak_memory_stats()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""Errors of the disk, not of an item: writing the next output would fail the same way."""


class DiskError(OSError):
    """The run folder cannot take more files (full, over quota or a size limit, read-only):
    the run stops, and the same command resumes it once the disk is fixed."""


def disk_error(exc: BaseException) -> DiskError | None:
    """``exc`` as a :class:`DiskError` when it is one of :data:`ENVIRONMENT_ERRNOS`."""
    if isinstance(exc, DiskError):
        return exc
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        return DiskError(exc.errno, exc.strerror, exc.filename)
    return None


def write_output(folder: Path, target: Target, image8: np.ndarray,
                 side: dict[str, np.ndarray], png_level: int = PNG_LEVEL,
                 ) -> tuple[str, dict[str, str]]:
    """Write an output image (PNG) and its side outputs (``.npy``) into the run folder;
    returns the PNG's sha256 and the side outputs' paths relative to the folder."""
    sha256 = save_png(folder / target.path, image8, png_level)
    paths = {}
    for name, array in side.items():
        relative = f"{target.side_prefix}__{name}.npy"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        np.save(folder / relative, np.asarray(array))
        paths[name] = relative
    return sha256, paths


def _finish(result: ItemResult, image: np.ndarray, side: dict[str, np.ndarray],
            job: SingleJob | GenerativeJob) -> ItemResult:
    """Write the output where the run folder is shared; hand the 8-bit image back when the
    driver cannot read it from there, or runs the job itself (no PNG read back)."""
    try:
        image8 = to_uint8(image)
        if job.shared:
            result.sha256, result.side_paths = write_output(
                job.folder, result.target, image8, side, job.streaming.png_level)
            result.written = True
        else:
            result.side_outputs = side
    except Exception as exc:  # noqa: BLE001 - this item fails, unless the disk does
        fatal = disk_error(exc)
        if fatal is not None:
            raise fatal from exc
        return _failed(result.target, exc, result.seconds)
    if job.in_process or not job.shared:
        result.image = image8
    return result


def _failed(target: Target, exc: BaseException, seconds: float = 0.0) -> ItemResult:
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=4))
    return ItemResult(target, error=_error(exc), seconds=seconds, info={"traceback": trace})


def _done(result: ItemResult) -> Future[ItemResult]:
    future: Future[ItemResult] = Future()
    future.set_result(result)
    return future


class _Stream:
    """The outputs of one job on their way out: each finished on the pool (encode, write),
    yielded in order once done, at most ``in_flight`` at a time."""

    def __init__(self, job: SingleJob | GenerativeJob, pool: Executor, workers: int) -> None:
        self.job, self.pool = job, pool
        self.limit = in_flight(workers)
        self.queue: deque[Future[ItemResult]] = deque()

    def computed(self, target: Target, out: ChainResult | Any, tiling: str, seconds: float,
                 warnings: list[str]) -> Iterator[ItemResult]:
        result = ItemResult(target, info=out.info, tiling=tiling, seconds=seconds,
                            peak_memory_mb=peak_memory_mb(self.job.context.device),
                            warnings=warnings)
        self.queue.append(self.pool.submit(_finish, result, out.image, out.side_outputs,
                                           self.job))
        yield from self.ready()

    def failed(self, target: Target, exc: BaseException, seconds: float = 0.0,
               ) -> Iterator[ItemResult]:
        self.queue.append(_done(_failed(target, exc, seconds)))
        yield from self.ready()

    def ready(self) -> Iterator[ItemResult]:
        """The outputs written so far (waiting for the oldest when too many are in flight)."""
        yield from drain(self.queue, self.limit, self.job.streaming.clock)

    def rest(self) -> Iterator[ItemResult]:
        """Every output still in flight, once written."""
        yield from drain(self.queue, 0, self.job.streaming.clock)


def _pool_for(job: SingleJob | GenerativeJob, pool: Executor | None) -> tuple[Executor, int,
                                                                                 bool]:
    workers = worker_count(job.streaming.workers)
    return (pool, workers, False) if pool is not None else (make_pool(workers), workers, True)


def _tiling(tiles: Sequence[int | None]) -> str:
    used = [t for t in tiles if t is not None]
    return str(min(used)) if used else "none"


def run_single_job(job: SingleJob, progress: Progress | None = None,
                   pool: Executor | None = None) -> Iterator[ItemResult]:
    """Upscale every target of ``job``; a failing image is one error result, never a raise.

    If the upscaler cannot be created, every target gets that error. Inputs are read ahead
    and outputs written on ``pool`` (one of ``job.streaming.workers`` threads if None).
    """
    if progress is not None:
        job.context.progress = progress
    try:
        instances = open_steps(job.spec, job.chain.steps, job.context)
    except Exception as exc:  # noqa: BLE001 - the plugin failed to start
        reason = f"could not start {job.spec.name}: {_error(exc)}"
        for target in job.targets:
            yield ItemResult(target, error=reason)
        return
    pool, workers, own = _pool_for(job, pool)
    clock = job.streaming.clock
    stream = _Stream(job, pool, workers)
    batch = job.spec.batch_size if job.tile is None else 1
    inputs = read_ahead(pool, job.targets, Target.read, in_flight(workers) + batch, clock)
    try:
        for group in _same_shape_groups(inputs, batch):
            if isinstance(group, tuple):  # an input that could not be read
                target, exc = group
                yield from stream.failed(target, exc)
                continue
            yield from _upscale_group(job, instances, group, stream)
        yield from stream.rest()
    except KeyboardInterrupt:
        yield from stream.rest()  # what is computed is recorded before the run stops
        raise
    finally:
        close_all(instances.values())
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def _same_shape_groups(inputs: Iterator[tuple[Target, Future[np.ndarray]]], size: int,
                       ) -> Iterator[list[tuple[Target, np.ndarray]] | tuple[Target,
                                                                            BaseException]]:
    """Consecutive readable inputs of one shape, up to ``size`` at a time; an unreadable one
    on its own as ``(target, exception)``."""
    group: list[tuple[Target, np.ndarray]] = []
    for target, future in inputs:
        exc = future.exception()
        if exc is not None:
            if group:
                yield group
                group = []
            yield target, exc
            continue
        image = future.result()
        if group and (len(group) == size or group[0][1].shape != image.shape):
            yield group
            group = []
        group.append((target, image))
    if group:
        yield group


def _upscale_group(job: SingleJob, instances: dict[int, Any],
                   group: list[tuple[Target, np.ndarray]], stream: _Stream,
                   ) -> Iterator[ItemResult]:
    """Run the chain on a group: stacked when it holds several images (one by one if the
    batched call fails, so that a failure stays with its item), else on the one image."""
    clock = job.streaming.clock
    if len(group) > 1:
        _reset_peak(job.context.device)
        start = time.perf_counter()
        try:
            with clock.computing():
                outs = run_image_batch(instances, job.chain, [image for _, image in group])
        except Exception:  # noqa: BLE001 - retried one by one below
            outs = None
        if outs is not None:
            seconds = (time.perf_counter() - start) / len(group)
            for (target, _), out in zip(group, outs, strict=True):
                yield from stream.computed(target, out, "none", seconds, out.warnings)
            return
    for target, image in group:
        _reset_peak(job.context.device)
        start = time.perf_counter()
        try:
            with clock.computing():
                out = run_image(instances, job.chain, image, job.tile, job.overlap)
        except Exception as exc:  # noqa: BLE001 - one failed item, the run goes on
            yield from stream.failed(target, exc, time.perf_counter() - start)
            continue
        yield from stream.computed(target, out, _tiling(out.tiles), time.perf_counter() - start,
                                   out.warnings)


def pack_checkpoint(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def unpack_checkpoint(files: dict[str, bytes], folder: Path) -> None:
    for name, data in files.items():
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:
            raise ValueError(f"checkpoint file {name!r} leaves its folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run_fit(job: GenerativeJob, progress: Progress | None = None,
            pool: Executor | None = None) -> FitDone:
    """Fit the generator on the job's images (read on the pool, held for this fit only);
    the checkpoint lands in ``fit_dir``."""
    if progress is not None:
        job.context.progress = progress
    assert job.images is not None
    pool, _, own = _pool_for(job, pool)
    try:
        images = [to_rgb(future.result())  # a generator fits on RGB, as metrics score it
                  for future in [pool.submit(read) for read in job.images]]
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
    generator = open_generative(job.spec, job.context)
    try:
        if job.shared:
            fit_dir = job.folder / job.fit_dir
            fit_dir.mkdir(parents=True, exist_ok=True)
            generator.fit(images, job.size, fit_dir / "fitted")
            return FitDone(None)
        with tempfile.TemporaryDirectory() as tmp:
            generator.fit(images, job.size, Path(tmp) / "fitted")
            return FitDone(pack_checkpoint(Path(tmp)))
    finally:
        generator.close()


def run_generate_job(job: GenerativeJob, files: dict[str, bytes] | None = None,
                     progress: Progress | None = None,
                     pool: Executor | None = None) -> Iterator[ItemResult]:
    """Generate every target of ``job`` from its fitted checkpoint; each output is written
    on the pool while the next is generated."""
    if progress is not None:
        job.context.progress = progress
    generator = open_generative(job.spec, job.context)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if files is None:
                generator.load(job.folder / job.fit_dir / "fitted")
            else:
                unpack_checkpoint(files, Path(tmp))
                generator.load(Path(tmp) / "fitted")
        except Exception as exc:  # noqa: BLE001
            generator.close()
            for target in job.targets:
                yield ItemResult(target, error=f"could not load the fitted state: {_error(exc)}")
            return
        pool, workers, own = _pool_for(job, pool)
        stream = _Stream(job, pool, workers)
        clock = job.streaming.clock
        try:
            for target in job.targets:
                assert target.seed is not None
                _reset_peak(job.context.device)
                start = time.perf_counter()
                try:
                    with clock.computing():
                        out, warning = check_output(generator.generate(target.seed, job.size),
                                                    (job.size, job.size), job.spec.name)
                except Exception as exc:  # noqa: BLE001 - one failed item, the run goes on
                    yield from stream.failed(target, exc, time.perf_counter() - start)
                    continue
                yield from stream.computed(target, out, "none", time.perf_counter() - start,
                                           [warning] if warning else [])
            yield from stream.rest()
        except KeyboardInterrupt:
            yield from stream.rest()
            raise
        finally:
            generator.close()
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
