"""The work of a cell, as plain functions over picklable jobs (run in process or on Ray).

A worker computes; the driver alone writes the database. When the worker can see the run
folder (in process, or on shared storage) it writes images and checkpoints there itself and
returns their paths; otherwise it returns arrays and bytes, which the driver writes.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..components import Context, GenerativeUpscaler, Upscaler
from ..imageio import save_png, to_uint8
from ..specs import UpscalerSpec
from .chain import Chain
from .single import check_output, run_chain

Progress = Callable[[int, int, str], None]


@dataclass
class Target:
    """One output to compute: its id, result key and where it goes in the run folder."""

    image_id: str
    key: str
    path: str
    side_prefix: str
    lr: np.ndarray | None = None
    seed: int | None = None


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


@dataclass
class FitDone:
    """A generative fit finished; ``files`` holds the checkpoint when not on shared storage."""

    files: dict[str, bytes] | None


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
    images: list[np.ndarray] | None = None
    shared: bool = True
    """The worker can write into the run folder."""
    in_process: bool = True
    """The driver runs the job itself (the result keeps its image: no PNG read back)."""

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


def write_output(folder: Path, target: Target, image8: np.ndarray,
                 side: dict[str, np.ndarray]) -> dict[str, str]:
    """Write an output image (PNG) and its side outputs (``.npy``) into the run folder;
    returns the side outputs' paths relative to it."""
    save_png(folder / target.path, image8)
    paths = {}
    for name, array in side.items():
        relative = f"{target.side_prefix}__{name}.npy"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        np.save(folder / relative, np.asarray(array))
        paths[name] = relative
    return paths


def _finish(result: ItemResult, image: np.ndarray, side: dict[str, np.ndarray],
            job: SingleJob | GenerativeJob) -> ItemResult:
    """Write the output where the run folder is shared; hand the 8-bit image back when the
    driver cannot read it from there, or runs the job itself (no PNG read back)."""
    image8 = to_uint8(image)
    if job.shared:
        result.side_paths = write_output(job.folder, result.target, image8, side)
        result.written = True
    else:
        result.side_outputs = side
    if job.in_process or not job.shared:
        result.image = image8
    return result


Computed = tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any], str]
"""An output image, its side outputs, its facts and the tiling used."""


def _each_target(job: SingleJob | GenerativeJob,
                 compute: Callable[[Target], Computed]) -> Iterator[ItemResult]:
    """Compute every target of a job, timed; a failing one is an error result, never a raise."""
    for target in job.targets:
        _reset_peak(job.context.device)
        start = time.perf_counter()
        try:
            image, side, info, tiling = compute(target)
        except Exception as exc:  # noqa: BLE001 - one failed item, the run goes on
            yield ItemResult(target, error=_error(exc), seconds=time.perf_counter() - start,
                             info={"traceback": traceback.format_exc(limit=4)})
            continue
        result = ItemResult(target, info=info, tiling=tiling,
                            seconds=time.perf_counter() - start,
                            peak_memory_mb=peak_memory_mb(job.context.device))
        yield _finish(result, image, side, job)


def run_single_job(job: SingleJob, progress: Progress | None = None) -> Iterator[ItemResult]:
    """Upscale every target of ``job``; a failing image is one error result, never a raise.

    If the upscaler cannot be created, every target gets that error.
    """
    if progress is not None:
        job.context.progress = progress
    instances: dict[int, Upscaler] = {}
    try:
        for step in job.chain.steps:
            if step not in instances:
                instances[step] = job.spec.load()(job.spec, step, job.context)
    except Exception as exc:  # noqa: BLE001 - the plugin failed to start
        reason = f"could not start {job.spec.name}: {_error(exc)}"
        for instance in instances.values():
            instance.close()
        for target in job.targets:
            yield ItemResult(target, error=reason)
        return
    def upscale(target: Target) -> Computed:
        assert target.lr is not None
        out = run_chain(instances, job.chain, target.lr, job.tile, job.overlap)
        tiles = [t for t in out.tiles if t is not None]
        return out.image, out.side_outputs, out.info, str(min(tiles)) if tiles else "none"

    try:
        yield from _each_target(job, upscale)
    finally:
        for instance in instances.values():
            instance.close()


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


def run_fit(job: GenerativeJob, progress: Progress | None = None) -> FitDone:
    """Fit the generator on the job's images; the checkpoint lands in ``fit_dir``."""
    if progress is not None:
        job.context.progress = progress
    generator: GenerativeUpscaler = job.spec.load()(job.spec, job.context)
    assert job.images is not None
    try:
        if job.shared:
            fit_dir = job.folder / job.fit_dir
            fit_dir.mkdir(parents=True, exist_ok=True)
            generator.fit(job.images, job.size, fit_dir / "fitted")
            return FitDone(None)
        with tempfile.TemporaryDirectory() as tmp:
            generator.fit(job.images, job.size, Path(tmp) / "fitted")
            return FitDone(pack_checkpoint(Path(tmp)))
    finally:
        generator.close()


def run_generate_job(job: GenerativeJob, files: dict[str, bytes] | None = None,
                     progress: Progress | None = None) -> Iterator[ItemResult]:
    """Generate every target of ``job`` from its fitted checkpoint."""
    if progress is not None:
        job.context.progress = progress
    generator: GenerativeUpscaler = job.spec.load()(job.spec, job.context)
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
        def generate(target: Target) -> Computed:
            assert target.seed is not None
            out = check_output(generator.generate(target.seed, job.size),
                               (job.size, job.size), job.spec.name)
            return out.image, out.side_outputs, out.info, "none"

        try:
            yield from _each_target(job, generate)
        finally:
            generator.close()
