"""Published results with their provenance, and our values beside them.

A technique plugin ships a small JSON table of what its paper (or official repository)
reports, and names it on its spec (``UpscalerSpec.published_results =
"package:file.json"``, ``docs/plugins.md``). :func:`published` gathers every installed
table; :func:`study_published` turns the study's shipped per-image scores into per-dataset
means; :func:`compare` puts a run's per-dataset means beside them with a verdict.

Verdicts: ``reproduced`` (the difference is within the tolerance), ``not reproduced``,
``not run`` (our run gave no value: a dataset, weights or metric missing; ``reason`` says
which) and ``missing`` (the published value could not be found; listed from the tables).

Tolerances (``docs/replication.md``): a paper's PSNR/SSIM is a single rounded number, so the
tolerance is fixed per metric (:data:`TOLERANCES`); the study's means come with per-image
scores, so the tolerance is the 95 % interval of the difference of two means,
``1.96 * sqrt(sd_published^2 / n_published + sd_ours^2 / n_ours)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

FORMAT = 1
FILE = "replication.json"
TOLERANCES = {"psnr": 0.05, "ssim": 0.002}
"""Fixed tolerances for values published as one number (PSNR in dB, SSIM)."""
Z95 = 1.959963984540054

#: The study's techniques and the srarena upscalers that reimplement them. The study does
#: not record DAN's version and setting; DANv1 setting 1 is its most likely choice.
STUDY_UPSCALERS = {"APA": "apa", "BlindSR": "blindsr", "DAN": "dan-v1", "FastGAN": "fastgan",
                   "MoESR": "moesr-emad2022"}
STUDY_SOURCE = ("the study's published per-image scores (srarena/data/study, from "
                "vsantjr/DL_BlindSR json/), per-dataset mean and sd computed with "
                "srarena.analysis.study.technique_stats")
STUDY_PAPER = {"title": "Evaluating Deep Learning Techniques for Blind Image Super-Resolution "
                        "within a High-Scale Multi-Domain Perspective",
               "venue": "AI 2023, 4(3), 598-619", "doi": "10.3390/ai4030032"}

_ROW_KEYS = {"technique", "upscaler", "benchmark", "dataset", "scale", "metric", "value",
             "source"}


class TableError(ValueError):
    """A published-results table that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Published:
    """One published value and where it comes from."""

    technique: str
    upscaler: str
    benchmark: str
    dataset: str
    scale: int
    metric: str
    value: float
    source: str
    kernel: str = ""
    paper: dict[str, str] = field(default_factory=dict)
    table: str | None = None
    note: str = ""
    sd: float | None = None
    n: int | None = None


@dataclass(frozen=True)
class Missing:
    """A published value that was looked for and not found."""

    technique: str
    what: str
    reason: str


def load_table(reference: str) -> dict[str, Any]:
    """A table named ``"package:path/in/package.json"``, read from the installed package."""
    package, sep, path = reference.partition(":")
    if not sep or not package or not path:
        raise TableError(f"{reference!r}: published_results must look like 'package:file.json'")
    try:
        text = files(package).joinpath(path).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise TableError(f"{reference}: cannot be read ({type(exc).__name__}: {exc})") from None
    try:
        table = json.loads(text)
    except ValueError as exc:
        raise TableError(f"{reference}: not JSON ({exc})") from None
    problems = check_table(table)
    if problems:
        raise TableError(f"{reference}: " + "; ".join(problems))
    return table


def check_table(table: Any) -> list[str]:
    """What makes a table unusable (empty when it is fine)."""
    if not isinstance(table, dict) or table.get("format") != FORMAT:
        return [f"not a published-results table of format {FORMAT}"]
    problems = []
    if not isinstance(table.get("version"), str) or not table["version"]:
        problems.append("'version' (a string) is missing")
    papers = table.get("papers", {})
    for i, row in enumerate(table.get("results", [])):
        absent = sorted(_ROW_KEYS - set(row))
        if absent:
            problems.append(f"results[{i}] lacks {', '.join(absent)}")
            continue
        if not isinstance(row["value"], int | float) or not math.isfinite(row["value"]):
            problems.append(f"results[{i}]: value must be a number")
        if not isinstance(row["scale"], int) or row["scale"] < 1:
            problems.append(f"results[{i}]: scale must be a positive integer")
        if row.get("paper") and row["paper"] not in papers:
            problems.append(f"results[{i}]: paper {row['paper']!r} is not in 'papers'")
    for i, item in enumerate(table.get("missing", [])):
        if not {"technique", "what", "reason"} <= set(item):
            problems.append(f"missing[{i}] needs technique, what and reason")
    return problems


def rows_of(table: dict[str, Any]) -> tuple[list[Published], list[Missing]]:
    """The rows of a checked table."""
    papers = table.get("papers", {})
    rows = [Published(
        technique=r["technique"], upscaler=r["upscaler"], benchmark=r["benchmark"],
        dataset=r["dataset"], scale=int(r["scale"]), metric=r["metric"],
        value=float(r["value"]), source=r["source"], kernel=r.get("kernel", ""),
        paper=papers.get(r.get("paper", ""), {}), table=r.get("table"), note=r.get("note", ""),
    ) for r in table.get("results", [])]
    missing = [Missing(m["technique"], m["what"], m["reason"]) for m in table.get("missing", [])]
    return rows, missing


