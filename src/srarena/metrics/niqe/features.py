"""NIQE features shared by the ``niqe`` and ``niqe-study`` metrics, vectorised over patches.

NIQE (Mittal, Soundararajan and Bovik, IEEE SPL 2013) turns a greyscale image into MSCN
coefficients (mean-subtracted, contrast-normalised), cuts them into 96x96 patches, fits an
asymmetric generalised Gaussian (AGGD) to the coefficients and to the products of
horizontal, vertical and diagonal neighbours of every patch, repeats this on the image halved
in size, and scores the distance between the Gaussian fitted to these 36 features per patch
and a Gaussian fitted on pristine images.

Nothing here loops over patches: per-pixel work (filters, neighbour products, per-patch
sums) is done by a kernels object, compiled with Numba on the CPU (``cpu.CpuKernels``)
or PyTorch on CUDA (``torch_kernels.TorchKernels``), and the AGGD fits of all patches of a
batch at once by NumPy on the small arrays of sums. The reference implementations choose the
AGGD shape by an exhaustive search of a grid of shapes for the nearest moment ratio; the
ratio increases with the shape, so a binary search gives the same choice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.linalg
from scipy.special import gamma, gammaln

from ...components import InputRefused

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


def patch_distribution(patch: np.ndarray, dist: int) -> np.ndarray:
    """Distribution ``dist`` (0 to 4) of one patch, flattened in row-major order, the way
    both references compute it: the patch, or its product with a ``np.roll``-ed copy."""
    p = np.ascontiguousarray(patch)
    if dist == 0:
        return p.ravel()
    return (p * np.roll(p, NEIGHBOURS[dist - 1], axis=(0, 1))).ravel()


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
    unsure = table.nearest(ratio * (1 - STUDY_MARGIN)) != table.nearest(ratio * (1 + STUDY_MARGIN))
    unsure |= ~np.isfinite(ratio) | (m[0] == 0) | (m[2] == 0)
    flat_ratio, flat_left, flat_right = ratio.reshape(-1), left.reshape(-1), right.reshape(-1)
    for i in np.flatnonzero(unsure):
        flat_ratio[i], flat_left[i], flat_right[i] = exact(int(i))
    return AGGDFit(table.nearest(ratio), left, right)


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
