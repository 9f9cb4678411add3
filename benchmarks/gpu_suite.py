"""The study's scale on one device: every technique timed, half precision checked against
fp32, the whole study projected.

    python benchmarks/gpu_suite.py [--device cuda] [--out suite.json] [--only dan-v1 maniqa ...]
    python benchmarks/gpu_suite.py --tiny          # quick CPU self-check (tiny sizes)

Every technique runs srarena's own code with seeded weights in the official checkpoint
layout (the builders of ``bench_<technique>.py``; nothing is downloaded): the compute equals
the released checkpoints'. At full size (the study's): DAN v1 and v2 8x (x2 then x4) of 128²
images; MoESR 8x with its per-image fine-tuning at the official 1000 iterations per step and
without it; BlindSR x2 three times with its kernel search (144 kernels, 50 epochs); FastGAN
and APA generating 1024² images, and their training iterations (FastGAN batch 8 at 1024²,
APA ``--cfg=auto`` at 1024², 16 iterations: one full lazy-regularisation cycle); MANIQA under
both protocols and NIQE (both variants, torch kernels) on batches of 1024² images; and
``srarena bench`` end to end on DAN v1 against the same upscaler called bare.

Each case reports the median seconds of several runs (after a warm-up) and its peak memory
(CUDA allocator peak on a GPU; on a CPU the process's peak RSS so far). On CUDA it also runs
the case in fp16 and bf16 (``torch.autocast``; APA's fp16 is its official mixed precision)
and compares the 8-bit outputs with fp32: largest grey-level difference, share of pixels that
differ. The per-image optimisations (MoESR's fine-tuning, BlindSR's kernel search) are not
run in half precision: that would change what they optimise, not only the arithmetic.

``--tiny`` shrinks every size (24² inputs, MoESR with 8-feature networks and 2 fine-tuning
iterations, 1 BlindSR refinement epoch, 256² generation, small training resolutions and
batches, a narrow MANIQA network) so that the whole suite runs on a 2-core CPU in about a
minute; it checks that the suite works, its figures say nothing about the study. At full
size the per-image optimisations (MoESR with fine-tuning, BlindSR) are timed once after
their warm-up: each takes about a minute or more. The JSON (``--out``) is rewritten after
every case, so a run cut short keeps what finished; a case that fails is recorded with its
error and the others go on (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from devices import device_name, is_cuda, peak_mb, reset_peak, sync, timed
from synthetic import smooth_image

STUDY_DATASETS = 14
STUDY_IMAGES = 100
SCALE = 8
HALF = ("fp16", "bf16")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What the suite runs at: the study's sizes, or tiny ones for the CPU self-check."""

    lr: int                      # LR side of the SR techniques (output: 8x)
    repeats: int                 # timed runs of a case that takes seconds
    slow_repeats: int            # timed runs of a per-image optimisation (minutes at full size)
    moesr_lr: int                # MoESR's LR side (its 85-expert sweep is costly on a CPU)
    moesr_iterations: int        # fine-tuning iterations per step
    moesr_crops: tuple[int, int]  # fine-tuning crop side of the x2 and x4 steps (official 128)
    moesr_features: int          # width of MoESR's networks (official 64)
    blindsr_lr: int              # BlindSR's LR side (its kernel search is the costliest)
    blindsr_epochs: int          # kernel refinement epochs per pass
    gan_size: int                # side of the generated images (FastGAN, APA)
    fastgan_batch: int           # FastGAN training batch (official 8)
    apa_train_res: int           # APA training resolution
    apa_batch: int | None        # APA training batch (None: --cfg=auto's)
    train_iterations: int        # timed training iterations
    metric_side: int             # side of the images the metrics score
    metric_images: int           # images per metric measurement
    maniqa_narrow: bool          # a narrow MANIQA network (the self-check's speed on a CPU)
    bench_lr: int                # LR side of the end-to-end runs (niqe needs 192² outputs)
    bench_images: tuple[int, int]  # dataset sizes of the two end-to-end runs


FULL = Sizes(lr=128, repeats=5, slow_repeats=1, moesr_lr=128, moesr_iterations=1000,
             moesr_crops=(128, 128), moesr_features=64, blindsr_lr=128, blindsr_epochs=50,
             gan_size=1024, fastgan_batch=8, apa_train_res=1024, apa_batch=None,
             train_iterations=16, metric_side=1024, metric_images=64, maniqa_narrow=False,
             bench_lr=128, bench_images=(4, 36))
