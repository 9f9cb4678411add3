"""Assemble a run's report: read the run, analyse its scores, make the pictures and plots,
write ``index.html`` and ``index.md`` beside an ``assets/`` folder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_write_text
from . import figures
from .assets import Assets
from .model import Board, Cell, MetricSection, Report
from .visuals import Frames, ReportError, VisualOptions, Visuals, match_images

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.core import Analysis, MetricAnalysis
    from ..store import Run


@dataclass
class ReportOptions:
    """What to put in a report. ``metric`` chooses the images (grids, best/worst, gallery
    labels); by default the run's first metric with scores. ``n_resamples`` and ``seed`` are
    those of the bootstrap CIs (as ``srarena analyze``)."""

    metric: str | None = None
    plots: bool = True
    n_resamples: int = 2000
    seed: int = 0
    visuals: VisualOptions = field(default_factory=VisualOptions)


@dataclass
class Written:
    """The files a build wrote."""

    html: Path
    markdown: Path
    assets: Path
    seconds: float
    report: Report


# ---------------------------------------------------------------------- tables
def _ranks(values: pd.Series, higher_is_better: bool) -> pd.Series:
    return values.rank(ascending=not higher_is_better, method="min")


def _board(title: str, header: str, table: pd.DataFrame, key: str, group: str | None,
           columns: list[str], higher_is_better: bool) -> Board:
    """A matrix of ``table`` (columns upscaler, mean, n, ci_low, ci_high) by ``key``."""
    cells: dict[tuple[str, str], Cell] = {}
    rows: list[tuple[str, str]] = []
    order = [group, key] if group else [key]
    for names, part in table.groupby(order, sort=True):
        names = names if isinstance(names, tuple) else (names,)
        label = str(names[-1])
        rows.append((str(names[0]) if group else "", label))
        ranks = _ranks(part["mean"], higher_is_better)
        for row, rank in zip(part.itertuples(index=False), ranks, strict=True):
            cells[(label, row.upscaler)] = Cell(
                float(row.mean), float(getattr(row, "ci_low", np.nan)),
                float(getattr(row, "ci_high", np.nan)), float(rank), int(row.n), rank == 1)
    return Board(title, header, rows, columns, cells)


def _overall(m: MetricAnalysis, frame: pd.DataFrame, n_resamples: int, seed: int) -> list[dict]:
    from ..analysis import stats as st

    rows = []
    for r in m.ranking.itertuples(index=False):
        mine = frame[frame["upscaler"] == r.upscaler]
        strata = [g["value"].to_numpy(float) for _, g in mine.groupby("dataset", sort=True)]
        low, high = (st.bootstrap_mean_ci(strata, n_resamples=n_resamples, stratified=True,
                                          seed=st.stable_seed(seed, m.metric, "all", r.upscaler))
                     if n_resamples else (np.nan, np.nan))
        rows.append({"rank": len(rows) + 1, "upscaler": r.upscaler, "wins": int(r.wins),
                     "datasets": int(r.datasets), "mean_rank": float(r.mean_rank),
                     "mean": float(mine["value"].mean()), "ci_low": low, "ci_high": high,
                     "images": int(len(mine))})
    return rows


def metric_section(m: MetricAnalysis, frame: pd.DataFrame, options: ReportOptions) -> MetricSection:
    """The leaderboards of one metric (overall, per dataset, per domain)."""
    columns = list(m.ranking["upscaler"])
    datasets = _board("Per dataset", "dataset", m.stats, "dataset", "domain", columns,
                      m.higher_is_better)
    domains = _board("Per domain (every image of the domain)", "domain", m.domain_means,
                     "domain", None, columns, m.higher_is_better)
    return MetricSection(m.metric, m.higher_is_better,
                         _overall(m, frame, options.n_resamples, options.seed), datasets,
                         domains, notes=list(m.notes))


def protocols(infos: pd.Series) -> list[str]:
    """The protocols the outputs' steps say they ran by (an upscaler's ``info["protocol"]``,
    e.g. ``official:real-esrgan``), in order of first appearance."""
    found: dict[str, None] = {}
    for text in infos.dropna():
        try:
            info = json.loads(text)
        except (TypeError, ValueError):
            continue
        steps = info.values() if isinstance(info, dict) else ()
        for step in steps:
            if isinstance(step, dict) and step.get("protocol"):
                found[str(step["protocol"])] = None
    return list(found)


def runtime_rows(outputs: pd.DataFrame, order: list[str]) -> list[dict[str, Any]]:
    """Per technique: outputs made and failed, seconds per image, peak memory."""
    rows = []
    names = [u for u in order if u in set(outputs["upscaler"])]
    names += sorted(set(outputs["upscaler"]) - set(names))
    for name in names:
        mine = outputs[outputs["upscaler"] == name]
        ok = mine[mine["status"] == "ok"]
        seconds = ok["seconds"].astype(float)
        memory = ok["peak_memory_mb"].astype(float)
        rows.append({
            "upscaler": name,
            "mode": ", ".join(sorted(set(mine["mode"].dropna().astype(str)))),
            "chain": ", ".join(sorted(set(mine["chain"].dropna().astype(str)))),
            "protocol": ", ".join(protocols(mine["info"])),
            "device": ", ".join(sorted(set(mine["device"].dropna().astype(str)))),
            "ok": int(len(ok)), "failed": int(len(mine) - len(ok)),
            "mean_s": seconds.mean(), "median_s": seconds.median(), "total_s": seconds.sum(
                min_count=1), "peak_mb": memory.max(), "mean_peak_mb": memory.mean(),
        })
    return rows


def scoring_rows(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Per metric: how many scores ended ok, refused (input not accepted) or failed."""
    counts = scores.groupby(["metric", "status"], sort=False).size()
    return [{"metric": metric, "ok": int(counts.get((metric, "ok"), 0)),
             "refused": int(counts.get((metric, "refused"), 0)),
             "failed": int(sum(v for (m, s), v in counts.items()
                               if m == metric and s not in ("ok", "refused")))}
            for metric in dict.fromkeys(scores["metric"])]


