"""NIQE's per-pixel work on the CPU: kernels compiled with Numba, run by a pool of threads.

One task is one row of patches of one image: its MSCN coefficients row by row (two separable
7-tap blurs: down the columns, then along the row), then the per-patch sums
(:data:`~srarena.metrics.niqe_features.STATS`) of the five distributions. The tasks of a batch
are split between threads in contiguous chunks; the kernels release the GIL.

Exactness. The blurs follow SciPy's ``correlate1d`` for a symmetric window term by term (each
input value widened to float64, the centre tap first, then the pairs from the outermost
inwards) and every intermediate is stored in the image's dtype, as the NumPy and SciPy calls
of the references do: the "study" MSCN is bit for bit the study's (float32), the "live" one
pyiqa's up to its 2-D window (float64). Only the per-patch sums are free in their order
(float64, reassociated so that they run in SIMD lanes). Nothing here is fused into a
multiply-add: Numba emits none unless asked.

Threads: ``OMP_NUM_THREADS`` when set (Ray sets it per task), else every CPU the process may
run on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numba
import numpy as np

from .niqe_features import N_DISTS, STATS

jit = numba.njit(nogil=True, cache=True, error_model="numpy")
"""Compiled, releasing the GIL, cached on disk; NumPy's float semantics (a division by zero
gives inf or NaN instead of raising, which lets loops with divisions run in SIMD lanes)."""


@jit
def _bordered_rows(image, top, out, replicate):
    """Rows ``top - 3`` to ``top + len(out) - 4`` of ``image`` (H, W) with a 3-pixel border
    (zeros, or the edge pixels replicated) into ``out`` (n, W + 6), in ``out``'s dtype."""
    height, width = image.shape
    for i in range(out.shape[0]):
        row = top - 3 + i
        if row < 0 or row >= height:
            if not replicate:
                for j in range(width + 6):
                    out[i, j] = 0
                continue
            row = 0 if row < 0 else height - 1
        for j in range(width):
            out[i, j + 3] = image[row, j]
        for j in range(3):
            out[i, j] = image[row, 0] if replicate else 0
            out[i, width + 3 + j] = image[row, width - 1] if replicate else 0


@jit
def _mscn_row(strip, row, window, constants, mu, var, out):
    """MSCN of row ``row`` of ``strip``, rows with a 3-pixel border ((n, W + 6), the row's
    neighbours included): (I - mu) / (sqrt(|var| + eps) + 1), var = blur(I^2) - mu^2, each
    step stored in the strip's dtype; ``constants`` = (eps, 1) in that dtype; ``mu`` and
    ``var`` are scratch (W + 6,). Into ``out`` (W,)."""
    width = out.shape[0]
    w0, w1, w2, w3 = window[0], window[1], window[2], window[3]
    eps, one = constants[0], constants[1]
    f64 = np.float64
    r = row
    for j in range(width + 6):  # down the columns: ``mu`` and ``var`` keep the border
        c, a1, b1 = strip[r, j], strip[r - 1, j], strip[r + 1, j]
        a2, b2, a3, b3 = strip[r - 2, j], strip[r + 2, j], strip[r - 3, j], strip[r + 3, j]
        acc = f64(c) * w3
        acc += (f64(a3) + f64(b3)) * w0
        acc += (f64(a2) + f64(b2)) * w1
        acc += (f64(a1) + f64(b1)) * w2
        mu[j] = acc
        acc = f64(c * c) * w3
        acc += (f64(a3 * a3) + f64(b3 * b3)) * w0
        acc += (f64(a2 * a2) + f64(b2 * b2)) * w1
        acc += (f64(a1 * a1) + f64(b1 * b1)) * w2
        var[j] = acc
    for j in range(width):  # along the row, in place: mu[j] reads mu[j] to mu[j + 6]
        acc = f64(mu[j + 3]) * w3
        acc += (f64(mu[j]) + f64(mu[j + 6])) * w0
        acc += (f64(mu[j + 1]) + f64(mu[j + 5])) * w1
        acc += (f64(mu[j + 2]) + f64(mu[j + 4])) * w2
        mu[j] = acc
        acc = f64(var[j + 3]) * w3
        acc += (f64(var[j]) + f64(var[j + 6])) * w0
        acc += (f64(var[j + 1]) + f64(var[j + 5])) * w1
        acc += (f64(var[j + 2]) + f64(var[j + 4])) * w2
        var[j] = acc
    for j in range(width):
        m = mu[j]
        out[j] = (strip[r, j + 3] - m) / (np.sqrt(np.abs(var[j] - m * m) + eps) + one)


@numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _sums(values, out):
    """The STATS of ``values`` (contiguous, 1-D) into ``out`` (5,), in float64: the only
    sums here whose order is free (reassociated into SIMD lanes)."""
    s0 = s1 = s2 = s3 = s4 = 0.0
    for j in range(values.shape[0]):
        d = np.float64(values[j])
        neg, pos = min(d, 0.0), max(d, 0.0)
        s0 += neg * neg
        s1 += 1.0 if d < 0 else 0.0
        s2 += pos * pos
        s3 += 1.0 if d > 0 else 0.0
        s4 += abs(d)
    out[0], out[1], out[2], out[3], out[4] = s0, s1, s2, s3, s4


@jit
def _products(block, up, shift, out):
    """Products of a patch (``block``, (p, p)) with its neighbour ``up`` rows up and
    ``shift`` columns left, wrapping around inside the patch (in the array's dtype), into
    ``out``. Called with constant ``up`` and ``shift``, so that every index is known to be
    in range and the loops run in SIMD lanes."""
    patch = block.shape[0]
    lo, hi = max(shift, 0), patch + min(shift, 0)
    for i in range(patch):
        u = i - up
        if u < 0:
            u += patch
        for j in range(lo, hi):
            out[i, j] = block[i, j] * block[u, j - shift]
        for j in range(lo):
            out[i, j] = block[i, j] * block[u, j - shift + patch]
        for j in range(hi, patch):
            out[i, j] = block[i, j] * block[u, j - shift - patch]


@jit
def _mscn_and_moments(images, replicate, window, constants, first, last, blocks, moments):
    """Tasks ``first`` to ``last - 1`` of a batch of images (B, H, W): task t is the row of
    patches t % (H / p) of image t // (H / p). MSCN into ``blocks`` (B, H / p, W / p, p, p),
    patch by patch, in ``blocks``' dtype; STATS of the coefficients and of their products
    with the left, upper, upper-left and upper-right neighbour
    (:data:`~srarena.metrics.niqe_features.NEIGHBOURS`) into ``moments``
    (B, H / p, W / p, 5, 5)."""
    _, rows, cols, patch, _ = blocks.shape
    width = cols * patch
    dtype = blocks.dtype
    strip = np.empty((patch + 6, width + 6), dtype)
    mu, var, line = np.empty(width + 6, dtype), np.empty(width + 6, dtype), np.empty(width, dtype)
    buffer = np.empty((patch, patch), dtype)
    flat = buffer.reshape(-1)
    for task in range(first, last):
        index, patch_row = task // rows, task % rows
        _bordered_rows(images[index], patch_row * patch, strip, replicate)
        target = blocks[index, patch_row]
        for i in range(patch):
            _mscn_row(strip, i + 3, window, constants, mu, var, line)
            for col in range(cols):
                source, row = line[col * patch : (col + 1) * patch], target[col, i]
                for j in range(patch):
                    row[j] = source[j]
        for col in range(cols):
            block, sums = target[col], moments[index, patch_row, col]
            _sums(block.reshape(-1), sums[0])
            _products(block, 0, 1, buffer)
            _sums(flat, sums[1])
            _products(block, 1, 0, buffer)
            _sums(flat, sums[2])
            _products(block, 1, 1, buffer)
            _sums(flat, sums[3])
            _products(block, 1, -1, buffer)
            _sums(flat, sums[4])


