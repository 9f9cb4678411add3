"""Statistics beyond the study: bootstrap CIs, per-image tests with Holm, Friedman + Nemenyi.

Every function is direction-aware where it matters (``higher_is_better``): a positive effect
always means the first technique is *better*. When a test has too little data to say
anything, its p-value is NaN or its ``note`` says so in words.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


# ---------------------------------------------------------------------------- bootstrap
def bootstrap_sums(
    values: Sequence[float] | np.ndarray, n_resamples: int, seed: int | Sequence[int] = 0
) -> np.ndarray:
    """Sums of ``n_resamples`` bootstrap resamples (with replacement) of ``values``."""
    x = np.asarray(values, float)
    rng = np.random.default_rng(seed)
    sums = np.zeros(n_resamples)
    if x.size == 0:
        return sums
    step = max(1, 4_000_000 // x.size)
    for start in range(0, n_resamples, step):
        stop = min(n_resamples, start + step)
        sums[start:stop] = x[rng.integers(0, x.size, size=(stop - start, x.size))].sum(axis=1)
    return sums


def percentile_interval(estimates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap estimates."""
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(estimates, [tail, 1.0 - tail])
    return float(lo), float(hi)


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray | Sequence[np.ndarray],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | Sequence[int] = 0,
    stratified: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a mean.

    With ``stratified``, ``values`` is a sequence of arrays (strata, e.g. the datasets of a
    domain) resampled separately, and the interval is that of the pooled mean. Returns NaNs
    with fewer than two values (a CI needs at least two).
    """
    strata = [np.asarray(s, float) for s in values] if stratified else [np.asarray(values, float)]
    strata = [s[np.isfinite(s)] for s in strata]
    total = sum(s.size for s in strata)
    if total < 2 or n_resamples < 1:
        return math.nan, math.nan
    seeds = np.random.SeedSequence(seed).spawn(len(strata))
    sums = sum(bootstrap_sums(s, n_resamples, q) for s, q in zip(strata, seeds, strict=True))
    return percentile_interval(np.asarray(sums) / total, confidence)


def stable_seed(seed: int, *key: object) -> list[int]:
    """A seed for one group: the user's seed and a hash of the group's key (order-independent)."""
    return [seed, zlib.crc32("\x1f".join(map(str, key)).encode())]


# ---------------------------------------------------------------------------- multiple tests
def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values; NaNs stay NaN and are not counted in the family."""
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


