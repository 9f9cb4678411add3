"""The study's analyses, over one metric's per-image scores, honouring the metric's direction.

The functions take the long frame of :mod:`srarena.analysis.io` restricted to one metric
(columns domain, dataset, upscaler, mode, image_id, value) or the per-dataset statistics
built from it, and return DataFrames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .stats import correlation_summary, rank_techniques

if TYPE_CHECKING:
    import pandas as pd


def technique_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof=1) of each technique on each dataset."""
    grouped = frame.groupby(["domain", "dataset", "upscaler"], sort=True)
    out = grouped["value"].agg(n="count", mean="mean", std="std")
    out.insert(0, "mode", grouped["mode"].first())
    return out.reset_index()


def means_wide(stats: pd.DataFrame) -> pd.DataFrame:
    """Dataset × technique table of means."""
    return stats.pivot(index="dataset", columns="upscaler", values="mean")


def _pick(group: pd.DataFrame, higher_is_better: bool, best: bool) -> pd.Series:
    ordered = group.sort_values(["mean", "upscaler"], ascending=[best != higher_is_better, True])
    return ordered.iloc[0]


def per_dataset_best_worst(stats: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """For each dataset, the best and the worst technique with their means."""
    import pandas as pd

    rows = []
    for (domain, dataset), group in stats.groupby(["domain", "dataset"], sort=True):
        best, worst = _pick(group, higher_is_better, True), _pick(group, higher_is_better, False)
        rows.append({"domain": domain, "dataset": dataset, "best": best["upscaler"],
                     "best_mean": best["mean"], "worst": worst["upscaler"],
                     "worst_mean": worst["mean"]})
    return pd.DataFrame(rows)


def per_domain_best_worst(stats: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """For each domain, the best and the worst (dataset, technique) mean inside the domain."""
    import pandas as pd

    rows = []
    for domain, group in stats.groupby("domain", sort=True):
        best, worst = _pick(group, higher_is_better, True), _pick(group, higher_is_better, False)
        rows.append({"domain": domain, "best_dataset": best["dataset"],
                     "best_technique": best["upscaler"], "best_mean": best["mean"],
                     "worst_dataset": worst["dataset"], "worst_technique": worst["upscaler"],
                     "worst_mean": worst["mean"]})
    return pd.DataFrame(rows)


def domain_means(frame: pd.DataFrame) -> pd.DataFrame:
    """The plain per-domain mean (over every image of the domain) of each technique."""
    grouped = frame.groupby(["domain", "upscaler"], sort=True)
    out = grouped["value"].agg(n="count", mean="mean", std="std")
    out.insert(0, "datasets", grouped["dataset"].nunique())
    return out.reset_index()


def ranking(stats: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """Techniques ordered best first: datasets won, then mean rank over datasets (1 = best)."""
    import pandas as pd

    wide = means_wide(stats)
    winners = per_dataset_best_worst(stats, higher_is_better)["best"].value_counts()
    ranks = rank_techniques(wide, higher_is_better)
    out = pd.DataFrame({
        "upscaler": wide.columns,
        "wins": [int(winners.get(t, 0)) for t in wide.columns],
        "mean_rank": ranks.mean(axis=0).to_numpy(),
        "datasets": wide.notna().sum(axis=0).to_numpy(),
    })
    return out.sort_values(["wins", "mean_rank", "upscaler"], ascending=[False, True, True],
                           ignore_index=True)


def improvement_pct(winner: float, other: float, higher_is_better: bool) -> float:
    """The study's improvement of the better mean B over the other W:
    (W − B)·100/B when lower is better, (B − W)·100/W when higher is better."""
    if higher_is_better:
        return (winner - other) * 100.0 / other
    return (other - winner) * 100.0 / winner


def improvement(
    stats: pd.DataFrame, higher_is_better: bool, pair: tuple[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """I% between two techniques on the datasets where each one wins (has the better mean of
    the two). Returns the per-dataset table and the mean I% of each winner."""
    import pandas as pd

    wide = means_wide(stats)
    domains = stats.groupby("dataset")["domain"].first()
    rows = []
    first, second = pair
    for dataset, row in wide[[first, second]].dropna().iterrows():
        a, b = float(row[first]), float(row[second])
        a_wins = a > b if higher_is_better else a < b
        winner, other = (first, second) if a_wins or a == b else (second, first)
        wm, om = (a, b) if winner == first else (b, a)
        rows.append({"winner": winner, "other": other, "domain": domains[dataset],
                     "dataset": dataset, "winner_mean": wm, "other_mean": om,
                     "improvement_pct": improvement_pct(wm, om, higher_is_better)})
    table = pd.DataFrame(rows, columns=["winner", "other", "domain", "dataset", "winner_mean",
                                        "other_mean", "improvement_pct"])
    order = {first: 0, second: 1}
    table = table.sort_values(["winner", "domain", "dataset"],
                              key=lambda c: c.map(order) if c.name == "winner" else c,
                              ignore_index=True)
    means = [{"winner": w, "other": o, "datasets": int((table["winner"] == w).sum()),
              "mean_improvement_pct": float(table.loc[table["winner"] == w,
                                                      "improvement_pct"].mean())
              if (table["winner"] == w).any() else np.nan}
             for w, o in (pair, pair[::-1])]
    return table, pd.DataFrame(means)


def _extremes(
    values: pd.DataFrame, top_n: int, higher_is_better: bool
) -> dict[str, pd.DataFrame]:
    """The ``top_n`` best and worst images (ties broken by image id, for determinism)."""
    ordered = values.sort_values(["value", "image_id"], kind="stable")
    low, high = ordered.head(top_n), ordered.iloc[::-1].head(top_n)
    best, worst = (high, low) if higher_is_better else (low, high)
    return {"best": best, "worst": worst}


def behaviour(
    frame: pd.DataFrame, higher_is_better: bool, pair: tuple[str, str], top_n: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The study's behaviour analysis of two techniques.

    Per dataset, the ``top_n`` best-scored and ``top_n`` worst-scored images of each technique;
    |C_B| / |C_W|: how many of the first technique's best / worst images are also among the
    second's (images matched by input id); |N_B| / |N_W|: how many are not. Then Kendall's τ,
    Pearson's r and Shapiro–Wilk between the C_W and C_B counts over datasets, and likewise N.

    Returns (counts per dataset, the selected images, correlations).
    """
    import pandas as pd

    first, second = pair
    counts, images = [], []
    for (domain, dataset), group in frame.groupby(["domain", "dataset"], sort=True):
        sets = {}
        for technique in pair:
            values = group.loc[group["upscaler"] == technique, ["image_id", "value"]]
            sets[technique] = _extremes(values, top_n, higher_is_better)
        if any(len(sets[t]["best"]) == 0 for t in pair):
            continue
        row = {"domain": domain, "dataset": dataset}
        notes = []
        for kind, label in (("best", "B"), ("worst", "W")):
            a, b = sets[first][kind], sets[second][kind]
            common = a["image_id"].isin(b["image_id"])
            row[f"C_{label}"] = int(common.sum())
            row[f"N_{label}"] = int((~common).sum())
            for technique, chosen, against in ((first, a, b), (second, b, a)):
                shared = chosen["image_id"].isin(against["image_id"])
                images.extend(
                    {"domain": domain, "dataset": dataset, "technique": technique, "set": kind,
                     "rank": rank + 1, "image_id": image, "value": value, "common": bool(c)}
                    for rank, (image, value, c) in enumerate(
                        zip(chosen["image_id"], chosen["value"], shared, strict=True)))
        smallest = min(int((group["upscaler"] == t).sum()) for t in pair)
        if smallest < 2 * top_n:
            notes.append(f"only {smallest} images: the best and worst {top_n} overlap")
        row["note"] = "; ".join(notes)
        counts.append(row)
    counts_frame = pd.DataFrame(counts, columns=["domain", "dataset", "C_B", "N_B", "C_W", "N_W",
                                                 "note"])
    correlations = []
    for name in ("C", "N"):
        x, y = counts_frame[f"{name}_W"].to_numpy(), counts_frame[f"{name}_B"].to_numpy()
        summary = correlation_summary(x, y)
        correlations.append({"sets": name, "x": f"|{name}_W|", "y": f"|{name}_B|",
                             "mean_x": float(np.mean(x)) if x.size else np.nan,
                             "std_x": float(np.std(x, ddof=1)) if x.size > 1 else np.nan,
                             "mean_y": float(np.mean(y)) if y.size else np.nan,
                             "std_y": float(np.std(y, ddof=1)) if y.size > 1 else np.nan,
                             **summary})
    return counts_frame, pd.DataFrame(images), pd.DataFrame(correlations)


def verdict(rankings: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Which technique is best per metric (most datasets won, then mean rank) and overall
    (most datasets won over all metrics, then the mean of the per-metric mean ranks)."""
    import pandas as pd

    rows = []
    for metric, table in rankings.items():
        best = table.iloc[0]
        rows.append({"metric": metric, "best": best["upscaler"], "wins": int(best["wins"]),
                     "datasets": int(table["datasets"].max()), "mean_rank": best["mean_rank"],
                     "runner_up": table.iloc[1]["upscaler"] if len(table) > 1 else ""})
    if len(rankings) > 1:
        both = pd.concat(rankings.values())
        total = both.groupby("upscaler").agg(wins=("wins", "sum"), mean_rank=("mean_rank", "mean"),
                                             datasets=("datasets", "sum")).reset_index()
        total = total.sort_values(["wins", "mean_rank", "upscaler"],
                                  ascending=[False, True, True], ignore_index=True)
        rows.append({"metric": "overall", "best": total.iloc[0]["upscaler"],
                     "wins": int(total.iloc[0]["wins"]), "datasets": int(total["datasets"].max()),
                     "mean_rank": total.iloc[0]["mean_rank"],
                     "runner_up": total.iloc[1]["upscaler"] if len(total) > 1 else ""})
    return pd.DataFrame(rows)