@jit
def _halve(images, scale, taps, first, last, out):
    """MATLAB's antialiased bicubic halving, as pyiqa computes it, of images ``first`` to
    ``last - 1`` of (B, H, W) divided by ``scale`` (in float64, then rounded to float32),
    into ``out`` (B, H/2, W/2): 8 taps at stride 2 over the symmetric-padded image, each
    product rounded to float32 and added in tap order, down the columns first."""
    _, height, width = images.shape
    t0, t1, t2, t3 = taps[0], taps[1], taps[2], taps[3]
    t4, t5, t6, t7 = taps[4], taps[5], taps[6], taps[7]
    rows = np.empty((8, width), np.float32)
    column = np.empty(width + 6, np.float32)
    for index in range(first, last):
        image = images[index]
        for i in range(out.shape[1]):
            for k in range(8):
                source = 2 * i + k - 3  # symmetric border: -1 is row 0, H is row H - 1
                if source < 0:
                    source = -source - 1
                elif source >= height:
                    source = 2 * height - source - 1
                for j in range(width):
                    rows[k, j] = image[source, j] / scale
            for j in range(width):
                acc = rows[0, j] * t0
                acc += rows[1, j] * t1
                acc += rows[2, j] * t2
                acc += rows[3, j] * t3
                acc += rows[4, j] * t4
                acc += rows[5, j] * t5
                acc += rows[6, j] * t6
                acc += rows[7, j] * t7
                column[j + 3] = acc
            for j in range(3):
                column[2 - j] = column[3 + j]
                column[width + 3 + j] = column[width + 2 - j]
            target = out[index, i]
            for j in range(out.shape[2]):
                c = 2 * j
                acc = column[c] * t0
                acc += column[c + 1] * t1
                acc += column[c + 2] * t2
                acc += column[c + 3] * t3
                acc += column[c + 4] * t4
                acc += column[c + 5] * t5
                acc += column[c + 6] * t6
                acc += column[c + 7] * t7
                target[j] = acc


