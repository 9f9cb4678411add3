"""Analyses of per-image scores: the study's tables, statistics beyond it, plots.

From Python::

    from srarena.analysis import analyze, load_scores

    result = analyze(load_scores(study=True))        # or load_scores("runs/my-run")
    result.metrics["maniqa"].per_dataset             # DataFrames, one per table
    result.tables()                                  # every table by name

pandas, scipy and matplotlib are imported only when a function needs them.
"""

from __future__ import annotations

from .core import Analysis, MetricAnalysis, analyze, analyze_metric
from .io import (
    COLUMNS,
    Scores,
    ScoresError,
    import_score_files,
    load_scores,
    read_score_file,
    resolve_directions,
    study_scores,
)

__all__ = [
    "COLUMNS",
    "Analysis",
    "MetricAnalysis",
    "Scores",
    "ScoresError",
    "analyze",
    "analyze_metric",
    "import_score_files",
    "load_scores",
    "read_score_file",
    "resolve_directions",
    "study_scores",
]
