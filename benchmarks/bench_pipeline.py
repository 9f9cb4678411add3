"""How much of a run the upscaler's own compute is, and whether memory grows with the dataset.

Usage: python benchmarks/bench_pipeline.py [--quick]

1. Overlap: a stand-in upscaler that spends a fixed time per image with the GIL released
   (as a CUDA kernel does: ``time.sleep``), 8x from 128² to 1024², scored with ``niqe``,
   ``psnr`` and ``ssim`` against HR ground truth. Runs N1 and N2 images; the marginal wall
   time per output, (T(N2) - T(N1)) / (N2 - N1), divided by the compute time: 1.00 means
   encoding, scoring and recording are hidden behind the upscaler. Both for the streaming
   bench and for its serial reference (``--workers 0``), in one run.
2. Memory: peak RSS of ``nearest`` x2 scored with ``niqe`` over 200 and 2,000 random 256²
   inputs (the issue's measurement), each in a fresh process.
3. Throughput: ``bicubic`` 8x with ``niqe``, marginal images/s of the bench against a plain
   loop written here that does the same work (read, upscale, encode the PNG, score).

Every measurement runs in a fresh process of this script (``--child``), so that one cannot
warm or bloat another. The stand-in components are registered from this module
(``SRARENA_PLUGIN_MODULES=bench_pipeline``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from synthetic import smooth_image

import srarena
from srarena import Dataset, DatasetSpec, Item, Upscaler, UpscaleResult, UpscalerSpec

SRARENA_API = 1
COMPUTE_S = 0.2
HERE = Path(__file__).resolve().parent


@srarena.hookimpl
def srarena_register_upscalers(register):
    register(UpscalerSpec(name="bench-standin", factory=f"{__name__}:StandIn", scales=None,
                          licence="MIT (benchmark stand-in)", tiling="unsupported"))


@srarena.hookimpl
def srarena_register_datasets(register):
    register(DatasetSpec(name="bench-paired", factory=f"{__name__}:Paired",
                         takes_argument=True, has_hr=True, licence="generated"))
    register(DatasetSpec(name="bench-random", factory=f"{__name__}:RandomImages",
                         takes_argument=True, licence="generated"))


class StandIn(Upscaler):
    """Waits ``COMPUTE_S`` with the GIL released, then returns a nearest-neighbour upscale."""

    def upscale(self, image: np.ndarray) -> UpscaleResult:
        time.sleep(COMPUTE_S)
        return UpscaleResult(np.repeat(np.repeat(image, self.scale, 0), self.scale, 1))


DATA = Path(os.environ.get("BENCH_PIPELINE_DATA", tempfile.gettempdir())) / "bench-pipeline"


def make_paired(count: int) -> None:
    """Write the paired images once (PNG, as a user's dataset): each 128² LR is the 8x box
    average of its 1024² HR."""
    from srarena.imageio import save_png

    DATA.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        if (DATA / f"lr{seed:05d}.png").is_file():
            continue
        hr = smooth_image(seed, 1024)
        save_png(DATA / f"hr{seed:05d}.png", hr)
        save_png(DATA / f"lr{seed:05d}.png", hr.reshape(128, 8, 128, 8, 3).mean(axis=(1, 3)))


class Paired(Dataset):
    """``bench-paired:N``: N 128² LR PNGs with their 1024² HR (made by :func:`make_paired`)."""

    def items(self) -> Iterator[Item]:
        from functools import partial

        from srarena.kit import load_image

        for seed in range(int(self.argument or 10)):
            yield Item(f"p{seed:05d}", "paired", "bench",
                       partial(load_image, DATA / f"lr{seed:05d}.png"),
                       partial(load_image, DATA / f"hr{seed:05d}.png"))


class RandomImages(Dataset):
    """``bench-random:N``: N random 256² images (the issue's memory measurement)."""

    def items(self) -> Iterator[Item]:
        def read(seed: int) -> np.ndarray:
            rng = np.random.default_rng(seed)
            return (rng.integers(0, 256, (256, 256, 3)) / 255).astype(np.float32)

        for seed in range(int(self.argument or 10)):
            yield Item(f"r{seed:05d}", "random", "bench", lambda s=seed: read(s))


# ----------------------------------------------------------------------------- children
def child_bench(config: dict, folder: str) -> dict:
    """Run the bench in this process (after the imports); wall time and peak RSS."""
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench
    from srarena.plugins import get_registry

    registry = get_registry()
    start = time.perf_counter()
    summary = Bench(registry, BenchConfig(**config), Path(folder)).run()
    wall = time.perf_counter() - start
    if summary.exit_code != 0:
        raise SystemExit(f"bench failed: {summary.failures[:3]} {summary.skipped}")
    return {"wall_s": wall, "peak_rss_mb": _peak_rss_mb()}


def child_loop(count: int, png_level: int) -> dict:
    """The plain loop: read, bicubic 8x, encode the PNG, score NIQE; one image at a time."""
    from srarena.engine.instances import metric_context, open_metric
    from srarena.imageio import resize, save_png
    from srarena.plugins import get_registry

    spec = get_registry().metric("niqe")
    metric = open_metric(spec, metric_context(spec, "cpu", 8))
    items = list(Paired(DatasetSpec(name="x", factory="m:x"), str(count)).items())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for item in items:
            lr = item.lr()  # a PNG read, as the bench does
            sr = np.clip(resize(lr, 1024, 1024, "bicubic"), 0, 1)
            save_png(Path(tmp) / f"{item.image_id}.png", sr, png_level)
            metric.score([np.round(sr * 255) / np.float32(255)])
        wall = time.perf_counter() - start
    return {"wall_s": wall, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(*args: str) -> dict:
    env = {**os.environ, "SRARENA_PLUGIN_MODULES": "bench_pipeline",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- parent
def bench(**config: object) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return run_child("bench", json.dumps(config), tmp)


def overlap(sizes: tuple[int, int], workers: int | None) -> dict:
    walls = [bench(upscalers=["bench-standin"], datasets=[f"bench-paired:{count}"],
                   metrics=["niqe", "psnr", "ssim"], scale=8, workers=workers)["wall_s"]
             for count in sizes]
    marginal = (walls[1] - walls[0]) / (sizes[1] - sizes[0])
    return {"walls_s": walls, "marginal_s": marginal, "ratio": marginal / COMPUTE_S}


def memory(sizes: tuple[int, int]) -> list[float]:
    return [bench(upscalers=["nearest"], datasets=[f"bench-random:{count}"], metrics=["niqe"],
                  scale=2)["peak_rss_mb"] for count in sizes]


def throughput(sizes: tuple[int, int]) -> dict:
    """Marginal images/s (start-up and warm-up cancel out) of the bench and of the loop."""
    engine = [bench(upscalers=["bicubic"], datasets=[f"bench-paired:{count}"],
                    metrics=["niqe"], scale=8)["wall_s"] for count in sizes]
    loop = [run_child("loop", str(count), "1")["wall_s"] for count in sizes]
    extra = sizes[1] - sizes[0]
    rates = {"bench_images_s": extra / (engine[1] - engine[0]),
             "loop_images_s": extra / (loop[1] - loop[0])}
    return {**rates, "ratio": rates["bench_images_s"] / rates["loop_images_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a self-check)")
    parser.add_argument("--only", choices=("overlap", "memory", "throughput"),
                        help="run one of the three measurements")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        kind, *rest = options.child
        if kind == "bench":
            print(json.dumps(child_bench(json.loads(rest[0]), rest[1])))
        else:
            print(json.dumps(child_loop(int(rest[0]), int(rest[1]))))
        return
    over = (4, 10) if options.quick else (10, 40)
    mem = (20, 200) if options.quick else (200, 2000)
    rate = (4, 12) if options.quick else (10, 60)
    make_paired(max(over[1], rate[1]))
    print(f"cpus: {os.cpu_count()}, stand-in compute {COMPUTE_S:.2f} s per image")
    parts = {options.only} if options.only else {"overlap", "memory", "throughput"}
    for name, workers in (("streaming", None), ("serial reference", 0)):
        if "overlap" not in parts:
            break
        result = overlap(over, workers)
        print(f"overlap ({name}): wall {result['walls_s'][0]:.1f} s for {over[0]}, "
              f"{result['walls_s'][1]:.1f} s for {over[1]} outputs; marginal "
              f"{result['marginal_s']:.3f} s per output = {result['ratio']:.3f}x the compute "
              "(goal <= 1.10)")
    if "memory" in parts:
        peaks = memory(mem)
        print(f"memory: peak RSS {peaks[0]:.0f} MB at {mem[0]} inputs, {peaks[1]:.0f} MB at "
              f"{mem[1]}: {100 * (peaks[1] / peaks[0] - 1):+.1f} % (goal within 10 %)")
    if "throughput" in parts:
        result = throughput(rate)
        print(f"bicubic 8x + niqe: bench {result['bench_images_s']:.2f} images/s, plain loop "
              f"{result['loop_images_s']:.2f} images/s: the bench is {result['ratio']:.2f}x "
              "the loop")


if __name__ == "__main__":
    main()
