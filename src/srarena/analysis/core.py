"""Run every analysis over a scores frame: the study's tables and the statistics beyond it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import stats as st
from . import study
from .io import Scores, resolve_directions

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class MetricAnalysis:
    """Every table for one metric, as DataFrames. ``notes`` says what could not be done."""

    metric: str
    higher_is_better: bool
    stats: pd.DataFrame
    per_dataset: pd.DataFrame
    per_domain: pd.DataFrame
    domain_means: pd.DataFrame
    ranking: pd.DataFrame
    pair: tuple[str, str] | None
    improvement: pd.DataFrame
    improvement_means: pd.DataFrame
    behaviour_pair: tuple[str, str] | None
    behaviour: pd.DataFrame
    behaviour_images: pd.DataFrame
    behaviour_correlation: pd.DataFrame
    pairwise: pd.DataFrame | None = None
    friedman: pd.DataFrame | None = None
    nemenyi: pd.DataFrame | None = None
    cd_cliques: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (no metric prefix)."""
        names = ["stats", "per_dataset", "per_domain", "domain_means", "ranking", "improvement",
                 "improvement_means", "behaviour", "behaviour_images", "behaviour_correlation",
                 "pairwise", "friedman", "nemenyi"]
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


@dataclass
class Analysis:
    """The analyses of every metric of a source, and the closing verdict."""

    metrics: dict[str, MetricAnalysis]
    verdict: pd.DataFrame
    source: str = ""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table as ``"<metric>/<table>"``, plus ``"verdict"``."""
        out = {f"{m}/{n}": t for m, a in self.metrics.items() for n, t in a.tables().items()}
        out["verdict"] = self.verdict
        return out


def _pick_pair(
    ranking: pd.DataFrame, allowed: Iterable[str] | None = None
) -> tuple[str, str] | None:
    """The two best techniques of a ranking (among ``allowed``), or None."""
    keep = None if allowed is None else set(allowed)
    names = [u for u in ranking["upscaler"] if keep is None or u in keep]
    return (names[0], names[1]) if len(names) >= 2 else None


def analyze_metric(
    frame: pd.DataFrame,
    metric: str,
    higher_is_better: bool,
    *,
    pair: tuple[str, str] | None = None,
    top_n: int = 10,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    beyond: bool = True,
) -> MetricAnalysis:
    """All analyses of one metric. ``frame``: that metric's rows of a scores frame.

    ``pair`` fixes the two techniques of the I% and behaviour analyses; by default the two
    best (most datasets won, then mean rank) — for the behaviour analysis, the two best whose
    outputs are paired with inputs (generative outputs have no common images to count).
    ``n_resamples=0`` skips the bootstrap; ``beyond=False`` skips the statistical tests.
    """
    import pandas as pd

    notes: list[str] = []
    frame = frame[np.isfinite(frame["value"].to_numpy(float))]
    stats_ = study.technique_stats(frame)
    ranking = study.ranking(stats_, higher_is_better)
    techniques = list(ranking["upscaler"])
    if pair is not None:
        unknown = [t for t in pair if t not in techniques]
        if unknown:
            raise ValueError(f"{metric}: no technique {', '.join(unknown)} in the scores")
    chosen = pair or _pick_pair(ranking)
    if chosen is None:
        notes.append("fewer than two techniques: no improvement or behaviour analysis")
        improvement = pd.DataFrame()
        improvement_means = pd.DataFrame()
    else:
        improvement, improvement_means = study.improvement(stats_, higher_is_better, chosen)
    modes = frame.groupby("upscaler")["mode"].first()
    paired = [t for t in techniques if modes[t] != "generative"]
    behaviour_pair = pair or _pick_pair(ranking, paired)
    if pair is not None and any(modes[t] == "generative" for t in pair):
        notes.append(f"behaviour analysis skipped: {' or '.join(pair)} is generative, its "
                     "outputs are not made from given inputs, so no images are common")
        behaviour_pair = None
    elif behaviour_pair is None:
        notes.append("behaviour analysis skipped: fewer than two techniques with outputs "
                     "paired by input")
    elif chosen is not None and set(behaviour_pair) != set(chosen):
        generative = [t for t in chosen if modes[t] == "generative"]
        notes.append(f"behaviour analysis on {behaviour_pair[0]} and {behaviour_pair[1]}, the "
                     f"two best single-image techniques ({', '.join(generative)} generative)")
    if behaviour_pair is not None:
        counts, images, correlation = study.behaviour(frame, higher_is_better, behaviour_pair,
                                                      top_n)
    else:
        counts = images = correlation = pd.DataFrame()
    analysis = MetricAnalysis(
        metric=metric, higher_is_better=higher_is_better, stats=stats_,
        per_dataset=study.per_dataset_best_worst(stats_, higher_is_better),
        per_domain=study.per_domain_best_worst(stats_, higher_is_better),
        domain_means=study.domain_means(frame), ranking=ranking, pair=chosen,
        improvement=improvement, improvement_means=improvement_means,
        behaviour_pair=behaviour_pair, behaviour=counts, behaviour_images=images,
        behaviour_correlation=correlation, notes=notes,
    )
    if n_resamples > 0:
        _add_cis(analysis, frame, n_resamples, seed)
    if beyond:
        _add_tests(analysis, frame, alpha)
    return analysis


def _add_cis(analysis: MetricAnalysis, frame: pd.DataFrame, n_resamples: int, seed: int) -> None:
    """Bootstrap 95 % CIs of every mean: per dataset; per domain, stratified by dataset (the
    same resamples, summed); and of the mean I% (resampling datasets)."""
    sums, counts = {}, {}
    for key, group in frame.groupby(["domain", "dataset", "upscaler"], sort=False):
        values = group["value"].to_numpy(float)
        sums[key] = st.bootstrap_sums(values, n_resamples,
                                      st.stable_seed(seed, analysis.metric, *key))
        counts[key] = values.size

    def interval(keys: list) -> tuple[float, float]:
        total = sum(counts[k] for k in keys)
        if total < 2:
            return np.nan, np.nan
        return st.percentile_interval(sum(sums[k] for k in keys) / total)

    def assign(rows: pd.DataFrame, bounds: list[tuple[float, float]]) -> None:
        rows["ci_low"] = [b[0] for b in bounds]
        rows["ci_high"] = [b[1] for b in bounds]

    assign(analysis.stats, [interval([(r.domain, r.dataset, r.upscaler)])
                            for r in analysis.stats.itertuples(index=False)])
    assign(analysis.domain_means, [
        interval([k for k in sums if k[0] == r.domain and k[2] == r.upscaler])
        for r in analysis.domain_means.itertuples(index=False)])
    if not analysis.improvement_means.empty:
        table = analysis.improvement
        assign(analysis.improvement_means, [
            st.bootstrap_mean_ci(table.loc[table["winner"] == r.winner, "improvement_pct"],
                                 n_resamples=n_resamples,
                                 seed=st.stable_seed(seed, analysis.metric, "I%", r.winner))
            for r in analysis.improvement_means.itertuples(index=False)])


def _add_tests(analysis: MetricAnalysis, frame: pd.DataFrame, alpha: float) -> None:
    import pandas as pd

    analysis.pairwise = st.pairwise_tests(frame, analysis.higher_is_better, alpha)
    summary, pairs = st.friedman_nemenyi(study.means_wide(analysis.stats),
                                         analysis.higher_is_better, alpha)
    mean_ranks = summary.pop("mean_ranks", {})
    analysis.friedman = pd.DataFrame([summary])
    analysis.nemenyi = pairs
    if mean_ranks and np.isfinite(summary["cd"]):
        analysis.cd_cliques = st.cd_cliques(pd.Series(mean_ranks), summary["cd"])
    if summary["note"]:
        analysis.notes.append("Friedman/Nemenyi: " + summary["note"])


def analyze(
    scores: Scores | pd.DataFrame,
    *,
    metrics: Iterable[str] | None = None,
    directions: Mapping[str, bool] | None = None,
    pair: tuple[str, str] | None = None,
    top_n: int = 10,
    n_resamples: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    beyond: bool = True,
) -> Analysis:
    """Analyse every metric (or those named) of a scores source; see :func:`analyze_metric`.

    ``directions`` overrides metric directions (metric -> higher_is_better); otherwise they
    come from the run, the plugin registry, then the study's fallback table.
    """
    if not isinstance(scores, Scores):
        scores = Scores(scores)
    frame = scores.frame
    available = list(dict.fromkeys(frame["metric"]))
    wanted = list(metrics) if metrics else available
    missing = [m for m in wanted if m not in available]
    if missing:
        raise ValueError(f"no scores for metric(s) {', '.join(missing)}; the source has "
                         f"{', '.join(available)}")
    resolved = resolve_directions(wanted, scores.directions, directions)
    results = {
        m: analyze_metric(frame[frame["metric"] == m], m, resolved[m], pair=pair, top_n=top_n,
                          n_resamples=n_resamples, seed=seed, alpha=alpha, beyond=beyond)
        for m in wanted
    }
    return Analysis(results, study.verdict({m: a.ranking for m, a in results.items()}),
                    scores.source)
