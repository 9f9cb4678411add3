"""Time srarena's NIQE against per-patch references and pyiqa on 1024x1024 images.

Usage: python benchmarks/bench_niqe.py [--images N] [--repeats R] [--pyiqa-images M]
                                       [--threads T] [--device cuda]

The images are scikit-image's sample photographs, bicubic-downscaled to 128x128 and
bicubic-upscaled 8x to 1024x1024 (the study's setting). For each variant it times, in one
run and interleaved round by round (best round kept):

- srarena's metric (``niqe``, ``niqe-study``) on the whole batch;
- a straightforward reference written here from the published algorithms: whole-image MSCN,
  then a loop over patches, each distribution fitted by an exhaustive search of the shape
  grid (``niqe``: LIVE's MATLAB release as pyiqa computes it, with the 2-D float32 window
  and MATLAB's imresize in float32; ``niqe-study``: Gupta's code as the study ran
  it, NumPy 1.x float32 means);
- pyiqa's ``niqe`` on the CPU (when pyiqa is installed), with LIVE's model from the npz that
  srarena ships, on the first M images.

It prints wall and CPU seconds per image (CPU time counts every thread: srarena's kernels and
pyiqa's torch use all CPUs unless ``--threads`` sets both; the per-patch references use
one), the ratios, the largest absolute difference of the values from srarena's, and whether
the goals (10x the per-patch reference, 50x pyiqa, wall time) are met.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io
import scipy.linalg
from PIL import Image
from scipy.ndimage import correlate, correlate1d
from scipy.special import gamma, gammaln

from srarena.components import Context
from srarena.metrics.niqe import metric as srarena_niqe
from srarena.metrics.niqe.compiled import thread_count
from srarena.plugins import get_registry

SIZE = 1024
GOALS = {"per-patch": 10.0, "pyiqa": 50.0}
"""How many times faster than each side srarena's NIQE must be (wall time)."""


def test_images(count: int) -> list[np.ndarray]:
    """RGB float32 [0, 1] 1024x1024 images: sample photos, 128x128 bicubic-upscaled 8x."""
    from skimage import data

    names = ["astronaut", "coffee", "chelsea", "rocket", "retina", "immunohistochemistry"]
    images = []
    for i in range(count):
        rgb = getattr(data, names[i % len(names)])()
        h, w = rgb.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = Image.fromarray(rgb[top : top + side, left : left + side])
        if i >= len(names):
            square = square.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        small = square.resize((128, 128), Image.Resampling.BICUBIC)
        big = small.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
        images.append(np.asarray(big, dtype=np.float32) / 255.0)
    return images


# ---------------------------------------------------------------- per-patch references


def _fit_grid(block: np.ndarray, shapes, ratios, float32_means: bool):
    """AGGD fit of one distribution by exhaustive grid search, as the published codes."""
    x = block.ravel()
    if float32_means:  # Gupta: float32 squares and means (NumPy 1.x buffered sums)
        sq = x * x
        left, right = sq[x < 0], sq[x >= 0]
        lm = math.sqrt(_mean32(left)) if left.size else 0.0
        rm = math.sqrt(_mean32(right)) if right.size else 0.0
        lm, rm = float(np.float32(lm)), float(np.float32(rm))
        g = float(np.float32(lm) / np.float32(rm)) if rm != 0 else math.inf
        mean_sq = _mean32(sq)
        r_hat = _mean32(np.abs(x)) ** 2 / mean_sq if mean_sq != 0 else math.inf
    else:  # LIVE/pyiqa: float64, zeros on neither side
        neg, pos = x[x < 0], x[x > 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            lm = math.sqrt(np.mean(neg * neg)) if neg.size else math.nan
            rm = math.sqrt(np.mean(pos * pos)) if pos.size else math.nan
            g = lm / rm if rm else (math.nan if math.isnan(lm) else math.inf)
            r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x * x)
    with np.errstate(invalid="ignore"):
        ratio = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
        diff = (ratios - ratio) ** 2 if float32_means else np.abs(ratios - ratio)
    i = int(np.argmin(diff)) if np.isfinite(ratio) else 0
    return shapes[i], lm, rm


def _mean32(x: np.ndarray) -> float:
    total = np.float32(0)
    for start in range(0, x.size, 8192):
        total = np.float32(total + np.add.reduce(x[start : start + 8192]))
    return float(np.float32(float(total) / x.size))


