"""The study's float32 AGGD fit of one distribution, as NumPy 1.x computed it.

``niqe-study`` redoes in the study's arithmetic the few fits whose shape could depend on it
(see ``features.fit_study``): float32 squares and means, whose sums NumPy 1.x computed
pairwise within buffers of 8192 values. The sums are compiled; the tests compare them with
NumPy's.
"""

from __future__ import annotations

import numpy as np

from .compiled import jit

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
