"""The report as Markdown (GitHub-flavoured tables) for papers and READMEs.

It holds what the page holds except the gallery of every output; pictures are linked from
``assets/`` (PNG plots, thumbnails and crops), relative to ``index.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ..analysis.numbers import fmt
from . import replication
from .model import Board, Img, MetricSection, Report, setting_text

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKUP = re.compile(r"([\\`*_\[\]|#!~])")
_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def _c(value: Any) -> str:
    """Text shown as itself anywhere (a cell, a heading, alt text): no raw HTML (``<`` and
    friends as entities), no Markdown markup (its characters escaped), one line."""
    text = _BREAKS.sub(" ", str(value))
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    return _MARKUP.sub(r"\\\1", text)


def _code(value: Any) -> str:
    """Text as an inline code span, whatever backticks it holds (safe in a table cell)."""
    text = _BREAKS.sub(" ", str(value)).replace("|", "\\|")
    fence = "`" * (max((len(r) for r in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _url(src: str) -> str:
    return quote(src, safe="/.-_~")


def _pic(img: Img | None, alt: str, href: str | None = None) -> str:
    if img is None:
        return ""
    picture = f"![{_c(alt)}]({_url(img.src)})"
    return f"[{picture}]({_url(href)})" if href else picture


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(_c(h) for h in header) + " |",
             "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _ci(low: float, high: float) -> str:
    return f" [{fmt(low)}, {fmt(high)}]" if math.isfinite(low) and math.isfinite(high) else ""


def _board(board: Board) -> str:
    rows = []
    for group, label in board.rows:
        cells = []
        for column in board.columns:
            cell = board.cells.get((label, column))
            if cell is None:
                cells.append("–")
                continue
            mean = f"**{fmt(cell.mean)}**" if cell.best else fmt(cell.mean)
            cells.append(f"{mean}{_ci(cell.low, cell.high)} #{int(cell.rank)}")
        rows.append([_c(f"{group} / {label}" if group else label), *cells])
    return f"#### {_c(board.title)}\n\n" + _table([board.row_header, *board.columns], rows)


def _metric(section: MetricSection) -> str:
    rows = [[r["rank"], f"**{_c(r['upscaler'])}**", f"{fmt(r['mean'])}"
             f"{_ci(r['ci_low'], r['ci_high'])}", f"{r['wins']} / {r['datasets']}",
             fmt(r["mean_rank"], 3), r["images"]] for r in section.overall]
    about = ", ".join(x for x in (section.kind, section.protocol) if x)
    text = (f"### {_c(section.name)} ({section.arrow} {_c(section.direction)})\n\n"
            + (f"{_c(about)}\n\n" if about else "") + "#### Overall\n\n"
            + _table(["#", "technique", "mean [95 % CI]", "datasets won", "mean rank",
                      "images"], rows)
            + "\n" + _board(section.datasets) + "\n" + _board(section.domains))
    notes = "".join(f"\n> {_c(n)}\n" for n in section.notes)
    plots = "".join(f"\n**{_c(plot.title)}.** {_c(plot.caption)}\n\n"
                    f"{_pic(plot.png, plot.title)}\n" for plot in section.plots)
    return text + notes + plots


def _grids(report: Report) -> str:
    parts = []
    for grid in report.grids:
        header = [p.label for p in grid.panels]
        if not header:
            continue
        thumbs = [_pic(p.thumb, p.label, p.full) or _c(p.caption) for p in grid.panels]
        crops = [_pic(p.crop, f"{p.label} (zoomed crop)") for p in grid.panels]
        captions = [_c(p.caption) for p in grid.panels]
        notes = "".join(f"> {_c(n)}\n\n" for n in grid.notes)
        parts.append(f"### {_c(grid.dataset)} / {_c(grid.image_id)} ({_c(grid.domain)})\n\n"
                     f"Chosen because: {_c(grid.why)}.\n\n{notes}"
                     + _table(header, [thumbs, crops, captions]))
    if not parts:
        return ""
    return ("## Visual comparison\n\nEach picture with the same zoomed region below it "
            "(nearest-neighbour enlargement).\n\n" + "\n".join(parts))


def _extremes(report: Report) -> str:
    if not report.extremes:
        return ""
    rows = []
    for item in report.extremes:
        for label, shots in (("best", item.best), ("worst", item.worst)):
            cells = [f"{_pic(s.thumb, s.image_id, s.full)}<br>{fmt(s.value)} "
                     f"{_c(s.dataset)}/{_c(s.image_id)}" for s in shots]
            rows.append([f"**{_c(item.upscaler)}** {label}", " ".join(cells) or "–"])
    return (f"## Best and worst images by {_c(report.metric)}\n\n"
            + _table(["technique", "images"], rows))


def _kernels(report: Report) -> str:
    if not report.kernels:
        return ""
    rows = []
    for item in report.kernels:
        pictures = [f"{_pic(img, name)}<br>{_c(name)} ({size})"
                    for name, img, size in item.shown]
        rows.append([_c(item.upscaler), f"{_c(item.dataset)}/{_c(item.image_id)}",
                     " ".join(pictures)])
    return ("## Estimated blur kernels\n\nEach kernel scaled from its smallest to its largest "
            "weight; the dataset's true kernel last when known.\n\n"
            + _table(["technique", "image", "kernels"], rows))


def _replication(report: Report) -> str:
    rows = report.replication
    if not rows:
        return ""
    return (f"## Replication\n\n{_c(replication.INTRO)} {_c(replication.counts(rows))}.\n\n"
            + _table(replication.HEADER, ([_c(c) for c in replication.cells(r)] for r in rows)))


def _runtime(report: Report) -> str:
    if not report.runtime:
        return ""
    rows = [[f"**{_c(r['upscaler'])}**", _c(r["mode"]), _c(r["chain"]),
             _c(r["protocol"] or "–"), _c(r["device"]),
             r["ok"], r["failed"], fmt(r["mean_s"], 3), fmt(r["median_s"], 3),
             fmt(r["total_s"], 3), fmt(r["peak_mb"]), fmt(r["mean_peak_mb"])]
            for r in report.runtime]
    return "## Runtime and memory\n\n" + _table(
        ["technique", "mode", "chain", "protocol", "device", "outputs", "failed", "s / image",
         "median s", "total s", "peak MB (max)", "peak MB (mean)"], rows)


def _problems(report: Report) -> str:
    if not report.problems:
        return "## Skipped and failed\n\nNothing was skipped and nothing failed.\n"
    rows = [[_c(p["kind"]), _c(p["status"]), _c(p["upscaler"]), _c(p["metric"]),
             _c(", ".join(p["datasets"])), p["count"],
             _c(", ".join(p["images"]) + (f" … (+{p['more']})" if p["more"] else "")),
             _c(p["reason"]), _code(p["fix"]) if p["fix"] else ""]
            for p in report.problems]
    return "## Skipped and failed\n\n" + _table(
        ["kind", "status", "technique", "metric", "datasets", "count", "images", "reason",
         "fix"], rows)


def _settings(report: Report) -> str:
    def value(v: Any) -> str:
        text, is_json = setting_text(v)
        return _code(text) if is_json else _c(text)

    env = {k: v for k, v in report.environment.items() if k != "plugins"}
    text = ("## Configuration and environment\n\n"
            + _table(["setting", "value"], [[_c(k), value(v)] for k, v in report.config.items()])
            + "\n" + _table(["environment", "value"], [[_c(k), value(v)] for k, v in env.items()]))
    for d in report.datasets:
        text += "\n" + _table([f"dataset {d.get('source', '')}", "value"],
                              [[_c(k), value(v)] for k, v in d.items() if k != "source"])
    return text


def render(report: Report) -> str:
    """The whole Markdown document."""
    s = report.summary
    parts = [f"# {_c(report.title)}\n\nRun folder {_code(report.run)}, made "
             f"{_c(report.created)}. "
             f"{s.get('techniques', 0)} techniques, {s.get('datasets', 0)} datasets, "
             f"{s.get('domains', 0)} domains, {s.get('inputs', 0)} input images, "
             f"{s.get('outputs', 0)} outputs, {s.get('scores', 0)} scores; "
             f"{s.get('not_run', 0)} components not run here (needs weights, a GPU, ...: see "
             f"Skipped and failed), {s.get('failed', 0)} failed.\n"]
    parts += [f"> {_c(n)}\n" for n in report.notes]
    if report.verdict:
        parts.append("## Verdict\n\n" + _table(
            ["metric", "best", "datasets won", "mean rank", "runner-up"],
            [[_c(r["metric"]), f"**{_c(r['best'])}**", f"{r['wins']} of {r['datasets']}",
              fmt(r["mean_rank"], 3), _c(r.get("runner_up", ""))] for r in report.verdict]))
    if report.metrics:
        parts.append("## Leaderboards\n\nMean of each technique with its 95 % bootstrap CI and "
                     "its rank (#1 = best); the best in bold.\n\n"
                     + "\n".join(_metric(m) for m in report.metrics))
    parts += [_replication(report), _runtime(report),
              _grids(report), _extremes(report), _kernels(report), _problems(report),
              _settings(report)]
    return "\n".join(p for p in parts if p)
