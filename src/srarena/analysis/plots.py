"""Plots as PNG and SVG: per-domain bar charts (as in the study), the critical-difference
diagram, and the Kendall scatter of the behaviour analysis with its fitted line.

matplotlib is imported inside the functions, with the non-interactive Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .core import Analysis, MetricAnalysis


def pyplot() -> Any:
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, stem: Path) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.svg`` (the stem may hold dots) and close it.

    The files depend on the figure alone: no date in the SVG and its element ids from a fixed
    salt (matplotlib's default is random), so two builds of a report are byte-identical.
    """
    import matplotlib

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")]
    with matplotlib.rc_context({"svg.hashsalt": "srarena"}):
        fig.savefig(paths[0], dpi=150, bbox_inches="tight")
        fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})
    pyplot().close(fig)
    return paths


def domain_bars(m: MetricAnalysis, stem: Path) -> list[Path]:
    """One panel per domain: the mean (± std) of each technique on each of its datasets."""
    plt = pyplot()
    domains = sorted(m.stats["domain"].unique())
    techniques = list(m.ranking["upscaler"])
    fig, axes = plt.subplots(1, len(domains), figsize=(3.2 * len(domains) + 1, 3.6),
                             squeeze=False, sharey=True)
    width = 0.8 / max(1, len(techniques))
    colours = plt.get_cmap("tab10")
    for ax, domain in zip(axes[0], domains, strict=True):
        part = m.stats[m.stats["domain"] == domain]
        datasets = sorted(part["dataset"].unique())
        x = np.arange(len(datasets))
        for i, technique in enumerate(techniques):
            rows = part[part["upscaler"] == technique].set_index("dataset").reindex(datasets)
            ax.bar(x + (i - (len(techniques) - 1) / 2) * width, rows["mean"], width,
                   yerr=rows["std"], capsize=2, label=technique, color=colours(i % 10))
        ax.set_title(domain)
        ax.set_xticks(x, datasets, rotation=30, ha="right", fontsize=8)
    axes[0][0].set_ylabel(f"{m.metric} ({m.direction})")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(f"{m.metric}: mean ± std per dataset, by domain")
    return save(fig, stem)


def cd_diagram(m: MetricAnalysis, stem: Path) -> list[Path]:
    """Critical-difference diagram (Demšar 2006): mean ranks on an axis, a bar joining
    techniques whose mean ranks differ by less than the Nemenyi critical difference."""
    plt = pyplot()
    summary = m.friedman.iloc[0]
    ranks = m.ranking.set_index("upscaler")["mean_rank"].sort_values()
    k = len(ranks)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.32 * k))
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(k // 2 + 1.5) - 0.3 * len(m.cd_cliques), 1.6)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.15, color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize=9)
    cd = float(summary["cd"])
    if np.isfinite(cd):
        ax.hlines(1.2, 1, 1 + cd, color="black", lw=2)
        ax.text(1 + cd / 2, 1.3, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    half = (k + 1) // 2
    for i, (name, rank) in enumerate(ranks.items()):
        left = i < half
        y = -(i if left else k - 1 - i) - 0.8
        x_text = 0.6 if left else k + 0.4
        ax.plot([rank, rank, x_text], [0, y, y], color="black", lw=0.8)
        ax.text(x_text + (-0.05 if left else 0.05), y, f"{name} ({rank:.2f})",
                ha="right" if left else "left", va="center", fontsize=9)
    for j, clique in enumerate(m.cd_cliques):
        lo, hi = ranks[clique].min(), ranks[clique].max()
        ax.hlines(-0.35 - 0.22 * j, lo - 0.03, hi + 0.03, color="tab:red", lw=3)
    ax.set_title(f"{m.metric}: mean ranks over {int(summary['datasets'])} datasets "
                 f"(Friedman p = {summary['p']:.2g})", fontsize=10)
    return save(fig, stem)


def kendall_scatter(m: MetricAnalysis, stem: Path) -> list[Path]:
    """|C_W| against |C_B| (and |N_W| against |N_B|) over datasets, with least-squares lines."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, row in zip(axes, m.behaviour_correlation.itertuples(index=False), strict=True):
        x = m.behaviour[f"{row.sets}_W"].to_numpy(float)
        y = m.behaviour[f"{row.sets}_B"].to_numpy(float)
        points, counts = np.unique(np.c_[x, y], axis=0, return_counts=True)
        ax.scatter(points[:, 0], points[:, 1], s=30 * counts)  # area: datasets at a point
        if x.size >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            grid = np.linspace(x.min(), x.max(), 2)
            ax.plot(grid, slope * grid + intercept, color="tab:red")
        ax.set_xlabel(row.x)
        ax.set_ylabel(row.y)
        tau = "–" if not np.isfinite(row.kendall_tau) else f"{row.kendall_tau:.3f}"
        p = "–" if not np.isfinite(row.kendall_p) else f"{row.kendall_p:.3g}"
        ax.set_title(f"Kendall τ = {tau} (p = {p})", fontsize=10)
    a, b = m.behaviour_pair or ("", "")
    fig.suptitle(f"{m.metric}: {a} vs {b}, one point per dataset")
    return save(fig, stem)


def write_plots(analysis: Analysis, folder: Path) -> list[Path]:
    """Every plot of every metric under ``folder`` (PNG and SVG); returns the paths."""
    paths: list[Path] = []
    for name, m in analysis.metrics.items():
        paths += domain_bars(m, folder / f"{name}-domains")
        if m.friedman is not None and len(m.ranking) >= 2:
            paths += cd_diagram(m, folder / f"{name}-cd")
        if m.behaviour_pair is not None and not m.behaviour.empty:
            paths += kendall_scatter(m, folder / f"{name}-kendall")
    return paths