def problems(run: Run, meta: dict[str, Any], scores: pd.DataFrame, cells: pd.DataFrame,
             outputs: pd.DataFrame) -> list[dict[str, Any]]:
    """Every skipped or failed item, grouped by (kind, status, technique, metric, reason)
    with the datasets, a count and example images; plus configured components with no
    result at all."""
    config = meta.get("config") or {}
    failures = run.failures().fillna({"reason": "", "upscaler": "", "metric": "",
                                      "image_id": ""})
    fixes = {(r.upscaler, r.dataset): r.fix for r in cells.itertuples(index=False) if r.fix}
    rows = []
    order = {"input": 0, "cell": 1, "output": 2, "score": 3}
    keys = ["kind", "status", "upscaler", "metric", "reason"]
    for values, part in failures.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, values, strict=True))
        datasets = list(dict.fromkeys(part["dataset"]))
        ids = [f"{d}/{i}" for d, i in zip(part["dataset"], part["image_id"], strict=True) if i]
        fix = ({fixes.get((row["upscaler"], d), "") for d in datasets} - {""}
               if row["kind"] == "cell" else set())
        row.update(datasets=datasets, count=len(part), images=ids[:4],
                   more=max(0, len(ids) - 4), fix="; ".join(sorted(fix)))
        rows.append(row)
    rows.sort(key=lambda r: (order.get(r["kind"], 9), r["upscaler"], r["metric"]))
    blank = {"upscaler": "", "metric": "", "datasets": [], "count": 1, "images": [],
             "more": 0, "fix": ""}
    scored = set(scores["metric"])
    recorded = {(s["kind"], s["name"]): s for s in meta.get("skipped", [])}
    for metric in config.get("metrics", []):
        if metric in scored:
            continue
        skip = recorded.get(("metric", metric))
        reason = (skip["reason"] if skip else
                  "no score recorded: skipped when the run started or nothing to score "
                  "(a full-reference metric needs an HR ground truth)")
        rows.append({**blank, "kind": "metric", "status": "skipped", "metric": metric,
                     "reason": reason, "fix": skip["fix"] if skip else ""})
    produced = set(cells["upscaler"]) | set(outputs["upscaler"])
    for name in config.get("upscalers", []):
        if name not in produced:
            rows.append({**blank, "kind": "upscaler", "status": "skipped", "upscaler": name,
                         "reason": "no result recorded: skipped when the run started (see "
                                   "the run's log, e.g. an unreachable scale)"})
    return rows


