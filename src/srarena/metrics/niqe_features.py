"""NIQE features shared by the ``niqe`` and ``niqe-study`` metrics, vectorised over patches.

NIQE (Mittal, Soundararajan and Bovik, IEEE SPL 2013) turns a greyscale image into MSCN
coefficients (mean-subtracted, contrast-normalised), cuts them into 96x96 patches, fits an
asymmetric generalised Gaussian (AGGD) to the coefficients and to the products of
horizontal, vertical and diagonal neighbours of every patch, repeats this on the image halved
in size, and scores the distance between the Gaussian fitted to these 36 features per patch
and a Gaussian fitted on pristine images.

Nothing here loops over patches: per-pixel work (filters, neighbour products, per-patch
sums) is done by a kernels object, NumPy on the CPU (:class:`Kernels`, strip by strip) or
PyTorch on CUDA (``niqe_torch.TorchKernels``, whole batches), and the AGGD fits of all patches
of a batch at once by NumPy on the small arrays of sums. The reference implementations choose
the AGGD shape by an exhaustive search of a grid of shapes for the nearest moment ratio; the
ratio increases with the shape, so a binary search gives the same choice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.linalg
from scipy.ndimage import correlate1d
from scipy.special import gamma, gammaln

from ..components import InputRefused

PATCH = 96
MIN_SIDE = 2 * PATCH
"""Both scales need two full patches per side (96 px at full size, 48 px at half size)."""

STATS = ("sum_sq_left", "n_left", "sum_sq_pos", "n_pos", "sum_abs")
"""Per patch and distribution: sum of squares of the negative values and their count, sum of
squares of the positive values and their count, sum of absolute values."""

N_DISTS = 5
"""The coefficients, then their products with the horizontal, vertical, diagonal and
anti-diagonal neighbour (wrapping around inside the patch, as both references do)."""


def check_size(height: int, width: int) -> None:
    """Refuse an image with fewer than two full patches per side."""
    if min(height, width) < MIN_SIDE:
        raise InputRefused(
            f"NIQE needs at least {MIN_SIDE}x{MIN_SIDE} pixels (two {PATCH}-pixel patches per "
            f"side at full and half size); this image is {width}x{height}"
        )


def crop_to_patches(grey: np.ndarray) -> np.ndarray:
    """Keep the top-left part of the image that whole patches cover, as both references do."""
    height, width = grey.shape[-2:]
    return grey[..., : height - height % PATCH, : width - width % PATCH]


@dataclass(frozen=True)
class ShapeTable:
    """AGGD shapes tried, and what the fit needs at each one.

    ``ratio`` is the moment ratio Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)), increasing in the
    shape ``a``; ``beta`` the factor from a side's root mean square to its scale; ``mean``
    the factor from the difference of the scales to the AGGD mean.
    """

    shape: np.ndarray
    ratio: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    squared_distance: bool

    def nearest(self, values: np.ndarray) -> np.ndarray:
        """Index of the ratio nearest to each value, the lowest on a tie; 0 when not finite.

        Equal to ``argmin(|ratio - value|)`` (or of the squared difference) over the table,
        which is what the references compute, because ``ratio`` increases.
        """
        values = np.asarray(values, dtype=np.float64)
        last = len(self.ratio) - 1
        above = np.searchsorted(self.ratio, values)
        low = np.clip(above - 1, 0, last)
        high = np.minimum(above, last)
        with np.errstate(invalid="ignore", over="ignore"):
            d_low = self.ratio[low] - values
            d_high = self.ratio[high] - values
            if self.squared_distance:
                d_low, d_high = d_low * d_low, d_high * d_high
            else:
                d_low, d_high = np.abs(d_low), np.abs(d_high)
            pick = np.where(d_high < d_low, high, low)
        return np.where(np.isfinite(values), pick, 0)


@cache
def study_table() -> ShapeTable:
    """The grid of Gupta's NIQE (the study): shapes 0.2 to 9.999 in steps of 0.001."""
    shape = np.arange(0.2, 10, 0.001)
    g1, g2, g3 = gamma(1.0 / shape), gamma(2.0 / shape), gamma(3.0 / shape)
    ratio = (g2 * g2) / (g1 * g3)
    return ShapeTable(shape, ratio, np.sqrt(g1) / np.sqrt(g3), g2 / g1, True)