TINY = Sizes(lr=24, repeats=1, slow_repeats=1, moesr_lr=32, moesr_iterations=2,
             moesr_crops=(16, 36), moesr_features=8, blindsr_lr=8, blindsr_epochs=1,
             gan_size=256, fastgan_batch=1, apa_train_res=32, apa_batch=2,
             train_iterations=2, metric_side=256, metric_images=2, maniqa_narrow=True,
             bench_lr=24, bench_images=(1, 3))


# ------------------------------------------------------------------ measuring
def summary(seconds: list[float]) -> dict[str, Any]:
    return {"seconds": statistics.median(seconds), "runs": [round(s, 6) for s in seconds]}


def memory(device: str) -> dict[str, float]:
    if is_cuda(device):
        return {"peak_cuda_mib": round(peak_mb(device), 1)}
    return {"peak_rss_mib_so_far": round(peak_mb(device), 1)}


def uint8(image: Any) -> np.ndarray:
    """An upscaler's float output (HWC in [0, 1]) as srarena writes it: 8-bit."""
    from srarena.imageio import to_uint8

    return to_uint8(np.asarray(image, np.float32))


@contextlib.contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """``torch.autocast`` on ``device``'s type in ``precision`` (fp16 or bf16)."""
    import torch

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    with torch.autocast(torch.device(device).type, dtype=dtype):
        yield


def compare(reference: np.ndarray, got: np.ndarray) -> dict[str, Any]:
    """How far a half-precision 8-bit output is from the fp32 one."""
    diff = np.abs(reference.astype(np.int16) - got.astype(np.int16))
    return {"max_grey_levels": int(diff.max()), "pixels_differing": float((diff > 0).mean()),
            "within_one_level": bool(diff.max() <= 1)}


CPU_HALF = ("half precision is checked on CUDA only (on a CPU torch runs other kernels "
            "than a GPU's, so the answer would not carry over)")


def agreement(device: str, reference: np.ndarray,
              run_half: Callable[[str], np.ndarray]) -> dict[str, Any]:
    """fp16 and bf16 against fp32 (``run_half(precision)`` gives the 8-bit output)."""
    if not is_cuda(device):
        return not_half(CPU_HALF)
    found = {}
    for precision in HALF:
        try:
            found[precision] = compare(reference, run_half(precision))
        except Exception as exc:  # noqa: BLE001 - an unsupported dtype is a finding
            found[precision] = {"error": f"{type(exc).__name__}: {exc}"}
    return found


def not_half(reason: str) -> dict[str, Any]:
    return {p: {"skipped": reason} for p in HALF}


# ---------------------------------------------------------------- the cases
def case_dan(version: str) -> Callable[[str, Sizes], dict[str, Any]]:
    def run(device: str, sizes: Sizes) -> dict[str, Any]:
        from bench_dan import seeded_weights
        from srarena_dan.plugin import SPECS, upscaler_name
        from srarena_dan.upscaler import DANUpscaler

        from srarena.components import Context

        spec = next(s for s in SPECS if s.name == upscaler_name(version, 1))
        with tempfile.TemporaryDirectory() as tmp:
            context = Context(device=device, weights=seeded_weights(version, Path(tmp)))
            x2, x4 = DANUpscaler(spec, 2, context), DANUpscaler(spec, 4, context)
        image = smooth_image(0, sizes.lr)

        def chain() -> np.ndarray:
            return uint8(x4.upscale(x2.upscale(image).image).image)

        chain()  # warm-up
        reset_peak(device)
        seconds, out = timed(device, chain, sizes.repeats)

        def half(precision: str) -> np.ndarray:
            with autocast(device, precision):
                return chain()

        return {"what": f"DAN{version} 8x (x2 then x4) of a {sizes.lr}² image",
                "unit": "s/image", **summary(seconds), **memory(device),
                "agreement": agreement(device, out, half)}
    return run