def problem_counts(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """(components not run here, items that failed or were refused) among :func:`problems`'
    rows: a component that could not run (weights, a GPU) is counted once, not per cell."""
    not_run = {("metric", p["metric"]) if p["kind"] == "metric" else ("upscaler", p["upscaler"])
               for p in rows if p["status"] == "skipped"}
    failed = sum(p["count"] for p in rows if p["status"] != "skipped")
    return len(not_run), failed


# ---------------------------------------------------------------------- build
def _analysis(scores: pd.DataFrame, directions: dict[str, bool], source: str,
              options: ReportOptions) -> tuple[Analysis | None, pd.DataFrame, list[str]]:
    """Analyse a run's successful scores (``scores``: rows of :meth:`Run.scores`)."""
    from ..analysis import analyze
    from ..analysis.io import ScoresError, run_scores

    try:
        loaded = run_scores(scores, directions, source)
    except ScoresError as exc:
        return None, scores.iloc[:0], [f"no leaderboard: {exc}"]
    try:
        analysis = analyze(loaded, n_resamples=options.n_resamples, seed=options.seed)
    except ValueError as exc:  # a ScoresError, or no analysable metric
        return None, loaded.frame, [f"no leaderboard: {exc}"]
    return analysis, loaded.frame, []


def _scale(config: dict[str, Any], outputs: pd.DataFrame) -> int:
    if config.get("scale"):
        return int(config["scale"])
    scales = outputs["scale"].dropna()
    return int(scales.iloc[0]) if len(scales) else 1


def build_report(run_path: str | Path, out: str | Path | None = None,
                 options: ReportOptions | None = None) -> Written:
    """Write ``index.html``, ``index.md`` and ``assets/`` for a run (default ``RUN/report``)."""
    from datetime import datetime, timezone

    from ..analysis import replication
    from ..store import Run
    from . import html, markdown

    started = time.perf_counter()
    options = options or ReportOptions()
    try:
        run = Run.open(run_path)
    except FileNotFoundError as exc:
        raise ReportError(str(exc)) from None
    folder = Path(out) if out is not None else run.folder / "report"
    folder.mkdir(parents=True, exist_ok=True)
    assets = Assets(folder)
    meta = run.meta()
    config = meta.get("config") or {}
    outputs, cells, inputs = run.outputs(), run.cells(), run.inputs()
    all_scores = run.scores(all_rows=True)
    ok_scores = all_scores[all_scores["status"] == "ok"].reset_index(drop=True)
    scored = list(dict.fromkeys(ok_scores["metric"]))
    if options.metric is not None and options.metric not in scored:
        raise ReportError(f"no scores for metric {options.metric!r} in this run (it has: "
                          f"{', '.join(scored) or 'none'})")
    match_images(inputs, options.visuals.images)  # fail early on an unknown image
    analysis, frame, notes = _analysis(ok_scores, meta.get("metric_directions", {}),
                                       str(run.db_path), options)
    metrics = list(analysis.metrics) if analysis else []
    metric = options.metric or next((m for m in config.get("metrics", []) if m in metrics),
                                    metrics[0] if metrics else None)
    order = (list(analysis.metrics[metric].ranking["upscaler"]) if analysis and metric
             else list(config.get("upscalers", [])))
    written = run.last_written()
    report = Report(
        title=f"srarena report: {run.folder.resolve().name}", run=str(run.folder),
        created=(datetime.fromtimestamp(written, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                 if written is not None else "(no results yet)"), metric=metric,
        summary={}, config=config, environment=meta.get("environment") or {},
        datasets=meta.get("datasets") or [], notes=notes)
    if analysis is not None:
        report.verdict = analysis.verdict.to_dict("records")
        can_plot = options.plots and figures.available()
        if options.plots and not can_plot:
            report.notes.append("plots need matplotlib: pip install 'srarena[plots]'")
        for name, m in analysis.metrics.items():
            part = frame[frame["metric"] == name]
            section = metric_section(m, part, options)
            recorded = (meta.get("metrics") or {}).get(name) or {}
            section.kind = recorded.get("kind") or ""
            section.protocol = recorded.get("protocol") or ""
            if can_plot:
                section.plots = figures.metric_plots(m, part, assets)
            report.metrics.append(section)
    report.runtime = runtime_rows(outputs, order)
    report.scoring = scoring_rows(all_scores)
    report.problems = problems(run, meta, all_scores, cells, outputs)
    report.replication = replication.read(run.folder)
    higher = analysis.metrics[metric].higher_is_better if analysis and metric else True
    visuals = Visuals(Frames(run.folder, inputs, outputs,
                             ok_scores,
                             list(config.get("datasets", [])),
                             _scale(config, outputs), order, metrics, metric, higher),
                      assets, options.visuals)
    report.grids, report.extremes, report.kernels, report.gallery = visuals.build()
    report.notes += visuals.notes
    not_run, failed = problem_counts(report.problems)
    report.summary = {
        "techniques": len(set(outputs["upscaler"])),
        "datasets": len(set(inputs["dataset"]) | set(outputs["dataset"])),
        "domains": len(set(inputs["domain"]) | set(outputs["domain"])),
        "inputs": int((inputs["status"] == "ok").sum()),
        "outputs": int((outputs["status"] == "ok").sum()),
        "scores": len(ok_scores),
        "not_run": not_run,
        "failed": failed,
    }
    html_path, md_path = folder / "index.html", folder / "index.md"
    atomic_write_text(html_path, html.render(report))
    atomic_write_text(md_path, markdown.render(report))
    assets.prune()
    return Written(html_path, md_path, assets.root, time.perf_counter() - started, report)


