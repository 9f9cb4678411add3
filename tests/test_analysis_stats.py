"""Statistics beyond the study, on constructed data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from srarena.analysis import analyze, analyze_metric
from srarena.analysis import stats as st
from srarena.analysis.io import Scores


# ---------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_matches_normal_theory():
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, 400)
    lo, hi = st.bootstrap_mean_ci(x, n_resamples=4000, seed=3)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert lo == pytest.approx(x.mean() - half, abs=0.03)
    assert hi == pytest.approx(x.mean() + half, abs=0.03)


def test_bootstrap_ci_coverage():
    rng = np.random.default_rng(7)
    covered = 0
    trials = 200
    for i in range(trials):
        x = rng.exponential(1.0, 60)  # true mean 1, skewed
        lo, hi = st.bootstrap_mean_ci(x, n_resamples=1000, seed=i)
        covered += lo <= 1.0 <= hi
    assert 0.88 <= covered / trials <= 0.99


def test_bootstrap_degenerate_cases():
    assert st.bootstrap_mean_ci([3.0] * 10) == (3.0, 3.0)
    assert all(math.isnan(v) for v in st.bootstrap_mean_ci([1.0]))
    assert all(math.isnan(v) for v in st.bootstrap_mean_ci([]))
    # reproducible for a seed
    x = np.arange(20.0)
    assert st.bootstrap_mean_ci(x, seed=5) == st.bootstrap_mean_ci(x, seed=5)


def test_stratified_bootstrap_keeps_strata_sizes():
    # two strata with no spread: the pooled mean cannot move
    lo, hi = st.bootstrap_mean_ci([np.zeros(10), np.ones(30)], stratified=True)
    assert lo == hi == pytest.approx(0.75)
    # unstratified resampling of the same values does move
    lo, hi = st.bootstrap_mean_ci(np.r_[np.zeros(10), np.ones(30)], n_resamples=500)
    assert lo < 0.75 < hi


# ---------------------------------------------------------------------------- tests
def test_holm_known_values():
    got = st.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02])
    got = st.holm([0.5, math.nan, 0.01])
    assert math.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], [0.5, 0.02])
    np.testing.assert_allclose(st.holm([0.9, 0.8]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(st.holm([0.02, 0.01, 0.04]), [0.04, 0.03, 0.04])  # monotone


def test_wilcoxon_exact_known_answer():
    b = np.zeros(10)
    a = np.arange(1.0, 11.0)  # a better on all 10 pairs (higher is better)
    row = st.paired_test(a, b, higher_is_better=True)
    assert row["test"] == "wilcoxon"
    assert row["p"] == pytest.approx(2 / 2**10)
    assert row["effect"] == 1.0
    assert row["note"] == ""
    flipped = st.paired_test(a, b, higher_is_better=False)
    assert flipped["effect"] == -1.0
    assert flipped["p"] == pytest.approx(row["p"])


def test_signed_rank_exact_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    for n in (5, 12, 30, 50):
        d = rng.normal(0.3, 1.0, n)
        assert st.signed_rank_p(d)[1] == pytest.approx(stats.wilcoxon(d, method="exact").pvalue)
    tied = np.array([1.0, 1, 2, 2, 2, -1, 3, -2])  # tied ranks: scipy enumerates 2^8 signs
    expected = stats.wilcoxon(tied, method=stats.PermutationMethod()).pvalue
    assert st.signed_rank_p(tied)[1] == pytest.approx(expected)
    d = rng.normal(0.3, 1.0, 80)  # large n: normal approximation
    assert st.signed_rank_p(d)[1] == pytest.approx(stats.wilcoxon(d).pvalue)


def test_wilcoxon_rank_biserial_value():
    # differences +1, +2, -3: ranks 1, 2, 3 -> (3 - 3) / 6 = 0
    assert st.paired_test(np.array([1.0, 2.0, -3.0]), np.zeros(3), True)["effect"] == 0.0
    # differences +1, +2, +3, -4: (6 - 4) / 10 = 0.2
    row = st.paired_test(np.array([1.0, 2.0, 3.0, -4.0]), np.zeros(4), True)
    assert row["effect"] == pytest.approx(0.2)


def test_too_little_data_is_said():
    row = st.paired_test(np.arange(1.0, 6.0), np.zeros(5), True)  # 5 pairs: min p = 1/16
    assert "too little data" in row["note"]
    assert row["p"] >= 0.0625 - 1e-12
    assert "too little data" in st.paired_test(np.array([]), np.array([]), True)["note"]
    identical = st.paired_test(np.ones(8), np.ones(8), True)
    assert identical["p"] == 1.0 and "identical" in identical["note"]
    row = st.unpaired_test(np.array([5.0, 6.0, 7.0]), np.array([1.0, 2.0, 3.0]), True)
    assert "too little data" in row["note"]  # min p = 2 / C(6, 3) = 0.1
    assert st.min_p_rank_sum(3, 3) == pytest.approx(0.1)
    assert st.min_p_signed_rank(6) == pytest.approx(1 / 32)


def test_mann_whitney_exact_known_answer():
    a = np.array([6.0, 7.0, 8.0, 9.0, 10.0])
    b = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    row = st.unpaired_test(a, b, higher_is_better=True)
    assert row["test"] == "mann-whitney"
    assert row["p"] == pytest.approx(2 / math.comb(10, 5))
    assert row["effect"] == 1.0  # Cliff's delta, complete separation
    assert st.unpaired_test(a, b, higher_is_better=False)["effect"] == -1.0
    same = st.unpaired_test(a, a.copy(), True)
    assert same["effect"] == 0.0


def _frame(values: dict[str, np.ndarray], modes: dict[str, str], dataset: str = "s",
           ids: dict[str, list[str]] | None = None) -> pd.DataFrame:
    rows = []
    for technique, v in values.items():
        names = (ids or {}).get(technique) or [f"img{i}" for i in range(len(v))]
        rows += [{"domain": "d", "dataset": dataset, "upscaler": technique,
                  "mode": modes[technique], "image_id": n, "value": float(x), "metric": "m"}
                 for n, x in zip(names, v, strict=True)]
    return pd.DataFrame(rows)


def test_pairwise_chooses_paired_or_unpaired_and_applies_holm():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 30)
    frame = _frame(
        {"A": base + 0.5, "B": base, "G": rng.normal(0, 1, 30)},
        {"A": "single-image", "B": "single-image", "G": "generative"},
    )
    table = st.pairwise_tests(frame, higher_is_better=True).set_index(["technique", "other"])
    assert table.loc[("A", "B"), "test"] == "wilcoxon"  # same inputs: paired
    assert table.loc[("A", "B"), "effect"] == 1.0  # A better on every image
    assert table.loc[("A", "G"), "test"] == "mann-whitney"
    assert table.loc[("B", "G"), "test"] == "mann-whitney"
    np.testing.assert_allclose(table["p_holm"].to_numpy(), st.holm(table["p"].to_numpy()))
    assert table.loc[("A", "B"), "better"] == "A"


def test_pairwise_without_common_inputs_falls_back_to_unpaired():
    frame = _frame({"A": np.arange(8.0), "B": np.arange(8.0) + 100},
                   {"A": "single-image", "B": "single-image"},
                   ids={"A": [f"a{i}" for i in range(8)], "B": [f"b{i}" for i in range(8)]})
    row = st.pairwise_tests(frame, higher_is_better=False).iloc[0]
    assert row["test"] == "mann-whitney"
    assert "no common inputs" in row["note"]
    assert row["effect"] == 1.0  # lower is better: A below B everywhere


# ---------------------------------------------------------------------------- Friedman
def test_nemenyi_q_matches_demsar_table():
    # Demšar (2006), Table 5(a), alpha = 0.05, k = 2..10
    table = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    for k, q in enumerate(table, start=2):
        assert st.nemenyi_q(k) == pytest.approx(q, abs=1.5e-3)
    # alpha = 0.10, k = 4 and 5 (Table 5(a), second row)
    assert st.nemenyi_q(4, 0.10) == pytest.approx(2.291, abs=1.5e-3)
    assert st.nemenyi_q(5, 0.10) == pytest.approx(2.459, abs=1.5e-3)


def test_critical_difference_known_value():
    # Demšar's worked example: k = 4 classifiers, N = 14 data sets -> CD = 1.25
    assert st.critical_difference(4, 14) == pytest.approx(1.25, abs=5e-3)


def test_friedman_perfect_ordering():
    # 6 datasets, A always best, then B, then C (higher is better)
    means = pd.DataFrame({"A": np.full(6, 3.0) + np.arange(6), "B": 2.0 + np.arange(6),
                          "C": 1.0 + np.arange(6)})
    summary, pairs = st.friedman_nemenyi(means, higher_is_better=True)
    assert summary["chi2"] == pytest.approx(12.0)
    assert summary["p"] == pytest.approx(math.exp(-6.0))
    assert summary["kendalls_w"] == pytest.approx(1.0)
    assert summary["cd"] == pytest.approx(2.343 * math.sqrt(12 / 36), abs=2e-3)
    assert summary["mean_ranks"] == {"A": 1.0, "B": 2.0, "C": 3.0}
    assert "only 6 datasets" in summary["note"]
    pairs = pairs.set_index(["technique", "other"])
    assert pairs.loc[("A", "C"), "significant"]  # rank difference 2 > CD 1.35
    assert not pairs.loc[("A", "B"), "significant"]
    # Nemenyi p agrees with the CD rule
    assert ((pairs["p"] < 0.05) == pairs["significant"]).all()
    # lower is better reverses the ranks
    summary, _ = st.friedman_nemenyi(means, higher_is_better=False)
    assert summary["mean_ranks"]["C"] == 1.0


def test_friedman_no_difference_and_too_little_data():
    rng = np.random.default_rng(3)
    means = pd.DataFrame(rng.normal(size=(20, 4)), columns=list("ABCD"))
    summary, _ = st.friedman_nemenyi(means, True)
    assert 0.0 <= summary["p"] <= 1.0
    one = pd.DataFrame({"A": [1.0], "B": [2.0], "C": [3.0]})
    summary, pairs = st.friedman_nemenyi(one, True)
    assert "too little data" in summary["note"] and pairs.empty
    two = pd.DataFrame({"A": np.arange(8.0) + 1, "B": np.arange(8.0)})
    summary, _ = st.friedman_nemenyi(two, True)
    assert "Wilcoxon" in summary["note"]
    assert summary["p"] == pytest.approx(2 / 2**8)


def test_cd_cliques():
    ranks = pd.Series({"A": 1.0, "B": 1.5, "C": 2.4, "D": 4.0})
    assert st.cd_cliques(ranks, 1.0) == [["A", "B"], ["B", "C"]]
    assert st.cd_cliques(ranks, 5.0) == [["A", "B", "C", "D"]]
    assert st.cd_cliques(ranks, 0.1) == []


def test_correlation_summary_known_and_degenerate():
    x = np.arange(10.0)
    out = st.correlation_summary(x, 2 * x + 1)
    assert out["kendall_tau"] == pytest.approx(1.0)
    assert out["pearson_r"] == pytest.approx(1.0)
    out = st.correlation_summary(x, -x)
    assert out["kendall_tau"] == pytest.approx(-1.0)
    out = st.correlation_summary(np.full(5, 3.0), x[:5])
    assert math.isnan(out["kendall_tau"]) and "constant" in out["note"]
    out = st.correlation_summary([1.0, 2.0], [2.0, 1.0])
    assert "Shapiro" in out["note"]


# ---------------------------------------------------------------------------- end to end
def _constructed(seed: int = 0) -> pd.DataFrame:
    """3 techniques x 6 datasets x 40 images: A better than B better than C by construction."""
    rng = np.random.default_rng(seed)
    parts = []
    for d in range(6):
        base = rng.normal(0.0, 1.0, 40)
        parts.append(_frame({"A": base + 2.0, "B": base + 1.0, "C": rng.normal(0.0, 1.0, 40)},
                            {"A": "single-image", "B": "single-image", "C": "generative"},
                            dataset=f"set{d}"))
    frame = pd.concat(parts, ignore_index=True)
    frame["domain"] = np.where(frame["dataset"].isin(["set0", "set1", "set2"]), "X", "Y")
    return frame


def test_analyze_constructed_end_to_end():
    frame = _constructed()
    result = analyze(Scores(frame), directions={"m": True}, n_resamples=500)
    m = result.metrics["m"]
    assert set(m.per_dataset["best"]) == {"A"}
    assert set(m.per_dataset["worst"]) == {"C"}
    assert m.pair == ("A", "B") and m.behaviour_pair == ("A", "B")
    # B = A - 1 on every image: same ordering, so every best/worst image is common
    assert (m.behaviour["C_B"] == 10).all() and (m.behaviour["C_W"] == 10).all()
    assert "constant" in m.behaviour_correlation.iloc[0]["note"]
    # every mean inside its CI
    assert ((m.stats["ci_low"] <= m.stats["mean"]) & (m.stats["mean"] <= m.stats["ci_high"])).all()
    assert (m.domain_means["ci_low"] <= m.domain_means["mean"]).all()
    ab = m.pairwise[(m.pairwise["technique"] == "A") & (m.pairwise["other"] == "B")]
    assert (ab["test"] == "wilcoxon").all() and ab["significant"].all()
    assert (ab["effect"] == 1.0).all()
    friedman = m.friedman.iloc[0]
    assert friedman["chi2"] == pytest.approx(12.0) and friedman["rejects"]
    assert m.cd_cliques == [["A", "B"], ["B", "C"]]
    assert result.verdict.iloc[0]["best"] == "A"


def test_analyze_with_given_generative_pair_skips_behaviour():
    frame = _constructed()
    m = analyze_metric(frame, "m", True, pair=("A", "C"), n_resamples=0, beyond=False)
    assert m.behaviour_pair is None and m.behaviour.empty
    assert any("generative" in note for note in m.notes)
    assert set(m.improvement["winner"]) == {"A"}
    means = m.improvement_means.set_index("winner")
    assert means.loc["A", "datasets"] == 6 and math.isnan(means.loc["C",
                                                                    "mean_improvement_pct"])


def test_improvement_formula_directions():
    from srarena.analysis.study import improvement_pct

    assert improvement_pct(10.0, 12.0, higher_is_better=False) == pytest.approx(20.0)
    assert improvement_pct(0.6, 0.5, higher_is_better=True) == pytest.approx(20.0)