def _pillow_bicubic(x: float) -> float:
    """Pillow's bicubic kernel (a = -0.5), evaluated in the same order, in float64."""
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@cache
def pillow_halving_weights(size: int) -> tuple[int, np.ndarray, list[tuple[int, np.ndarray]]]:
    """Weights of Pillow's bicubic resize from ``size`` (even) to ``size / 2`` along one
    axis, computed as Pillow does (float64; each output's taps cut at the image's edges and
    renormalised): (number of edge outputs on each side, the 8 taps every other output
    shares, and for every output its first input and its taps)."""
    scale = size / (size // 2)
    support = 2.0 * scale
    rows = []
    for out in range(size // 2):
        center = (out + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        count = min(int(center + support + 0.5), size) - first
        taps = [_pillow_bicubic((x + first - center + 0.5) / scale) for x in range(count)]
        total = 0.0
        for tap in taps:
            total += tap
        rows.append((first, np.array([t / total for t in taps] if total != 0 else taps)))
    edge = 0
    while edge < len(rows) and len(rows[edge][1]) != 8:
        edge += 1
    if edge == len(rows) or any(
        first != 2 * out - 3 or not np.array_equal(taps, rows[edge][1])
        for out, (first, taps) in enumerate(rows[edge : len(rows) - edge], start=edge)
    ):
        raise ValueError(f"unexpected bicubic weights halving {size} pixels")
    return edge, rows[edge][1], rows


@jit
def _dot(line, first, taps):
    """sum of line[first + t] * taps[t], from 0.0 in tap order, in float64."""
    acc = 0.0
    for t in range(taps.shape[0]):
        acc += np.float64(line[first + t]) * taps[t]
    return acc


@jit
def _pillow_halve_rows(image, edge, shared, edge_firsts, edge_counts, edge_taps, out):
    """Every row of ``image`` (H, W) halved along itself into ``out`` (H, W / 2), float32:
    ``edge`` outputs at each end with their own taps (from input ``edge_firsts``,
    ``edge_taps[:, :edge_counts]``), the others the ``shared`` 8 taps at stride 2."""
    width = out.shape[1]
    k0, k1, k2, k3 = shared[0], shared[1], shared[2], shared[3]
    k4, k5, k6, k7 = shared[4], shared[5], shared[6], shared[7]
    f64 = np.float64
    for i in range(image.shape[0]):
        line, target = image[i], out[i]
        for e in range(2 * edge):
            j = e if e < edge else width - 2 * edge + e
            target[j] = _dot(line, edge_firsts[e], edge_taps[e, : edge_counts[e]])
        inner = line[2 * edge - 3 :]
        for m in range(width - 2 * edge):
            c = 2 * m
            acc = 0.0
            acc += f64(inner[c]) * k0
            acc += f64(inner[c + 1]) * k1
            acc += f64(inner[c + 2]) * k2
            acc += f64(inner[c + 3]) * k3
            acc += f64(inner[c + 4]) * k4
            acc += f64(inner[c + 5]) * k5
            acc += f64(inner[c + 6]) * k6
            acc += f64(inner[c + 7]) * k7
            target[edge + m] = acc


@jit
def _pillow_halve_columns(image, firsts, taps, counts, acc, out):
    """Every column of ``image`` (H, W) halved along itself into ``out`` (H / 2, W), float32:
    output row i adds rows ``firsts[i]`` onwards times ``taps[i, :counts[i]]``, from 0.0
    in tap order, in float64 (``acc`` is a scratch row)."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            acc[j] = 0.0
        for t in range(counts[i]):
            line, tap = image[firsts[i] + t], taps[i, t]
            for j in range(out.shape[1]):
                acc[j] += np.float64(line[j]) * tap
        target = out[i]
        for j in range(out.shape[1]):
            target[j] = acc[j]


def _axis_weights(size: int):
    """:func:`pillow_halving_weights` as arrays for the kernels."""
    edge, shared, rows = pillow_halving_weights(size)
    firsts = np.array([first for first, _ in rows], dtype=np.int64)
    counts = np.array([len(taps) for _, taps in rows], dtype=np.int64)
    taps = np.zeros((len(rows), 8))
    for i, (_, row) in enumerate(rows):
        taps[i, : len(row)] = row
    ends = np.r_[0:edge, len(rows) - edge : len(rows)]
    return edge, shared, firsts, counts, taps, ends


def pillow_halve(images: np.ndarray) -> np.ndarray:
    """Pillow's ``resize((W / 2, H / 2), BICUBIC)`` of each float32 image of (B, H, W)
    (even sides; mode "F"): along the rows first, then the columns, every value float32
    between the passes, as Pillow computes it (bit for bit, on x86-64)."""
    b, h, w = images.shape
    edge, shared, along, count_along, taps_along, ends = _axis_weights(w)
    edges = (along[ends], count_along[ends], taps_along[ends])
    _, _, firsts, counts, taps, _ = _axis_weights(h)
    out = np.empty((b, h // 2, w // 2), np.float32)

    def kernel(first: int, last: int) -> None:
        rows = np.empty((h, w // 2), np.float32)
        acc = np.empty(w // 2)
        for index in range(first, last):
            _pillow_halve_rows(images[index], edge, shared, *edges, rows)
            _pillow_halve_columns(rows, firsts, taps, counts, acc, out[index])

    run_split(kernel, b)
    return out


@jit
def _luma_yiq(rgb, weights, out):
    """pyiqa's grey of the top-left part of a float32 RGB image (H, W, 3) that ``out``
    covers: Y of YIQ, each product and sum in float32 (red and green added first), times
    255, rounded (half to even)."""
    w0, w1, w2 = weights[0], weights[1], weights[2]
    scale = np.float32(255)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            y = (rgb[i, j, 0] * w0 + rgb[i, j, 1] * w1) + rgb[i, j, 2] * w2
            out[i, j] = np.rint(y * scale)


@jit
def _luma_pil(rgb, out):
    """Pillow's ``convert('L')`` of the 8-bit version of the top-left part of a float32 RGB
    image (H, W, 3) that ``out`` covers: each value times 255 in float32, clipped, rounded
    (half to even) to 8 bits; then (19595 R + 38470 G + 7471 B + 2^15) >> 16, in float32,
    where every intermediate is a whole number below 2^24 and so exact. Each row is first
    split into its three channels, which lets the arithmetic run in SIMD lanes."""
    scale, zero = np.float32(255), np.float32(0)
    c0, c1, c2 = np.float32(19595), np.float32(38470), np.float32(7471)
    half, shift = np.float32(32768), np.float32(1 / 65536)
    width = out.shape[1]
    planes = np.empty((3, width), np.float32)
    for i in range(out.shape[0]):
        for j in range(width):
            planes[0, j], planes[1, j], planes[2, j] = rgb[i, j, 0], rgb[i, j, 1], rgb[i, j, 2]
        for j in range(width):
            r = np.rint(min(max(planes[0, j] * scale, zero), scale))
            g = np.rint(min(max(planes[1, j] * scale, zero), scale))
            b = np.rint(min(max(planes[2, j] * scale, zero), scale))
            out[i, j] = np.floor((((r * c0 + g * c1) + b * c2) + half) * shift)


YIQ_Y = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma_yiq(rgb: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`_luma_yiq` of an RGB image (taken as float32) into ``out``."""
    _luma_yiq(np.asarray(rgb, dtype=np.float32), YIQ_Y, out)
    return out


def luma_pil(rgb: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`_luma_pil` of an RGB image (taken as float32) into ``out``."""
    _luma_pil(np.asarray(rgb, dtype=np.float32), out)
    return out


NUMPY1_BUFFER = 8192
"""NumPy 1.x's ufunc buffer size, in values: its float32 sums went buffer by buffer."""


@jit
def _pairwise_sum(values, first, count):
    """NumPy's pairwise float32 sum of ``values[first : first + count]``: under 8 values one
    by one from -0.0; up to 128 in 8 interleaved partial sums, combined as a tree, then the
    rest one by one; above, the two halves (the first a multiple of 8) summed the same way."""
    if count < 8:
        total = np.float32(-0.0)
        for i in range(count):
            total += values[first + i]
        return total
    if count <= 128:
        r = values[first : first + 8].copy()
        i, end = 8, count - count % 8
        while i < end:
            for k in range(8):
                r[k] += values[first + i + k]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < count:
            total += values[first + i]
            i += 1
        return total
    half = count // 2
    half -= half % 8
    return _pairwise_sum(values, first, half) + _pairwise_sum(values, first + half, count - half)


@jit
def _numpy1_mean(values, count):
    """NumPy 1.x's float32 mean of ``values[:count]``: pairwise sums of 8192-value buffers,
    added buffer by buffer in float32 (NumPy 2 sums the whole array pairwise), divided in
    float64, rounded to float32."""
    total = np.float32(0.0)
    for start in range(0, count, NUMPY1_BUFFER):
        total += _pairwise_sum(values, start, min(NUMPY1_BUFFER, count - start))
    return np.float32(np.float64(total) / count)


@jit
def _study_means(d):
    """The float32 means Gupta's ``aggd_features`` takes of one distribution ``d`` (float32,
    1-D) under NumPy 1.x: of the squares of the negative values, of the squares of the
    others, of all squares and of the absolute values; an empty side's mean is -1."""
    n = d.shape[0]
    left, right = np.empty(n, np.float32), np.empty(n, np.float32)
    squares, magnitudes = np.empty(n, np.float32), np.empty(n, np.float32)
    n_left = n_right = 0
    for i in range(n):
        value = d[i]
        square = value * value
        squares[i], magnitudes[i] = square, abs(value)
        if value < 0:
            left[n_left] = square
            n_left += 1
        elif value >= 0:
            right[n_right] = square
            n_right += 1
    empty = np.float32(-1.0)
    return (_numpy1_mean(left, n_left) if n_left else empty,
            _numpy1_mean(right, n_right) if n_right else empty,
            _numpy1_mean(squares, n), _numpy1_mean(magnitudes, n))


def study_moment_ratio(d: np.ndarray) -> tuple[float, float, float]:
    """(ratio, left rms, right rms) of one distribution (float32, 1-D) exactly as the study's
    ``aggd_features`` computed them under NumPy 1.x: float32 squares and means
    (:func:`_study_means`), float32 square roots, the ratio in float64."""
    means = _study_means(np.ascontiguousarray(d, np.float32))
    left_mean, right_mean, mean_sq, mean_abs = (np.float32(m) for m in means)  # float32 again
    left = np.sqrt(left_mean) if left_mean >= 0 else np.float32(0)
    right = np.sqrt(right_mean) if right_mean >= 0 else np.float32(0)
    g = float(left / right) if right != 0 else np.inf
    r_hat = float(mean_abs) ** 2 / float(mean_sq) if mean_sq != 0 else np.inf
    with np.errstate(invalid="ignore"):
        ratio = r_hat * (((g**3 + 1) * (g + 1)) / (g**2 + 1) ** 2)
    return float(ratio), float(left), float(right)


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
    return ThreadPoolExecutor(threads - 1, thread_name_prefix="srarena-niqe")


def run_split(kernel: Callable[[int, int], object], tasks: int) -> None:
    """``kernel(first, last)`` over ``range(tasks)`` in contiguous chunks, one per thread."""
    threads = min(thread_count(), tasks)
    if threads <= 1:
        kernel(0, tasks)
        return
    bounds = [tasks * k // threads for k in range(threads + 1)]
    pool = _pool(threads)
    futures = [pool.submit(kernel, bounds[k], bounds[k + 1]) for k in range(1, threads)]
    kernel(bounds[0], bounds[1])  # the calling thread takes the first chunk
    for future in futures:
        future.result()


def thread_map(function: Callable, items: Sequence) -> list:
    """``function`` over ``items`` on the kernels' threads, for work that releases the GIL
    (such as Pillow's resizing)."""
    results: list = [None] * len(items)

    def kernel(first: int, last: int) -> None:
        for i in range(first, last):
            results[i] = function(items[i])

    run_split(kernel, len(items))
    return results


MODES = {
    "study": (np.float32, False, 0.0),
    "live": (np.float64, True, float(np.finfo(np.float64).eps)),
}
"""Per variant: the dtype every intermediate is stored in, whether the border replicates the
edge (else zeros) and the epsilon under the square root (pyiqa's)."""


class CpuKernels:
    """The per-pixel work of NIQE on the CPU (see the module's docstring)."""

    def mscn_and_moments(
        self, images: np.ndarray, patch: int, variant: str, window: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """MSCN of each image of (B, H, W), patch by patch (B, H / p, W / p, p, p), and the
        per-patch sums (:data:`STATS`) of each distribution, float64 (B, n_patches, 5, 5),
        patches numbered row by row."""
        dtype, replicate, eps = MODES[variant]
        b, h, w = images.shape
        blocks = np.empty((b, h // patch, w // patch, patch, patch), dtype)
        moments = np.empty((b, h // patch, w // patch, N_DISTS, len(STATS)))
        constants = np.array([eps, 1.0], dtype=dtype)
        window = np.ascontiguousarray(window, dtype=np.float64)

        def kernel(first: int, last: int) -> None:
            _mscn_and_moments(images, replicate, window, constants, first, last, blocks,
                              moments)

        run_split(kernel, b * (h // patch))
        return blocks, moments.reshape(b, -1, N_DISTS, len(STATS))

    def halve(self, images: np.ndarray, taps: np.ndarray, scale: float) -> np.ndarray:
        """MATLAB's antialiased bicubic halving of each image of (B, H, W) (even sides)
        divided by ``scale``, in float32 as pyiqa computes it; float64 out, times ``scale``."""
        b, h, w = images.shape
        out = np.empty((b, h // 2, w // 2), np.float32)
        weights = np.ascontiguousarray(taps, dtype=np.float32)
        run_split(lambda first, last: _halve(images, scale, weights, first, last, out), b)
        return out.astype(np.float64) * scale

    def patch(self, mscn: np.ndarray, index: int, row: int, col: int, patch: int) -> np.ndarray:
        """One patch of one image (``mscn`` as :meth:`mscn_and_moments` returns it)."""
        return mscn[index, row, col]


def whole_images(blocks: np.ndarray) -> np.ndarray:
    """(B, H / p, W / p, p, p) patches back to (B, H, W) images."""
    b, rows, cols, patch, _ = blocks.shape
    return blocks.transpose(0, 1, 3, 2, 4).reshape(b, rows * patch, cols * patch)
