"""The grey images NIQE's references score, made as they make them, compiled.

pyiqa's grey (Y of YIQ in float32), Pillow's ``convert('L')`` of the 8-bit image (the
study's), and Pillow's bicubic halving of a float32 image (the study's second scale), each
bit for bit (the tests compare them with NumPy and Pillow).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .compiled import jit, run_split


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


@cache
def _axis_weights(size: int):
    """:func:`pillow_halving_weights` as arrays for the kernels (read-only, shared)."""
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
