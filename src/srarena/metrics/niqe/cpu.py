"""NIQE's per-pixel work on the CPU: compiled kernels (``compiled.jit``), run on threads.

One task is one row of patches of one image: its MSCN coefficients row by row (two separable
7-tap blurs: down the columns, then along the row), then the per-patch sums
(:data:`~srarena.metrics.niqe.features.STATS`) of the five distributions. The tasks of a batch
are split between threads in contiguous chunks; the kernels release the GIL.

Exactness. The blurs follow SciPy's ``correlate1d`` for a symmetric window term by term (each
input value widened to float64, the centre tap first, then the pairs from the outermost
inwards) and every intermediate is stored in the image's dtype, as the NumPy and SciPy calls
of the references do: the "study" MSCN is bit for bit the study's (float32), the "live" one
pyiqa's up to its 2-D window (float64). Only the per-patch sums are free in their order
(float64, reassociated so that they run in SIMD lanes). Nothing here is fused into a
multiply-add: Numba emits none unless asked.
"""

from __future__ import annotations

import numba
import numpy as np

from .compiled import jit, run_split
from .features import N_DISTS, STATS


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
    (:data:`~srarena.metrics.niqe.features.NEIGHBOURS`) into ``moments``
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