def case_moesr(finetune: bool) -> Callable[[str, Sizes], dict[str, Any]]:
    def run(device: str, sizes: Sizes) -> dict[str, Any]:
        from bench_moesr import seeded_weights
        from srarena_moesr.plugin import SPEC
        from srarena_moesr.upscaler import MoESRUpscaler

        from srarena.components import Context

        iterations = sizes.moesr_iterations if finetune else 0
        with tempfile.TemporaryDirectory() as tmp:
            weights = seeded_weights(Path(tmp), sizes.moesr_features)
            x2, x4 = (MoESRUpscaler(SPEC, scale, Context(
                device=device, weights=weights,
                options={**SPEC.options, "iterations": iterations, "crop_size": crop}))
                for scale, crop in zip((2, 4), sizes.moesr_crops, strict=True))
        image = smooth_image(0, sizes.moesr_lr)
        parts: dict[str, float] = {}

        def chain() -> np.ndarray:
            first = x2.upscale(image)
            second = x4.upscale(first.image)
            for step, result in (("x2", first), ("x4", second)):
                for name, value in result.info["seconds"].items():
                    parts[f"{step}_{name}"] = value
            return uint8(second.image)

        configs = x2.config, x4.config  # warm-up (kernels, allocator): 2 iterations
        x2.config, x4.config = (dataclasses.replace(c, iterations=min(c.iterations, 2))
                                for c in configs)
        chain()
        x2.config, x4.config = configs
        reset_peak(device)
        repeats = sizes.slow_repeats if finetune else sizes.repeats
        seconds, out = timed(device, chain, repeats)
        what = (f"MoESR 8x of a {sizes.moesr_lr}² image, fine-tuning {iterations} iterations "
                "per step" if finetune
                else f"MoESR 8x of a {sizes.moesr_lr}² image without fine-tuning")
        row = {"what": what, "unit": "s/image", **summary(seconds), **memory(device),
               "parts_s": {k: round(v, 4) for k, v in parts.items()}}
        if finetune:
            row["agreement"] = not_half("the per-image fine-tuning trains in fp32 (as the "
                                        "official code); half precision would change what it "
                                        "learns")
        else:
            def half(precision: str) -> np.ndarray:
                with autocast(device, precision):
                    return chain()

            row["agreement"] = agreement(device, out, half)
        return row
    return run


def case_blindsr(device: str, sizes: Sizes) -> dict[str, Any]:
    from bench_blindsr import seeded_weights
    from srarena_blindsr.plugin import SPEC
    from srarena_blindsr.upscaler import BlindSRUpscaler

    from srarena.components import Context

    with tempfile.TemporaryDirectory() as tmp:
        context = Context(device=device, weights=seeded_weights(Path(tmp)),
                          options={**SPEC.options, "epochs": sizes.blindsr_epochs})
        upscaler = BlindSRUpscaler(SPEC, 2, context)
    image = smooth_image(0, sizes.blindsr_lr)

    passes: dict[str, float] = {}

    def chain() -> np.ndarray:
        current = image
        for step in range(3):
            sync(device)
            start = time.perf_counter()
            current = upscaler.upscale(current).image
            sync(device)
            passes[f"pass{step + 1}_{current.shape[0] // 2}px_in"] = time.perf_counter() - start
        return uint8(current)

    upscaler.upscale(smooth_image(1, 8))  # warm-up
    reset_peak(device)
    seconds, _ = timed(device, chain, sizes.slow_repeats)
    return {"what": f"BlindSR x2 three times (8x) of a {sizes.blindsr_lr}² image, kernel search "
                    f"(144 kernels, {sizes.blindsr_epochs} epochs) on every pass",
            "unit": "s/image", **summary(seconds), **memory(device),
            "parts_s": {k: round(v, 4) for k, v in passes.items()},
            "agreement": not_half("the per-image kernel search optimises in fp32 (as the "
                                  "official code); half precision would change its result")}


def _fastgan_upscaler(device: str, size: int) -> Any:
    import torch
    from srarena_fastgan.arch import Generator, init_weights
    from srarena_fastgan.checkpoint import add_prefix
    from srarena_fastgan.upscaler import FastGANUpscaler

    from srarena.components import Context
    from srarena.plugins import build_registry

    up = FastGANUpscaler(build_registry().upscaler("fastgan"), Context(device=device))
    torch.manual_seed(0)
    generator = Generator(ngf=64, nz=256, im_size=size)
    generator.apply(init_weights)
    with tempfile.TemporaryDirectory() as tmp:  # the official eval layout, <iter>.pth
        torch.save({"g": add_prefix(generator.state_dict()), "d": {}}, Path(tmp) / "0.pth")
        up.load(Path(tmp))
    return up