def _patch_features(mscn, patch, shapes, ratios, beta, mean, gupta: bool) -> list[list[float]]:
    feats = []
    h, w = mscn.shape
    for r in range(0, h, patch):
        for c in range(0, w, patch):
            p = mscn[r : r + patch, c : c + patch]
            down = np.roll(p, 1, axis=0)
            dists = [p, p * np.roll(p, 1, axis=1), p * down, p * np.roll(down, 1, axis=1),
                     p * np.roll(down, -1, axis=1)]
            row = []
            for k, d in enumerate(dists):
                a, lm, rm = _fit_grid(d, shapes, ratios, gupta)
                i = int(round((a - 0.2) / 0.001))
                bl, br = beta[i] * lm, beta[i] * rm
                if k == 0:
                    row += [a, (bl + br) / 2]
                else:
                    row += [a, (br - bl) * mean[i], bl, bl if gupta and k >= 3 else br]
            feats.append(row)
    return feats


def reference_study(image: np.ndarray) -> float:
    """Gupta's NIQE as the study ran it, patch by patch."""
    mu, cov = srarena_niqe.study_model()
    shapes = np.arange(0.2, 10, 0.001)
    g1, g2, g3 = gamma(1 / shapes), gamma(2 / shapes), gamma(3 / shapes)
    ratios, beta, mean = g2 * g2 / (g1 * g3), np.sqrt(g1) / np.sqrt(g3), g2 / g1
    u8 = np.rint(image * 255).astype(np.uint8)
    grey = np.asarray(Image.fromarray(u8).convert("L")).astype(np.float32)
    h, w = (s - s % 96 for s in grey.shape)
    grey = grey[:h, :w]
    half = np.asarray(Image.fromarray(grey).resize((w // 2, h // 2), Image.Resampling.BICUBIC))
    window = srarena_niqe.study_window()
    scales = []
    for img, patch in ((grey, 96), (half, 48)):
        mu_img = correlate1d(correlate1d(img, window, 0, mode="constant"), window, 1,
                             mode="constant")
        sq = correlate1d(correlate1d(img**2, window, 0, mode="constant"), window, 1,
                         mode="constant")
        mscn = (img - mu_img) / (np.sqrt(np.abs(sq - mu_img**2)) + 1)
        scales.append(_patch_features(mscn, patch, shapes, ratios, beta, mean, True))
    feats = np.hstack([np.array(s) for s in scales])
    diff = feats.mean(axis=0) - mu
    inv = scipy.linalg.pinv((cov + np.cov(feats.T)) / 2)
    return float(np.sqrt(diff @ inv @ diff))


def _imresize_half(x: np.ndarray) -> np.ndarray:
    """MATLAB imresize(x, 0.5): antialiased bicubic (a = -0.5, 8 taps), symmetric border;
    in float32 as pyiqa computes it."""
    t = np.abs(np.arange(8) - 3.5) / 2
    taps = np.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2)
    taps = (taps / taps.sum()).astype(np.float32)
    x = x.astype(np.float32)
    for axis in (0, 1):
        x = np.moveaxis(x, axis, 0)
        padded = np.pad(x, [(3, 3), (0, 0)], mode="symmetric")
        n = x.shape[0] // 2
        out = np.zeros((n, x.shape[1]), dtype=np.float32)
        for k in range(8):
            out += padded[k : k + 2 * n : 2] * taps[k]
        x = np.moveaxis(out, 0, axis)
    return x.astype(np.float64)


def reference_live(image: np.ndarray) -> float:
    """LIVE NIQE as the MATLAB release / pyiqa compute it, patch by patch."""
    mu, cov = srarena_niqe.live_model()
    shapes = (0.2 + 0.001 * np.arange(9801)).astype(np.float32).astype(np.float64)
    l1, l2, l3 = gammaln(1 / shapes), gammaln(2 / shapes), gammaln(3 / shapes)
    ratios, beta, mean = np.exp(2 * l2 - l1 - l3), np.sqrt(np.exp(l1 - l3)), np.exp(l2 - l1)
    x = np.arange(-3.0, 4.0)
    window = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    window = (window / window.sum()).astype(np.float32).astype(np.float64)
    yiq = (image[..., 0] * np.float32(0.299) + image[..., 1] * np.float32(0.587)) + image[
        ..., 2
    ] * np.float32(0.114)
    grey = np.rint(yiq * np.float32(255)).astype(np.float64)
    h, w = (s - s % 96 for s in grey.shape)
    grey = grey[:h, :w]
    scales = []
    for img, patch in ((grey, 96), (_imresize_half(grey / 255) * 255, 48)):
        mu_img = correlate(img, window, mode="nearest")
        var = correlate(img * img, window, mode="nearest") - mu_img**2
        mscn = (img - mu_img) / (np.sqrt(np.abs(var) + np.finfo(float).eps) + 1)
        scales.append(_patch_features(mscn, patch, shapes, ratios, beta, mean, False))
    feats = np.hstack([np.array(s) for s in scales])
    rows = feats[~np.isnan(feats).any(axis=1)]
    diff = np.nanmean(feats, axis=0) - mu
    inv = scipy.linalg.pinv((cov + np.cov(rows.T)) / 2)
    return float(np.sqrt(diff @ inv @ diff))


# ---------------------------------------------------------------- pyiqa


def pyiqa_metric():
    """pyiqa's ``niqe`` with LIVE's model written from srarena's npz, or None."""
    try:
        import pyiqa
        import torch
    except ImportError:
        return None
    mu, cov = srarena_niqe.live_model()
    path = Path(tempfile.mkdtemp()) / "niqe_modelparameters.mat"
    scipy.io.savemat(path, {"mu_prisparam": mu.reshape(1, -1), "cov_prisparam": cov})
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    metric = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=str(path))

    def score(images):
        return [float(metric(torch.from_numpy(i).permute(2, 0, 1)[None])) for i in images]

    return score


# ---------------------------------------------------------------- timing


def timed(function, images) -> tuple[float, float, list[float]]:
    """Wall and CPU seconds per image (CPU time counts every thread of the process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    values = function(images)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / len(images), cpu / len(images), values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pyiqa-images", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for srarena's kernels and pyiqa's torch (0: all CPUs)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    images = test_images(args.images)
    registry = get_registry()
    metrics = {
        name: registry.metric(name).load()(registry.metric(name), Context(device=args.device))
        for name in ("niqe", "niqe-study")
    }
    references = {"niqe": reference_live, "niqe-study": reference_study}
    best: dict[tuple[str, str], tuple[float, float]] = {}
    values: dict[tuple[str, str], list[float]] = {}

    def record(key, wall, cpu, vals):
        old = best.get(key, (math.inf, math.inf))
        best[key] = (min(old[0], wall), min(old[1], cpu))
        values[key] = vals

    for metric in metrics.values():  # warm-up: tables, model files, workspaces
        metric.score(images[:1])
    rounds = max(args.repeats, 1)
    for _ in range(rounds):  # interleaved, so that load changes hit every side alike
        for name, metric in metrics.items():
            per_patch = references[name]
            record((name, "srarena"), *timed(metric.score, images))
            record((name, "per-patch"), *timed(lambda ims, f=per_patch: [f(i) for i in ims],
                                                images))
    pyiqa_score = pyiqa_metric()
    if pyiqa_score is None:
        print("pyiqa not installed: no pyiqa timing")
    else:
        record(("niqe", "pyiqa"), *timed(pyiqa_score, images[: args.pyiqa_images]))
    print(f"{len(images)} images of {SIZE}x{SIZE}, device {args.device}, {thread_count()} "
          f"thread(s), best of {rounds} rounds (pyiqa: one round)")
    print(f"{'metric':<11} {'implementation':<15} {'wall s/img':>10} {'cpu s/img':>10} "
          f"{'faster (wall)':>13} {'faster (cpu)':>13} {'max |diff|':>11}")
    for (name, side), (wall, cpu) in best.items():
        ours, theirs = values[(name, "srarena")], values[(name, side)]
        diff = max(abs(a - b) for a, b in zip(ours, theirs, strict=False))
        base = best[(name, "srarena")]
        print(f"{name:<11} {side:<15} {wall:10.4f} {cpu:10.4f} {wall / base[0]:12.1f}x "
              f"{cpu / base[1]:12.1f}x {diff:11.2e}")
    for (name, side), (wall, _) in best.items():
        if side in GOALS:
            ratio, goal = wall / best[(name, "srarena")][0], GOALS[side]
            verdict = "met" if ratio >= goal else "NOT met"
            print(f"goal: {name} at least {goal:.0f}x faster than {side} (wall): {verdict} "
                  f"({ratio:.1f}x)")


if __name__ == "__main__":
    main()