# ---------------------------------------------------------------------------- two techniques
def _better_diff(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> np.ndarray:
    return a - b if higher_is_better else b - a


def min_p_signed_rank(n: int) -> float:
    """Smallest two-sided p the exact Wilcoxon signed-rank test can reach with n pairs."""
    return min(1.0, 2.0 / 2.0**n) if n > 0 else 1.0


def min_p_rank_sum(n1: int, n2: int) -> float:
    """Smallest two-sided p the exact Mann–Whitney U test can reach with n1 and n2 values."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1)) if n1 and n2 else 1.0


def _too_little(min_p: float, alpha: float, what: str) -> str:
    if min_p > alpha:
        return f"too little data: with {what} the smallest possible p is {min_p:.3g} > {alpha:g}"
    return ""


def signed_rank_p(diffs: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of non-zero differences: (min(T+, T−), p).

    Exact (also with tied ranks: the null distribution of T+ is built from the actual mid-ranks)
    up to 50 differences; above that scipy's normal approximation with tie correction.
    """
    from scipy import stats

    ranks = stats.rankdata(np.abs(diffs))
    plus = float(ranks[diffs > 0].sum())
    statistic = min(plus, float(ranks.sum()) - plus)
    if diffs.size > 50:
        return statistic, float(stats.wilcoxon(diffs, method="asymptotic").pvalue)
    doubled = np.rint(2 * ranks).astype(int)  # mid-ranks are multiples of 1/2
    counts = np.zeros(int(doubled.sum()) + 1)
    counts[0] = 1.0
    top = 0
    for r in doubled:  # generating function: product of (1 + x^r)
        counts[r : top + r + 1] += counts[: top + 1].copy()
        top += r
    cdf = np.cumsum(counts) / counts.sum()
    t = int(round(2 * plus))
    below = cdf[t]
    above = 1.0 - (cdf[t - 1] if t > 0 else 0.0)
    return statistic, float(min(1.0, 2.0 * min(below, above)))


def paired_test(
    a: np.ndarray, b: np.ndarray, higher_is_better: bool, alpha: float = 0.05
) -> dict[str, Any]:
    """Wilcoxon signed-rank test of paired scores (same inputs; zero differences dropped), with
    the matched-pairs rank-biserial correlation as effect size (+1: ``a`` better on every pair)."""
    from scipy import stats

    d = _better_diff(np.asarray(a, float), np.asarray(b, float), higher_is_better)
    d = d[np.isfinite(d)]
    nonzero = d[d != 0]
    row: dict[str, Any] = {"test": "wilcoxon", "n1": int(d.size), "n2": int(d.size),
                           "statistic": math.nan, "p": math.nan, "effect": math.nan,
                           "effect_kind": "rank-biserial", "note": ""}
    if nonzero.size == 0:
        row["note"] = ("too little data: no pairs" if d.size == 0
                       else "identical scores on every pair")
        if d.size:
            row.update(p=1.0, effect=0.0)
        return row
    ranks = stats.rankdata(np.abs(nonzero))
    plus, minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    row["effect"] = float((plus - minus) / (plus + minus))
    statistic, p = signed_rank_p(nonzero)
    row.update(statistic=statistic, p=p)
    row["note"] = _too_little(min_p_signed_rank(nonzero.size), alpha, f"{nonzero.size} pairs")
    return row


def unpaired_test(
    a: np.ndarray, b: np.ndarray, higher_is_better: bool, alpha: float = 0.05
) -> dict[str, Any]:
    """Mann–Whitney U test of unpaired scores, with Cliff's δ as effect size
    (+1: every score of ``a`` is better than every score of ``b``)."""
    from scipy import stats

    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    row: dict[str, Any] = {"test": "mann-whitney", "n1": int(a.size), "n2": int(b.size),
                           "statistic": math.nan, "p": math.nan, "effect": math.nan,
                           "effect_kind": "cliffs-delta", "note": ""}
    if a.size == 0 or b.size == 0:
        row["note"] = "too little data: a technique has no scores"
        return row
    result = stats.mannwhitneyu(a, b, alternative="two-sided")
    delta = 2.0 * float(result.statistic) / (a.size * b.size) - 1.0
    row.update(statistic=float(result.statistic), p=float(result.pvalue),
               effect=delta if higher_is_better else -delta)
    row["note"] = _too_little(min_p_rank_sum(a.size, b.size), alpha,
                              f"{a.size} and {b.size} values")
    return row


def pairwise_tests(
    frame: pd.DataFrame, higher_is_better: bool, alpha: float = 0.05
) -> pd.DataFrame:
    """Per dataset, every pair of techniques: Wilcoxon on images paired by input where both
    techniques are single-image (or of unknown mode) and share inputs, Mann–Whitney U where
    one is generative (outputs are not paired with inputs). Holm correction per dataset.

    ``frame``: one metric's scores (columns domain, dataset, upscaler, mode, image_id, value).
    """
    import pandas as pd

    modes = dict(zip(frame["upscaler"], frame["mode"], strict=True))
    rows: list[dict[str, Any]] = []
    for (domain, dataset), group in frame.groupby(["domain", "dataset"], sort=True):
        wide = group.pivot(index="image_id", columns="upscaler", values="value")
        techniques = sorted(wide.columns)
        values = wide[techniques].to_numpy(float)
        present = np.isfinite(values)
        start = len(rows)
        for i, first in enumerate(techniques):
            for j in range(i + 1, len(techniques)):
                second = techniques[j]
                a, b = values[present[:, i], i], values[present[:, j], j]
                generative = "generative" in (modes[first], modes[second])
                both = present[:, i] & present[:, j]
                if not generative and both.any():
                    row = paired_test(values[both, i], values[both, j], higher_is_better, alpha)
                else:
                    row = unpaired_test(a, b, higher_is_better, alpha)
                    if not generative:
                        row["note"] = "; ".join(
                            filter(None, ["no common inputs: tested unpaired", row["note"]]))
                mean_diff = float(a.mean() - b.mean()) if a.size and b.size else math.nan
                rows.append({"domain": domain, "dataset": dataset, "technique": first,
                             "other": second, "mean_diff": mean_diff, **row})
        adjusted = holm([r["p"] for r in rows[start:]])
        for r, p in zip(rows[start:], adjusted, strict=True):
            r["p_holm"] = float(p)
            r["significant"] = bool(p < alpha) if np.isfinite(p) else False
            winner = r["technique"] if r["effect"] > 0 else r["other"]
            r["better"] = winner if r["significant"] and r["effect"] != 0 else ""
    columns = ["domain", "dataset", "technique", "other", "test", "n1", "n2", "mean_diff",
               "statistic", "p", "p_holm", "significant", "better", "effect", "effect_kind",
               "note"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------- many datasets
def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """The Nemenyi critical value q_α for k techniques (Demšar 2006, Table 5a):
    the studentized range quantile for infinite degrees of freedom, divided by √2."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks: q_α √(k(k+1) / 6N)."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def rank_techniques(means: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """Ranks (1 = best, ties averaged) of each technique (column) on each dataset (row)."""
    return means.rank(axis=1, ascending=not higher_is_better, method="average")


def friedman_nemenyi(
    means: pd.DataFrame, higher_is_better: bool, alpha: float = 0.05
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Friedman's test across datasets (rows of ``means``: datasets, columns: techniques) and
    the Nemenyi post-hoc. Returns a summary (χ², p, Iman–Davenport F, Kendall's W, CD, note)
    and the pairwise table (difference of mean ranks, Nemenyi p, significant)."""
    import pandas as pd
    from scipy import stats

    complete = means.dropna(axis=0, how="any")
    n, k = complete.shape
    summary: dict[str, Any] = {
        "datasets": n, "techniques": k, "chi2": math.nan, "p": math.nan,
        "iman_davenport_f": math.nan, "iman_davenport_p": math.nan, "kendalls_w": math.nan,
        "alpha": alpha, "cd": math.nan, "rejects": False, "note": "",
    }
    notes = []
    if len(complete) < len(means):
        notes.append(f"{len(means) - len(complete)} dataset(s) without every technique left out")
    pairs = pd.DataFrame(columns=["technique", "other", "rank_diff", "p", "significant"])
    if k < 2 or n < 2:
        summary["note"] = "; ".join([*notes, f"too little data: {n} dataset(s), {k} technique(s)"])
        return summary, pairs
    ranks = rank_techniques(complete, higher_is_better)
    mean_ranks = ranks.mean(axis=0)
    if k == 2:
        notes.append("two techniques: use the Wilcoxon test over datasets instead of Friedman")
        first, second = complete.columns
        wil = paired_test(complete[first].to_numpy(), complete[second].to_numpy(),
                          higher_is_better, alpha)
        summary.update(p=wil["p"], rejects=bool(wil["p"] < alpha))
        if wil["note"]:
            notes.append(wil["note"])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chi2, p = stats.friedmanchisquare(*(complete[c].to_numpy() for c in complete))
        chi2, p = float(chi2), float(p)
        summary.update(chi2=chi2, p=p, rejects=bool(p < alpha),
                       kendalls_w=chi2 / (n * (k - 1)))
        if n * (k - 1) - chi2 > 0:
            f = (n - 1) * chi2 / (n * (k - 1) - chi2)
            summary["iman_davenport_f"] = f
            summary["iman_davenport_p"] = float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))
        else:
            summary["iman_davenport_p"] = 0.0
        if n < 10:
            notes.append(f"only {n} datasets: the χ² approximation of Friedman's test is rough")
    summary["cd"] = critical_difference(k, n, alpha)
    scale = math.sqrt(k * (k + 1) / (6.0 * n))
    rows = []
    names = list(mean_ranks.index)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            diff = float(mean_ranks[first] - mean_ranks[second])
            q = abs(diff) / scale * math.sqrt(2.0)
            p = float(stats.studentized_range.sf(q, k, np.inf)) if k > 1 else math.nan
            rows.append({"technique": first, "other": second, "rank_diff": diff, "p": p,
                         "significant": abs(diff) > summary["cd"]})
    if not summary["rejects"]:
        notes.append("Friedman's test does not reject equal performance: read the Nemenyi "
                     "comparisons as descriptive")
    summary["note"] = "; ".join(notes)
    summary["mean_ranks"] = {str(k_): float(v) for k_, v in mean_ranks.sort_values().items()}
    return summary, pd.DataFrame(rows)