def case_fastgan_generate(device: str, sizes: Sizes) -> dict[str, Any]:
    up = _fastgan_upscaler(device, sizes.gan_size)
    seeds = iter(range(10_000))

    def generate() -> np.ndarray:
        return uint8(up.generate(next(seeds), sizes.gan_size).image)

    generate()  # warm-up
    reset_peak(device)
    seconds, _ = timed(device, generate, sizes.repeats)

    def half(precision: str) -> np.ndarray:
        with autocast(device, precision):
            return uint8(up.generate(0, sizes.gan_size).image)

    return {"what": f"FastGAN generates one {sizes.gan_size}² image (EMA generator, eval)",
            "unit": "s/image", **summary(seconds), **memory(device),
            "agreement": agreement(device, uint8(up.generate(0, sizes.gan_size).image), half)}


def case_fastgan_train(device: str, sizes: Sizes) -> dict[str, Any]:
    import torch
    from bench_fastgan import seeded_vgg
    from srarena_fastgan.perceptual import build
    from srarena_fastgan.training import FitConfig, Trainer

    size = sizes.gan_size
    config = FitConfig(im_size=size, batch_size=sizes.fastgan_batch, iterations=1)
    with tempfile.TemporaryDirectory() as tmp:
        percept = build(seeded_vgg(Path(tmp))).to(device)
    trainer = Trainer(config, device, percept)
    real = torch.rand(sizes.fastgan_batch, 3, size, size, device=device) * 2 - 1
    trainer.step(real)  # warm-up
    reset_peak(device)
    seconds, _ = timed(device, lambda: trainer.step(real), sizes.train_iterations)
    return {"what": f"FastGAN training iteration at {size}², batch {sizes.fastgan_batch}, "
                    "LPIPS-VGG loss", "unit": "s/iteration", **summary(seconds),
            **memory(device), "iterations_per_fit": config.iterations + 1,
            "agreement": not_half("training runs in fp32, as the official code")}


def _apa_generator(device: str, size: int) -> Any:
    import torch
    from srarena_apa.arch.networks import Generator
    from srarena_apa.config import resolve

    torch.manual_seed(0)
    return Generator(**resolve(size, {}).G_kwargs).eval().requires_grad_(False).to(device)


def case_apa_generate(device: str, sizes: Sizes) -> dict[str, Any]:
    import torch
    from srarena_apa.upscaler import seed_latent, to_uint8

    G = _apa_generator(device, sizes.gan_size)

    def generate(seed: int, force_fp32: bool = True) -> np.ndarray:
        with torch.no_grad():
            z = seed_latent(seed, G.z_dim).to(device)
            return np.asarray(to_uint8(G(z, None, noise_mode="const", force_fp32=force_fp32)))

    seeds = iter(range(1000, 10_000))
    generate(999)  # warm-up
    reset_peak(device)
    seconds, _ = timed(device, lambda: generate(next(seeds)), sizes.repeats)
    row = {"what": f"APA generates one {sizes.gan_size}² image (generate.py: batch 1, const "
                   "noise), fp32", "unit": "s/image", **summary(seconds), **memory(device)}

    def half(precision: str) -> np.ndarray:
        if precision == "fp16":  # the official mixed precision (float16 top blocks)
            return generate(1000, force_fp32=False)
        with autocast(device, precision):
            return generate(1000)

    row["agreement"] = agreement(device, generate(1000), half)
    if is_cuda(device):
        generate(999, force_fp32=False)
        mixed, _ = timed(device, lambda: generate(next(seeds), force_fp32=False),
                         sizes.repeats)
        row["mixed_precision_seconds"] = statistics.median(mixed)
    return row


