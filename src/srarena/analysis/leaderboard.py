"""The closing leaderboard of a run: mean score of each upscaler for each metric."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Run


def leaderboard(run: Run, directions: dict[str, bool] | None = None) -> pd.DataFrame:
    """Rows: upscalers; columns: metrics (mean over every scored image), plus counts.

    Sorted by the first metric's direction (best first). ``directions`` maps metric to
    higher-is-better; by default the run's recorded directions.
    """
    import pandas as pd

    scores = run.scores()
    if scores.empty:
        return pd.DataFrame()
    directions = directions if directions is not None else run.metric_directions()
    table = scores.pivot_table(index="upscaler", columns="metric", values="value", aggfunc="mean")
    counts = scores.groupby("upscaler")["image_id"].nunique().rename("images")
    metrics = list(table.columns)
    first = next((m for m in metrics if m in directions), metrics[0])
    table = table.sort_values(first, ascending=not directions.get(first, True))
    return table.join(counts)