def cd_cliques(mean_ranks: pd.Series, cd: float) -> list[list[str]]:
    """Maximal groups of techniques whose mean ranks lie within the critical difference
    (the bars of a critical-difference diagram), best first."""
    ordered = mean_ranks.sort_values()
    names, values = list(ordered.index), ordered.to_numpy()
    cliques: list[list[str]] = []
    last_end = -1
    for i in range(len(values)):
        j = i
        while j + 1 < len(values) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and j > last_end:
            cliques.append(names[i : j + 1])
            last_end = j
    return cliques


# ---------------------------------------------------------------------------- correlations
def correlation_summary(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Kendall's τ (τ-b) and Pearson's r between two series, with Shapiro–Wilk normality of
    each; NaN and a note where the data cannot support a statistic."""
    from scipy import stats

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    out: dict[str, Any] = {
        "n": int(x.size), "kendall_tau": math.nan, "kendall_p": math.nan,
        "pearson_r": math.nan, "pearson_p": math.nan, "shapiro_w_x": math.nan,
        "shapiro_p_x": math.nan, "shapiro_w_y": math.nan, "shapiro_p_y": math.nan, "note": "",
    }
    notes = []
    if x.size >= 3:
        for label, series in (("x", x), ("y", y)):
            if np.ptp(series) > 0:
                w, p = stats.shapiro(series)
                out[f"shapiro_w_{label}"], out[f"shapiro_p_{label}"] = float(w), float(p)
    else:
        notes.append(f"too little data for Shapiro–Wilk (n={x.size} < 3)")
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        notes.append("too little data: a series is constant or has fewer than two values, "
                     "so no correlation is defined")
    else:
        tau = stats.kendalltau(x, y)
        r = stats.pearsonr(x, y)
        out.update(kendall_tau=float(tau.statistic), kendall_p=float(tau.pvalue),
                   pearson_r=float(r.statistic), pearson_p=float(r.pvalue))
        if x.size < 4:
            notes.append(f"only {x.size} points: the correlation p-values mean little")
    out["note"] = "; ".join(notes)
    return out