@cache
def live_table() -> ShapeTable:
    """The grid of the LIVE/pyiqa NIQE: shapes 0.2 to 10.0 in steps of 0.001, in float32."""
    shape = (0.2 + 0.001 * np.arange(9801)).astype(np.float32).astype(np.float64)
    l1, l2, l3 = gammaln(1.0 / shape), gammaln(2.0 / shape), gammaln(3.0 / shape)
    ratio = np.exp(2 * l2 - (l1 + l3))
    return ShapeTable(shape, ratio, np.sqrt(np.exp(l1 - l3)), np.exp(l2 - l1), False)


NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))
"""(rows up, columns left) of the left, upper, upper-left and upper-right neighbours."""


def _cyclic_pairs(shift: int) -> list[tuple[slice, slice]]:
    """(output, input) slices along one axis that pair index i with i - shift, cyclically."""
    if shift == 0:
        return [(slice(None), slice(None))]
    if shift > 0:
        return [(slice(shift, None), slice(None, -shift)),
                (slice(None, shift), slice(-shift, None))]
    return [(slice(None, shift), slice(-shift, None)), (slice(shift, None), slice(None, -shift))]


HALO = 3
"""Rows of context the 7-tap Gaussian needs on each side of a strip."""

STRIP_SIZE = 96 * 1024
"""About how many pixels a strip holds: whole rows of patches, few enough to stay in cache,
enough that NumPy's per-call cost is small."""