def case_apa_train(device: str, sizes: Sizes) -> dict[str, Any]:
    from srarena_apa.config import resolve
    from srarena_apa.training import Trainer

    res = sizes.apa_train_res
    config = resolve(res, {"batch": sizes.apa_batch})
    images = np.random.RandomState(0).randint(0, 256, size=(8, 3, res, res)).astype(np.uint8)
    trainer = Trainer(config, images, device)
    trainer.step()  # warm-up: the first iteration (every phase)
    reset_peak(device)
    seconds, _ = timed(device, trainer.step, sizes.train_iterations)
    kimg = 500  # srarena-apa's default training length
    precision = "mixed precision" if is_cuda(device) else "fp32"
    return {"what": f"APA training iteration at {res}², batch {config.batch_size} "
                    f"(--cfg=auto, {precision}; the mean over {sizes.train_iterations} "
                    "iterations covers the lazy regularisation)",
            "unit": "s/iteration", "seconds": statistics.fmean(seconds),
            "runs": [round(s, 6) for s in seconds], **memory(device),
            "iterations_per_fit": -(-kimg * 1000 // config.batch_size),
            "agreement": not_half("training runs the official mixed precision on CUDA")}


def case_maniqa(protocol: str) -> Callable[[str, Sizes], dict[str, Any]]:
    def run(device: str, sizes: Sizes) -> dict[str, Any]:
        from srarena.metrics import maniqa
        from srarena.plugins import build_registry

        # random weights: timing does not need them
        narrow = ({"embed_dim": 32, "dim_mlp": 32, "num_heads": [2, 2], "vit_embed_dim": 32,
                   "vit_depth": 10, "vit_num_heads": 2} if sizes.maniqa_narrow else {})
        network = maniqa.build_network("pipal", **narrow)
        name = "maniqa" if protocol == "study" else "maniqa-pyiqa"
        registry_spec = build_registry().metric(name)

        def build(precision: str) -> Any:
            from srarena.components import Context

            options = {**registry_spec.options, "precision": precision}
            return maniqa.Maniqa(registry_spec, Context(device=device, options=options),
                                 network=network)

        images = [smooth_image(i, sizes.metric_side) for i in range(sizes.metric_images)]
        metric = build("fp32")
        metric.score(images[:1])  # warm-up
        reset_peak(device)
        seconds, scores = timed(device, lambda: metric.score(images), 1)
        row = {"what": f"MANIQA, {protocol} protocol, {len(images)} images of "
                       f"{sizes.metric_side}², batch {registry_spec.batch_size}",
               "unit": "images/s", "images_per_s": len(images) / seconds[0],
               **summary(seconds), **memory(device)}
        if is_cuda(device):
            auto = build("auto")
            auto.score(images[:1])
            half_s, half_scores = timed(device, lambda: auto.score(images), 1)
            row["agreement"] = {"fp16": {
                "images_per_s": len(images) / half_s[0], "kept_fp16": bool(auto.half),
                "max_abs_score_difference": float(np.max(np.abs(
                    np.subtract(half_scores, scores))))}}
        else:
            row["agreement"] = not_half(CPU_HALF)
        return row
    return run


def case_niqe(name: str) -> Callable[[str, Sizes], dict[str, Any]]:
    def run(device: str, sizes: Sizes) -> dict[str, Any]:
        from srarena.components import Context, create
        from srarena.metrics.niqe.torch_kernels import TorchKernels
        from srarena.plugins import build_registry

        spec = build_registry().metric(name)
        metric = create(spec, Context(device=device, options=dict(spec.options)))
        metric.kernels = TorchKernels(device)  # the torch path, also on a CPU
        images = [smooth_image(i, sizes.metric_side) for i in range(sizes.metric_images)]
        metric.score(images[:2])  # warm-up
        reset_peak(device)
        seconds, _ = timed(device, lambda: metric.score(images), 1)
        return {"what": f"{name}, torch kernels, {len(images)} images of {sizes.metric_side}² "
                        "in one call", "unit": "images/s",
                "images_per_s": len(images) / seconds[0], **summary(seconds),
                **memory(device),
                "agreement": not_half("NIQE is computed in float64/float32 as its reference "
                                      "code; not a half-precision candidate")}
    return run


def case_bench(device: str, sizes: Sizes) -> dict[str, Any]:
    """``srarena bench`` on DAN v1 with niqe against the same upscaler called bare."""
    from bench_dan import seeded_weights
    from srarena_dan.plugin import SPECS
    from srarena_dan.upscaler import DANUpscaler

    from srarena.components import Context
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench
    from srarena.imageio import save_png
    from srarena.plugins import build_registry

    registry = build_registry()
    spec = next(s for s in SPECS if s.name == "dan-v1")
    small, large = sizes.bench_images
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = root / "weights"
        weights.mkdir()
        seeded_weights("v1", weights)
        # a --weights folder holds the whole set: the PCA file too (official layout, a k² x L
        # tensor); the checkpoints carry their own PCA buffers, so it changes no output
        import torch

        torch.save(torch.linalg.qr(torch.randn(441, 10))[0], weights / "pca_matrix.pth")
        images = [smooth_image(100 + i, sizes.bench_lr) for i in range(large)]
        for count in (small, large):
            folder = root / f"images-{count}"
            folder.mkdir()
            for i in range(count):
                save_png(folder / f"img{i:03d}.png", images[i])

        def bare_seconds() -> float:
            context = Context(device=device, weights={p.name: p for p in weights.iterdir()})
            x2, x4 = DANUpscaler(spec, 2, context), DANUpscaler(spec, 4, context)
            x4.upscale(x2.upscale(images[0]).image)  # warm-up
            seconds, _ = timed(device, lambda: [x4.upscale(x2.upscale(im).image)
                                                for im in images], 1)
            return seconds[0]

        bare_per_image = bare_seconds() / large

        row: dict[str, Any] = {"what": f"srarena bench -u dan-v1, {sizes.bench_lr}² images 8x: "
                                       f"marginal wall time per output over {small} -> {large} "
                                       "images, against DAN v1 called bare on the same images",
                               "unit": "s/output", "bare_s_per_image": bare_per_image}
        def bench(label: str, metrics: list[str], count: int) -> float:
            config = BenchConfig(upscalers=["dan-v1"], datasets=[str(root / f"images-{count}")],
                                 metrics=metrics, scale=SCALE, device=device, weights=weights)
            start = time.perf_counter()
            result = Bench(registry, config, root / f"run-{label}-{count}").run()
            sync(device)
            wall = time.perf_counter() - start
            if result.failures or result.skipped or result.computed != count:
                raise RuntimeError(f"bench {label} computed {result.computed} of {count} "
                                   f"outputs: {result.failures or result.skipped}")
            return wall

        bench("warm-up", ["niqe"], small)  # one-time costs (compiled kernels) out of the way
        for label, metrics in (("no_metrics", []), ("niqe", ["niqe"])):
            walls = [bench(label, metrics, count) for count in (small, large)]
            per_output = (walls[1] - walls[0]) / (large - small)
            row[label] = {"s_per_output": per_output, "over_bare": per_output / bare_per_image,
                          "walls_s": [round(w, 3) for w in walls]}
        row["seconds"] = row["niqe"]["s_per_output"]
        row.update(memory(device))
        row["agreement"] = not_half("the engine runs the technique's fp32")
        return row


CASES: dict[str, Callable[[str, Sizes], dict[str, Any]]] = {
    # cheapest first: a run cut short by a time limit keeps the most (the JSON is rewritten
    # after every case); the per-image optimisations, minutes each at full size, come last
    "dan-v1": case_dan("v1"),
    "dan-v2": case_dan("v2"),
    "niqe": case_niqe("niqe"),
    "niqe-study": case_niqe("niqe-study"),
    "maniqa-study": case_maniqa("study"),
    "maniqa-pyiqa": case_maniqa("pyiqa"),
    "fastgan-generate": case_fastgan_generate,
    "apa-generate": case_apa_generate,
    "fastgan-train": case_fastgan_train,
    "apa-train": case_apa_train,
    "bench-dan-v1": case_bench,
    "moesr-no-finetune": case_moesr(finetune=False),
    "moesr": case_moesr(finetune=True),
    "blindsr": case_blindsr,
}


# -------------------------------------------------------------- projection
def projection(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Wall time of the whole study (14 datasets x 100 images, 5 techniques, NIQE (study)
    and MANIQA (study) on every output) from the measured rates, one device, in hours."""
    def seconds(case: str) -> float | None:
        row = rows.get(case, {})
        return None if "error" in row or "seconds" not in row else float(row["seconds"])

    images = STUDY_DATASETS * STUDY_IMAGES
    parts: dict[str, float | None] = {}
    for technique, case in (("dan", "dan-v1"), ("moesr", "moesr"), ("blindsr", "blindsr")):
        s = seconds(case)
        parts[technique] = None if s is None else images * s
    for technique in ("fastgan", "apa"):
        gen, train = seconds(f"{technique}-generate"), seconds(f"{technique}-train")
        if gen is None or train is None:
            parts[technique] = None
        else:
            fit = rows[f"{technique}-train"]["iterations_per_fit"] * train
            parts[technique] = STUDY_DATASETS * fit + images * gen
    outputs = 5 * images
    rates = [rows.get(c, {}).get("images_per_s") for c in ("niqe-study", "maniqa-study")]
    parts["scoring"] = None if None in rates else sum(outputs / r for r in rates)
    known = [v for v in parts.values() if v is not None]
    return {"hours": {k: None if v is None else v / 3600 for k, v in parts.items()},
            "total_hours": sum(known) / 3600,
            "complete": len(known) == len(parts),
            "assumes": (f"{STUDY_DATASETS} datasets x {STUDY_IMAGES} images, 8x from the "
                        "measured LR side; DAN as dan-v1; FastGAN 50001 iterations and APA "
                        "500 kimg of training per dataset at the measured rate; every output "
                        "scored with niqe-study and maniqa (study), torch kernels; one device, "
                        "cases run one after another (no overlap)")}


# ------------------------------------------------------------------ running
def describe(device: str) -> dict[str, Any]:
    import platform

    import torch

    return {"device": device, "name": device_name(device), "torch": torch.__version__,
            "python": platform.python_version(), "cuda": torch.version.cuda,
            "cpu_threads": torch.get_num_threads()}


def figure(row: dict[str, Any]) -> str:
    if "error" in row:
        return "FAILED"
    if row["unit"] == "images/s":
        return f"{row['images_per_s']:.1f} images/s"
    if "over_bare" in row.get("niqe", {}):
        return (f"{row['seconds']:.3f} s/output, x{row['niqe']['over_bare']:.2f} of bare "
                f"(no metrics x{row['no_metrics']['over_bare']:.2f})")
    return f"{row['seconds']:.3f} {row['unit']}"


def half_text(row: dict[str, Any]) -> str:
    found = row.get("agreement", {})
    parts = []
    for precision in HALF:
        item = found.get(precision)
        if not item or "skipped" in item:
            continue
        if "error" in item:
            parts.append(f"{precision} error")
        elif "max_grey_levels" in item:
            parts.append(f"{precision} {item['max_grey_levels']} lv "
                         f"{item['pixels_differing']:.1%}")
        elif "max_abs_score_difference" in item:
            parts.append(f"{precision} Δ{item['max_abs_score_difference']:.1e}")
    return ", ".join(parts) or "-"


def table(report: dict[str, Any]) -> str:
    lines = [f"srarena GPU suite on {report['environment']['name']} "
             f"({'tiny self-check' if report['tiny'] else 'study sizes'})", ""]
    width = max(len(name) for name in report["cases"]) + 2
    for name, row in report["cases"].items():
        memory_text = ""
        if "peak_cuda_mib" in row:
            memory_text = f"{row['peak_cuda_mib']:.0f} MiB GPU"
        elif "peak_rss_mib_so_far" in row:
            memory_text = f"{row['peak_rss_mib_so_far']:.0f} MiB RSS"
        lines.append(f"{name:<{width}}{figure(row):<52}{memory_text:<14}{half_text(row)}")
    plan = report.get("projection")
    if plan:
        hours = ", ".join(f"{k} {'?' if v is None else f'{v:.1f}'}"
                          for k, v in plan["hours"].items())
        lines += ["", f"full study projected: {plan['total_hours']:.1f} h on this device "
                      f"({hours}){'' if plan['complete'] else '; incomplete: ? not measured'}",
                  f"  ({plan['assumes']})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a quick self-check")
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=None)
    parser.add_argument("--out", type=Path, default=Path("gpu_suite.json"))
    args = parser.parse_args(argv)

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = TINY if args.tiny else FULL
    report: dict[str, Any] = {"environment": describe(device), "tiny": args.tiny,
                              "sizes": dataclasses.asdict(sizes), "cases": {}}
    failed = False
    for name in args.only or list(CASES):
        print(f"{name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            row = CASES[name](device, sizes)
        except Exception as exc:  # noqa: BLE001 - one failed case must not lose the others
            failed = True
            row = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            print(row["traceback"], file=sys.stderr)
        row["case_wall_s"] = round(time.perf_counter() - start, 3)
        report["cases"][name] = row
        report["projection"] = projection(report["cases"])
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        gc.collect()
        if is_cuda(device):
            torch.cuda.empty_cache()
    print(table(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
