"""The report's plots: the analysis plots (per-domain bars, critical-difference diagram, the
behaviour scatter) and the distribution of per-image scores, as PNG and SVG under assets/.

matplotlib is optional (``srarena[plots]``); without it the report says so and has no plots.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .assets import Assets
from .images import Picture
from .model import Plot

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.core import MetricAnalysis

#: Per technique, scores beyond this many are drawn as a box only, without their points.
MAX_POINTS = 400


def available() -> bool:
    """Whether matplotlib is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def distribution(m: MetricAnalysis, frame: pd.DataFrame, stem: Path) -> list[Path]:
    """Box plot of every technique's per-image scores (all datasets), best technique first,
    with the individual scores as jittered points when there are few enough."""
    from ..analysis.plots import pyplot, save

    plt = pyplot()
    techniques = list(m.ranking["upscaler"])
    series = [frame.loc[frame["upscaler"] == t, "value"].to_numpy(float) for t in techniques]
    series = [s[np.isfinite(s)] for s in series]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(techniques) + 1.5), 3.6))
    ax.boxplot(series, showfliers=False, widths=0.55)
    ax.set_xticks(range(1, len(techniques) + 1), techniques, rotation=20, ha="right")
    rng = np.random.default_rng(0)
    for i, values in enumerate(series, start=1):
        if values.size <= MAX_POINTS:
            ax.scatter(i + rng.uniform(-0.18, 0.18, values.size), values, s=9, alpha=0.55,
                       color="tab:blue", linewidths=0)
    ax.set_ylabel(f"{m.metric} ({m.direction})")
    ax.set_title(f"{m.metric}: per-image scores, all datasets", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return save(fig, stem)


def _plot(assets: Assets, title: str, caption: str, paths: list[Path]) -> Plot:
    png, svg = paths  # as analysis.plots.save writes them
    with Image.open(png) as image:
        picture = Picture(png, image.width, image.height)
    return Plot(title, assets.img(picture), assets.keep(svg), caption)


def metric_plots(m: MetricAnalysis, frame: pd.DataFrame, assets: Assets) -> list[Plot]:
    """Every plot of one metric; ``frame`` holds that metric's per-image scores."""
    from ..analysis.plots import cd_diagram, domain_bars, kendall_scatter

    base = assets.path("plots", m.metric.replace(".", "_"))

    def stem(part: str) -> Path:
        return base.with_name(f"{base.name}-{part}")

    plots = [_plot(assets, "Mean per dataset, by domain",
                   "Mean ± standard deviation of each technique on each dataset.",
                   domain_bars(m, stem("domains")))]
    if m.friedman is not None and len(m.ranking) >= 2:
        summary = m.friedman.iloc[0]
        caption = ("Mean rank of each technique over the datasets (1 = best); techniques joined "
                   "by a red bar are not significantly different (Nemenyi, critical difference "
                   "CD).")
        if summary.get("note"):
            caption += f" Note: {summary['note']}"
        plots.append(_plot(assets, "Critical-difference diagram", caption,
                           cd_diagram(m, stem("cd"))))
    plots.append(_plot(assets, "Score distributions",
                       "Every per-image score of each technique (box: quartiles and median; "
                       "whiskers: 1.5 IQR).",
                       distribution(m, frame, stem("distribution"))))
    if m.behaviour_pair is not None and not m.behaviour.empty:
        a, b = m.behaviour_pair
        plots.append(_plot(assets, "Behaviour analysis (the study's Kendall plot)",
                           f"Common and non-common images among the best and worst of {a} and "
                           f"{b}, one point per dataset.",
                           kendall_scatter(m, stem("kendall"))))
    return plots