class Workspace:
    """Arrays reused by name, shape and dtype. A fresh array of a few megabytes costs page
    faults that can take longer than the arithmetic done on it."""

    LIMIT = 64

    def __init__(self) -> None:
        self._arrays: dict[tuple, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        key = (name, tuple(shape), np.dtype(dtype))
        array = self._arrays.get(key)
        if array is None:
            if len(self._arrays) >= self.LIMIT:
                self._arrays.clear()
            array = self._arrays[key] = np.empty(shape, dtype)
        return array


def _blur(x: np.ndarray, window: np.ndarray, mode: str, tmp: np.ndarray, out: np.ndarray):
    """Separable correlation over the last two axes (rows first) into ``out``, each pass
    accumulated in float64 and stored in the arrays' dtype (SciPy's ``correlate1d``)."""
    correlate1d(x, window, axis=-2, mode=mode, output=tmp)
    correlate1d(tmp, window, axis=-1, mode=mode, output=out)


def _mscn(image: np.ndarray, window: np.ndarray, ws: Workspace | None, dtype, mode: str,
          eps: float) -> np.ndarray:
    """(I - mu) / (sqrt(|var| + eps) + 1), every intermediate stored in ``dtype``; the
    result lives in the workspace until its next use."""
    ws = ws or Workspace()
    image = np.asarray(image, dtype=dtype)
    tmp, mu, var = (ws(name, image.shape, dtype) for name in ("tmp", "mu", "var"))
    _blur(image, window, mode, tmp, mu)
    np.multiply(image, image, out=var)
    _blur(var, window, mode, tmp, var)
    np.multiply(mu, mu, out=tmp)
    np.subtract(var, tmp, out=var)
    np.abs(var, out=var)
    if eps:
        np.add(var, eps, out=var)
    np.sqrt(var, out=var)
    np.add(var, 1, out=var)
    np.subtract(image, mu, out=mu)
    return np.divide(mu, var, out=mu)


def mscn_study(image: np.ndarray, window: np.ndarray, ws: Workspace | None = None) -> np.ndarray:
    """MSCN as the study computed it: float32, zero padding, C = 1; every intermediate
    stored in float32 as its SciPy calls did, so the result is bit for bit the study's.
    With a workspace, the result lives in it until the next call."""
    return _mscn(image, window, ws, np.float32, "constant", 0.0)


def mscn_live(image: np.ndarray, window: np.ndarray, ws: Workspace | None = None) -> np.ndarray:
    """MSCN as LIVE's MATLAB code and pyiqa compute it: float64, replicated border, C = 1,
    pyiqa's epsilon under the square root. With a workspace, as :func:`mscn_study`."""
    return _mscn(image, window, ws, np.float64, "nearest", float(np.finfo(np.float64).eps))


def halve_matlab(image: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Halve both (even) sides of a 2-D image with MATLAB's antialiased bicubic, in float32
    as pyiqa does: 8 taps at stride 2 over a symmetric-padded image, added in tap order,
    rows first. Float64 out."""
    weights = taps.astype(np.float32)
    x = np.asarray(image, dtype=np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (3, 3)
        padded = np.pad(x, pad, mode="symmetric")
        n = x.shape[axis] // 2
        shape = (n, x.shape[1]) if axis == 0 else (x.shape[0], n)
        out, term = np.zeros(shape, dtype=np.float32), np.empty(shape, dtype=np.float32)
        for k, weight in enumerate(weights):
            taken = padded[k : k + 2 * n : 2] if axis == 0 else padded[:, k : k + 2 * n : 2]
            np.multiply(taken, weight, out=term)
            out += term
        x = out
    return x.astype(np.float64)


MSCN = {"study": mscn_study, "live": mscn_live}


class Kernels:
    """Per-pixel work with NumPy (the CPU path).

    Images are processed one strip of whole rows of patches at a time (about
    :data:`STRIP_SIZE` pixels), with :data:`HALO` rows of context for the filter, so that the
    working set stays in the CPU cache; the results equal whole-image ones. Temporary arrays
    are reused from one strip to the next (:class:`Workspace`).
    """

    def __init__(self) -> None:
        self.workspace = Workspace()

    def mscn_and_moments(
        self, images: np.ndarray, patch: int, variant: str, window: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """MSCN of each image of (B, H, W) (kept for "study" only, where exact re-fits read
        it) and the per-patch sums (:data:`STATS`) of each distribution, float64
        (B, n_patches, 5, 5), patches numbered row by row.

        The "live" MSCN is computed in float64 (it subtracts nearly equal numbers), its
        neighbour products and sums in float32: summing thousands of independently rounded
        terms moves a patch's moments by about 1e-9, far below what changes a fitted shape
        (the values stay within 5e-7 of pyiqa's float64 ones on the test images).
        """
        mscn = MSCN[variant]
        study = variant == "study"
        ws = self.workspace
        b, h, w = images.shape
        step = patch * max(1, round(STRIP_SIZE / (patch * w)))
        coefficients = ws("coefficients", images.shape, np.float32) if study else None
        moments = np.empty((b, h // patch, w // patch, N_DISTS, len(STATS)))
        for i in range(b):
            for top in range(0, h, step):
                bottom = min(top + step, h)
                lo, hi = max(top - HALO, 0), min(bottom + HALO, h)
                strip = mscn(images[i, lo:hi], window, ws)[top - lo : bottom - lo]
                if coefficients is not None:
                    coefficients[i, top:bottom] = strip
                else:
                    narrow = ws("float32", strip.shape, np.float32)
                    np.copyto(narrow, strip)
                    strip = narrow
                sums = strip_moments(strip, patch, ws, positives=not study)
                moments[i, top // patch : bottom // patch] = sums.reshape(
                    -1, w // patch, N_DISTS, len(STATS)
                )
        return coefficients, moments.reshape(b, -1, N_DISTS, len(STATS))

    def halve(self, images: np.ndarray, taps: np.ndarray) -> np.ndarray:
        """:func:`halve_matlab` of each image of (B, H, W)."""
        return np.stack([halve_matlab(image, taps) for image in images])

    def patch(self, mscn: np.ndarray, index: int, row: int, col: int, patch: int) -> np.ndarray:
        """One patch of one image, as a NumPy array."""
        rows, cols = slice(row * patch, (row + 1) * patch), slice(col * patch, (col + 1) * patch)
        return np.asarray(mscn[index, rows, cols])


def strip_products(strip: np.ndarray, patch: int, ws: Workspace | None = None) -> np.ndarray:
    """The five distributions of a strip of whole patches (rows, W), as (5, rows, W): the
    coefficients, then their products with the left, upper, upper-left and upper-right
    neighbour inside each patch, wrapping around at the patch's edges as both references'
    per-patch ``roll`` does."""
    rows, width = strip.shape
    dists = (ws or Workspace())("dists", (N_DISTS, rows, width), strip.dtype)
    dists[0] = strip
    x = strip.reshape(rows // patch, patch, width // patch, patch)
    for k, (dr, dc) in enumerate(NEIGHBOURS, start=1):
        out = dists[k].reshape(x.shape)
        for r_out, r_in in _cyclic_pairs(dr):
            for c_out, c_in in _cyclic_pairs(dc):
                np.multiply(x[:, r_out, :, c_out], x[:, r_in, :, c_in], out=out[:, r_out, :, c_out])
    return dists


def strip_moments(
    strip: np.ndarray, patch: int, ws: Workspace | None = None, positives: bool = True
) -> np.ndarray:
    """Per-patch sums (:data:`STATS`) of each distribution of a strip of whole patches,
    (n_patches, 5, 5), patches numbered row by row.

    ``|d| - d`` and ``|d| + d`` are exactly twice the negative and the positive part, so
    every sum adds non-negative terms. Sums run along patch rows in the strip's precision
    (without BLAS, whose threads stall on busy machines), then in float64. Without
    ``positives`` the count of positive values is left at 0 (the study's fit needs none).
    All five distributions go through each NumPy call together, to keep the calls few.
    """
    ws = ws or Workspace()
    rows, width = strip.shape
    d = strip_products(strip, patch, ws).reshape(N_DISTS, -1, patch)
    pos, neg, mask = (ws(name, d.shape, d.dtype) for name in ("pos", "neg", "mask"))
    np.abs(d, out=pos)
    np.subtract(pos, d, out=neg)
    pos += d
    out = np.zeros((len(STATS), N_DISTS, d.shape[1]))
    out[0] = np.einsum("kij,kij->ki", neg, neg) / 4
    np.less(d, 0, out=mask, casting="unsafe")
    out[1] = np.einsum("kij->ki", mask)
    out[2] = np.einsum("kij,kij->ki", pos, pos) / 4
    if positives:
        np.greater(d, 0, out=mask, casting="unsafe")
        out[3] = np.einsum("kij->ki", mask)
    out[4] = (np.einsum("kij->ki", neg) + np.einsum("kij->ki", pos)) / 2
    sums = out.reshape(len(STATS), N_DISTS, rows // patch, patch, width // patch).sum(axis=3)
    return sums.reshape(len(STATS), N_DISTS, -1).transpose(2, 1, 0)


def patch_products(patch: np.ndarray) -> list[np.ndarray]:
    """The five distributions of one patch, flattened in row-major order, the way both
    references compute them: products with ``np.roll``-ed copies of the patch."""
    p = np.ascontiguousarray(patch)
    down = np.roll(p, 1, axis=0)
    dists = [p, p * np.roll(p, 1, axis=1), p * down, p * np.roll(down, 1, axis=1),
             p * np.roll(down, -1, axis=1)]
    return [d.ravel() for d in dists]


def _aggd_ratio(n: int, sum_sq_left, n_left, sum_sq_right, n_right, sum_abs):
    """Root mean squares of both sides and the normalised moment ratio (NaN/inf kept)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        left = np.sqrt(sum_sq_left / n_left)
        right = np.sqrt(sum_sq_right / n_right)
        g = left / right
        r_hat = (sum_abs / n) ** 2 / ((sum_sq_left + sum_sq_right) / n)
        ratio = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    return left, right, ratio


@dataclass
class AGGDFit:
    """Per patch and distribution (B, n_patches, 5): shape index, left and right rms."""

    index: np.ndarray
    left: np.ndarray
    right: np.ndarray


def fit_live(moments: np.ndarray, n: int, table: ShapeTable) -> AGGDFit:
    """AGGD fit as LIVE/pyiqa: zeros count on neither side; an empty side gives NaN."""
    m = np.moveaxis(moments, -1, 0)
    left, right, ratio = _aggd_ratio(n, m[0], m[1], m[2], m[3], m[4])
    return AGGDFit(table.nearest(ratio), left, right)


STUDY_MARGIN = 5e-6
"""Relative distance of the float64 moment ratio from a grid midpoint below which the study's
fit is redone exactly. The study's float32 ratio differs from the float64 one by rounding
only: at most 5.4e-7 over 18,416 fits on natural and upscaled images (tests check 10x less
than this margin on the fixtures)."""


def fit_study(
    moments: np.ndarray,
    n: int,
    table: ShapeTable,
    exact: Callable[[int], tuple[float, float, float]],
) -> AGGDFit:
    """AGGD fit as Gupta's NIQE: zeros count on the right; an empty side has rms 0.

    The study computed the ratio from float32 means, so its shape choice can differ from the
    float64 one where the ratio is within :data:`STUDY_MARGIN` of the midpoint between two
    grid values. Those few fits (and edge cases: an empty or all-zero side) are redone by
    ``exact(flat_index) -> (ratio, left, right)`` the way the study computed them.
    """
    m = np.moveaxis(moments, -1, 0)
    n_right = n - m[1]
    left, right, ratio = _aggd_ratio(n, m[0], m[1], m[2], n_right, m[4])
    left = np.where(m[1] > 0, left, 0.0)
    right = np.where(n_right > 0, right, 0.0)
    index = table.nearest(ratio)
    unsure = table.nearest(ratio * (1 - STUDY_MARGIN)) != table.nearest(ratio * (1 + STUDY_MARGIN))
    unsure |= ~np.isfinite(ratio) | (m[0] == 0) | (m[2] == 0)
    flat_index, flat_left, flat_right = index.reshape(-1), left.reshape(-1), right.reshape(-1)
    for i in np.flatnonzero(unsure):
        ratio_i, flat_left[i], flat_right[i] = exact(int(i))
        flat_index[i] = table.nearest(ratio_i)
    return AGGDFit(index, left, right)


NUMPY1_BUFFER = 8192
"""NumPy 1.x's ufunc buffer size, in values: its float32 sums went buffer by buffer."""


def study_moment_ratio(d: np.ndarray) -> tuple[float, float, float]:
    """(ratio, left rms, right rms) of one distribution (float32, 1-D) exactly as the study's
    ``aggd_features`` computed them under NumPy 1.x: float32 squares; float32 means, whose sums
    NumPy 1.x computes pairwise within buffers of 8192 values and adds buffer by buffer (NumPy
    2 sums the whole array pairwise), divided in float64 and rounded to float32; the ratio in
    float64."""

    def mean32(x: np.ndarray) -> np.float32:
        total = np.float32(0)
        for start in range(0, x.size, NUMPY1_BUFFER):
            total = np.float32(total + np.add.reduce(x[start : start + NUMPY1_BUFFER]))
        return np.float32(float(total) / x.size)

    sq = d * d
    left_sq, right_sq = sq[d < 0], sq[d >= 0]
    left = np.sqrt(mean32(left_sq)) if left_sq.size else np.float32(0)
    right = np.sqrt(mean32(right_sq)) if right_sq.size else np.float32(0)
    g = float(left / right) if right != 0 else np.inf
    mean_sq = mean32(sq)
    r_hat = float(mean32(np.abs(d))) ** 2 / float(mean_sq) if mean_sq != 0 else np.inf
    with np.errstate(invalid="ignore"):
        ratio = r_hat * (((g**3 + 1) * (g + 1)) / (g**2 + 1) ** 2)
    return float(ratio), float(left), float(right)


def features(fit: AGGDFit, table: ShapeTable, duplicate_left: bool) -> np.ndarray:
    """The 18 features of one scale per patch, (B, n_patches, 18).

    For the coefficients: shape and mean scale; for each neighbour product: shape, AGGD mean,
    left and right scale. ``duplicate_left`` reproduces Gupta's code, which repeats the left
    scale in place of the right one for both diagonal products.
    """
    shape = table.shape[fit.index]
    beta_left = table.beta[fit.index] * fit.left
    beta_right = table.beta[fit.index] * fit.right
    mean = (beta_right - beta_left) * table.mean[fit.index]
    columns = [shape[..., 0], (beta_left[..., 0] + beta_right[..., 0]) / 2.0]
    for k in range(1, N_DISTS):
        right = beta_left[..., k] if duplicate_left and k >= 3 else beta_right[..., k]
        columns += [shape[..., k], mean[..., k], beta_left[..., k], right]
    return np.stack(columns, axis=-1)


def mvg_distance(features: np.ndarray, mu: np.ndarray, cov: np.ndarray, drop_nan: bool) -> float:
    """NIQE's distance between the features' Gaussian and the pristine one.

    ``drop_nan`` (LIVE/pyiqa): NaN features are left out of the mean column by column and
    rows with any NaN are left out of the covariance, like MATLAB's ``nanmean``/``nancov``.
    """
    if drop_nan:
        rows = features[~np.isnan(features).any(axis=1)]
        if len(rows) < 2:
            raise InputRefused(
                "NIQE is undefined for this image: fewer than two patches have texture "
                "(flat patches give no AGGD fit)"
            )
        sample_mu = np.nanmean(features, axis=0)
        sample_cov = np.cov(rows, rowvar=False)
    else:
        sample_mu = features.mean(axis=0)
        sample_cov = np.cov(features, rowvar=False)
    diff = sample_mu - mu
    inverse = scipy.linalg.pinv((cov + sample_cov) / 2.0)
    return float(np.sqrt(diff @ inverse @ diff))
