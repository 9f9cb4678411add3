"""The report's "Replication" section: our values beside the published ones.

``srarena replicate`` stores its comparison in the run folder (``replication.json``,
:mod:`srarena.analysis.replication`); this module gives the section's header, introduction
and cells, which the HTML page and the Markdown document write with their own escaping. A
run without one has no such section.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..analysis.numbers import fmt

HEADER = ("technique", "benchmark", "dataset", "scale", "metric", "published", "ours",
          "difference", "tolerance", "verdict", "source")
INTRO = ("Our per-dataset mean beside the value the technique's paper (or the study) "
         "publishes; the verdict says whether the difference is within the tolerance "
         "(docs/replication.md).")


def cells(row: dict[str, Any]) -> list[str]:
    """One result as the texts of :data:`HEADER`."""
    verdict = row["verdict"] + (f": {row['reason']}" if row.get("reason") else "")
    where = row.get("source", "")
    if row.get("table"):
        where = f"table {row['table']}, {where}"
    return [row.get("technique", ""), row.get("benchmark") or "–", row.get("dataset", ""),
            fmt(row.get("scale")), row.get("metric") or "–",
            fmt(row.get("value")) if row.get("value") is not None else "missing",
            fmt(row.get("ours")), fmt(row.get("difference")), fmt(row.get("tolerance")),
            verdict, where]


def counts(rows: Iterable[dict[str, Any]]) -> str:
    """``2 reproduced, 1 not reproduced`` for the section's heading line."""
    tally: dict[str, int] = {}
    for row in rows:
        tally[row["verdict"]] = tally.get(row["verdict"], 0) + 1
    return ", ".join(f"{n} {verdict}" for verdict, n in tally.items())