def published(registry: Any = None) -> tuple[list[Published], list[Missing], list[str]]:
    """Every installed plugin's published values, what they list as missing, and the
    problems of tables that could not be read (each table once, however many specs name it)."""
    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    references = dict.fromkeys(
        spec.published_results for spec in registry.upscalers.values()
        if spec.published_results)
    rows: list[Published] = []
    missing: list[Missing] = []
    problems: list[str] = []
    for reference in references:
        try:
            found, absent = rows_of(load_table(reference))
        except TableError as exc:
            problems.append(str(exc))
            continue
        rows += found
        missing += absent
    return rows, missing, problems


def study_published(techniques: list[str] | None = None) -> list[Published]:
    """The study's per-dataset mean of each technique and metric, with sd and n."""
    from .io import study_scores

    return [Published(technique=technique, upscaler=STUDY_UPSCALERS.get(technique, technique),
                      benchmark="study", dataset=dataset, scale=8, metric=metric, value=mean,
                      source=STUDY_SOURCE, kernel="unknown (real LR images)",
                      paper=STUDY_PAPER, sd=sd, n=n)
            for (technique, dataset, metric), (mean, sd, n) in our_stats(study_scores()).items()
            if not techniques or technique in techniques]


def our_stats(frame: pd.DataFrame) -> dict[tuple[str, str, str], tuple[float, float, int]]:
    """``(upscaler, dataset, metric) -> (mean, sd, n)`` of a run's successful scores, by the
    study's own statistics (:func:`srarena.analysis.study.technique_stats`)."""
    from .study import technique_stats

    out: dict[tuple[str, str, str], tuple[float, float, int]] = {}
    for metric, part in frame.groupby("metric", sort=True):
        for r in technique_stats(part).itertuples():
            out[(r.upscaler, r.dataset, str(metric))] = (float(r.mean), float(r.std), int(r.n))
    return out


def tolerance(row: Published, ours_sd: float | None, ours_n: int | None,
              overrides: dict[str, float] | None = None) -> float | None:
    """The tolerance of one comparison (None when none applies: the verdict is then
    ``not reproduced`` unless the values are equal)."""
    if overrides and row.metric in overrides:
        return overrides[row.metric]
    if row.sd is not None and row.n and ours_n and ours_sd is not None and ours_n > 1:
        return Z95 * math.sqrt(row.sd**2 / row.n + ours_sd**2 / ours_n)
    return TOLERANCES.get(row.metric)


def compare(rows: list[Published], ours: dict[tuple[str, str, str], tuple[float, float, int]],
            not_run: dict[tuple[str, str], str] | None = None,
            overrides: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One result per published value: ours, the difference, the tolerance, the verdict.

    ``not_run`` maps ``(upscaler, benchmark)`` to why no run gave values (a missing dataset
    or weights), shown as the reason of a ``not run`` verdict.
    """
    results = []
    for row in rows:
        entry = {**{k: v for k, v in asdict(row).items() if k not in ("sd", "n")},
                 "published_sd": row.sd, "published_n": row.n, "ours": None, "ours_sd": None,
                 "ours_n": None, "difference": None, "tolerance": None, "reason": ""}
        found = ours.get((row.upscaler, row.dataset, row.metric))
        if found is None:
            reason = (not_run or {}).get((row.upscaler, row.benchmark)) or \
                f"the run has no {row.metric} score of {row.upscaler} on {row.dataset}"
            results.append({**entry, "verdict": "not run", "reason": reason})
            continue
        mean, sd, n = found
        tol = tolerance(row, sd, n, overrides)
        difference = mean - row.value
        ok = abs(difference) <= tol if tol is not None else difference == 0
        results.append({**entry, "ours": mean, "ours_sd": sd, "ours_n": n,
                        "difference": difference, "tolerance": tol,
                        "verdict": "reproduced" if ok else "not reproduced"})
    return results


def missing_rows(missing: list[Missing]) -> list[dict[str, Any]]:
    """The tables' missing values as result rows with the verdict ``missing``."""
    return [{"technique": m.technique, "upscaler": "", "benchmark": "", "dataset": m.what,
             "scale": None, "metric": "", "value": None, "ours": None, "difference": None,
             "tolerance": None, "verdict": "missing", "reason": m.reason, "source": ""}
            for m in missing]


def write(folder: Path, results: list[dict[str, Any]]) -> Path:
    """Store the comparison in a run folder (``replication.json``) for ``srarena report``."""
    path = Path(folder) / FILE
    payload = {"format": FORMAT, "results": results}
    atomic_write_text(path, json.dumps(payload, indent=2, default=str) + "\n")
    return path


def read(folder: Path) -> list[dict[str, Any]]:
    """The comparison stored in a run folder, or an empty list."""
    try:
        data = json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return data.get("results", []) if isinstance(data, dict) else []
