"""The report as one HTML page: no script, no network, pictures in the sibling ``assets/``.

Every picture carries its width and height and loads lazily, and the gallery of every output
sits in closed ``<details>`` elements, so a run of thousands of images opens at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import quote

from ..analysis.numbers import fmt
from . import replication
from .model import (
    Board,
    GallerySection,
    Grid,
    Img,
    KernelSet,
    MetricSection,
    Report,
    Shot,
    setting_text,
)

CSS = """
:root { --ink: #1d232b; --mute: #5d6875; --line: #dde2e8; --soft: #f4f6f8; --accent: #2457a6;
  --good: #dff3e4; --good-ink: #17652d; --bad: #fbe4e4; --bad-ink: #9b1c1c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #fff; }
header { padding: 22px 32px 12px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 24px; }
.sub { color: var(--mute); font-size: 13px; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; }
.chip { background: #fff; border: 1px solid var(--line); border-radius: 999px; padding: 3px 12px;
  font-size: 13px; }
.chip b { font-size: 15px; }
.chip.alert { border-color: #e5a3a3; background: var(--bad); color: var(--bad-ink); }
nav { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.96);
  border-bottom: 1px solid var(--line); padding: 8px 32px; font-size: 14px; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; white-space: nowrap; }
main { padding: 8px 32px 40px; max-width: 1600px; }
section { margin-top: 28px; scroll-margin-top: 44px; }
h3 { scroll-margin-top: 44px; }
h2 { font-size: 20px; border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
h3 { font-size: 17px; margin: 22px 0 8px; }
h4 { font-size: 15px; margin: 16px 0 6px; color: var(--mute); }
a { color: var(--accent); }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0 10px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: var(--soft); text-align: left; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group td { background: #eef1f5; font-weight: 600; }
td.best { background: var(--good); color: var(--good-ink); font-weight: 600; }
td.worst { background: var(--bad); color: var(--bad-ink); }
.ci { display: block; color: var(--mute); font-size: 11.5px; font-weight: 400; }
.rank { display: inline-block; min-width: 22px; margin-left: 6px; padding: 0 4px;
  border-radius: 4px; background: #fff; border: 1px solid var(--line); font-size: 11px;
  text-align: center; color: var(--mute); }
.note { background: #fff8e1; border-left: 4px solid #e0a800; padding: 6px 10px; margin: 8px 0;
  font-size: 13.5px; }
.muted { color: var(--mute); font-size: 13px; }
.plots { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; }
figure.plot { max-width: 100%; }
figure.plot img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12.5px; color: var(--mute); max-width: 640px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.panel { width: min-content; }
.panel .label { font-weight: 600; font-size: 13.5px; margin-bottom: 3px; white-space: nowrap; }
.panel.lr .label, .panel.hr .label { color: var(--mute); }
.frame { position: relative; line-height: 0; border: 1px solid var(--line); }
.frame img { display: block; }
.box { position: absolute; border: 2px solid #ff3b30; box-shadow: 0 0 0 1px #fff;
  pointer-events: none; }
.zoom { margin-top: 6px; line-height: 0; border: 1px solid var(--line); }
.zoom img { display: block; image-rendering: pixelated; }
.panel .cap { font-size: 12px; color: var(--mute); margin-top: 3px; max-width: 100%; }
.missing { display: flex; align-items: center; justify-content: center; background: var(--bad);
  color: var(--bad-ink); font-size: 12px; padding: 8px; text-align: center; }
.shots { display: flex; flex-wrap: wrap; gap: 10px; }
.shot { font-size: 12px; width: min-content; }
.shot img { display: block; border: 1px solid var(--line); }
.shot .v { font-weight: 600; }
.extreme { display: grid; grid-template-columns: max-content 1fr 1fr; gap: 8px 20px;
  align-items: start; }
.kernels { display: flex; flex-wrap: wrap; gap: 10px; }
.kernels img { image-rendering: pixelated; border: 1px solid var(--line); display: block; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
table.gallery td { padding: 3px; text-align: center; font-size: 11.5px; }
table.gallery td.id { text-align: left; font-size: 12.5px; max-width: 180px;
  word-break: break-all; }
pre { background: var(--soft); padding: 10px; overflow-x: auto; font-size: 12.5px; }
code { font-size: 12.5px; }
footer { padding: 16px 32px; color: var(--mute); font-size: 12.5px;
  border-top: 1px solid var(--line); }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _url(src: str) -> str:
    return quote(src, safe="/.-_~")


def _num(value: Any, digits: int = 4) -> str:
    return _e(fmt(value, digits))


def _img(img: Img, alt: str) -> str:
    return (f'<img src="{_url(img.src)}" width="{img.width}" height="{img.height}" '
            f'alt="{_e(alt)}" loading="lazy" decoding="async">')


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{_url(href)}">{inner}</a>' if href else inner


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead><tbody>{body}' \
           "</tbody></table></div>"


def _td(value: Any, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f"<td{klass}>{value}</td>"


def _notes(notes: Iterable[str]) -> str:
    return "".join(f'<div class="note">{_e(n)}</div>' for n in notes)


def _replication(report: Report) -> str:
    rows = report.replication
    if not rows:
        return ""
    body = _table(replication.HEADER,
                  ([f"<td>{_e(c)}</td>" for c in replication.cells(r)] for r in rows))
    return _section("replication", "Replication", body,
                    _e(f"{replication.INTRO} {replication.counts(rows)}."))


def _section(anchor: str, title: str, body: str, intro: str = "") -> str:
    """A top-level section: ``title`` (HTML) as its heading, ``intro`` (HTML) as a muted
    paragraph under it, then ``body``."""
    intro = f'<p class="muted">{intro}</p>' if intro else ""
    return f'<section id="{anchor}"><h2>{title}</h2>{intro}{body}</section>'


# ------------------------------------------------------------------- sections
def _summary(report: Report) -> str:
    s = report.summary
    labels = [("techniques", "techniques"), ("datasets", "datasets"), ("domains", "domains"),
              ("inputs", "input images"), ("outputs", "outputs"), ("scores", "scores")]
    chips = [f'<span class="chip"><b>{_e(s.get(k, 0))}</b> {label}</span>' for k, label in labels]
    chips.append(f'<span class="chip" title="needs weights, a GPU, ...: see Skipped and failed">'
                 f'<b>{_e(s.get("not_run", 0))}</b> <a href="#problems">not run here</a></span>')
    failed = s.get("failed", 0)
    chips.append(f'<span class="chip{" alert" if failed else ""}"><b>{_e(failed)}</b> '
                 f'<a href="#problems">failed</a></span>')
    return f'<div class="chips">{"".join(chips)}</div>'


def _verdict(report: Report) -> str:
    if not report.verdict:
        return ""
    rows = [[_td(_e(r["metric"])), _td(f"<b>{_e(r['best'])}</b>"),
             _td(f"{_e(r['wins'])} of {_e(r['datasets'])}", "num"),
             _td(_num(r["mean_rank"], 3), "num"), _td(_e(r.get("runner_up", "")))]
            for r in report.verdict]
    return _section("verdict", "Verdict",
                    _table(["metric", "best", "datasets won", "mean rank", "runner-up"], rows),
                    "The best technique wins the most datasets; the mean rank (1 = best) "
                    "breaks ties.")


def _cell(cell: Any, worst: bool) -> str:
    if cell is None:
        return _td("–", "num")
    ci = ("" if not (math.isfinite(cell.low) and math.isfinite(cell.high))
          else f'<span class="ci">[{_num(cell.low)}, {_num(cell.high)}]</span>')
    cls = "num best" if cell.best else "num worst" if worst else "num"
    return _td(f"{_num(cell.mean)}<span class=\"rank\">#{int(cell.rank)}</span>{ci}", cls)


def _board(board: Board) -> str:
    rows = []
    group = None
    for row_group, label in board.rows:
        if row_group and row_group != group:
            rows.append([f'<td colspan="{len(board.columns) + 1}">{_e(row_group)}</td>'])
            group = row_group
        present = [board.cells[(label, c)] for c in board.columns if (label, c) in board.cells]
        last = max((c.rank for c in present), default=0)
        cells = []
        for column in board.columns:
            cell = board.cells.get((label, column))
            cells.append(_cell(cell, cell is not None and len(present) > 1 and cell.rank == last
                               and not cell.best))
        rows.append([_td(_e(label))] + cells)
    head = "".join(f"<th>{_e(c)}</th>" for c in [board.row_header, *board.columns])
    body = "".join(
        ('<tr class="group">' if len(r) == 1 else "<tr>") + "".join(r) + "</tr>" for r in rows)
    return (f"<h4>{_e(board.title)}</h4>"
            f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def _metric(section: MetricSection) -> str:
    rows = [[_td(_e(r["rank"]), "num"), _td(f"<b>{_e(r['upscaler'])}</b>"),
             _td(f"{_num(r['mean'])}<span class=\"ci\">[{_num(r['ci_low'])}, "
                 f"{_num(r['ci_high'])}]</span>", "num" + (" best" if r["rank"] == 1 else "")),
             _td(f"{_e(r['wins'])} / {_e(r['datasets'])}", "num"),
             _td(_num(r["mean_rank"], 3), "num"), _td(_e(r["images"]), "num")]
            for r in section.overall]
    overall = _table(["#", "technique", f"mean {section.arrow} [95 % CI]", "datasets won",
                      "mean rank", "images"], rows)
    about = ", ".join(x for x in (section.kind, section.protocol) if x)
    return (f'<h3 id="metric-{_e(section.name)}">{_e(section.name)} <span class="muted">'
            f"{section.arrow} {_e(section.direction)}</span></h3>"
            + (f'<p class="muted">{_e(about)}</p>' if about else "")
            + f"<h4>Overall</h4>{overall}{_board(section.datasets)}{_board(section.domains)}"
            + _notes(section.notes))


def _leaderboards(report: Report) -> str:
    if not report.metrics:
        return _section("leaderboards", "Leaderboards", "<p>No successful scores in this run.</p>")
    return _section("leaderboards", "Leaderboards", "".join(_metric(s) for s in report.metrics),
                    "Mean score of each technique, with its 95 % bootstrap confidence interval "
                    "below and its rank (#1 = best) beside it; green: best, red: worst.")


def _plots(report: Report) -> str:
    parts = []
    for section in report.metrics:
        if not section.plots:
            continue
        figures = []
        for plot in section.plots:
            width = round(plot.png.width * 96 / 150)
            height = round(plot.png.height * 96 / 150)
            shown = Img(plot.svg, width, height)
            figures.append(f'<figure class="plot"><h4>{_e(plot.title)}</h4>'
                           + _link(plot.svg, _img(shown, plot.title))
                           + f"<figcaption>{_e(plot.caption)}</figcaption></figure>")
        parts.append(f"<h3>{_e(section.name)}</h3><div class=\"plots\">{''.join(figures)}</div>")
    if not parts:
        return ""
    return _section("plots", "Plots", "".join(parts))


def _runtime(report: Report) -> str:
    if not report.runtime:
        return ""
    rows = [[_td(f"<b>{_e(r['upscaler'])}</b>"), _td(_e(r["mode"])), _td(_e(r["chain"])),
             _td(_e(r["protocol"] or "–")), _td(_e(r["device"])), _td(_e(r["ok"]), "num"),
             _td(_e(r["failed"]), "num" + (" worst" if r["failed"] else "")),
             _td(_num(r["mean_s"], 3), "num"), _td(_num(r["median_s"], 3), "num"),
             _td(_num(r["total_s"], 3), "num"), _td(_num(r["peak_mb"], 4), "num"),
             _td(_num(r["mean_peak_mb"], 4), "num")] for r in report.runtime]
    table = _table(["technique", "mode", "chain", "protocol", "device", "outputs", "failed",
                    "s / image",
                    "median s", "total s", "peak MB (max)", "peak MB (mean)"], rows)
    scoring = ""
    if report.scoring:
        scoring = "<h4>Scores per metric</h4>" + _table(
            ["metric", "ok", "refused", "failed"],
            [[_td(_e(r["metric"])), _td(_e(r["ok"]), "num"), _td(_e(r["refused"]), "num"),
              _td(_e(r["failed"]), "num")] for r in report.scoring])
    return _section("runtime", "Runtime and memory", table + scoring,
                    "Seconds per output image (the whole scale chain) and the peak memory the "
                    "process reached while making it; the protocol is how the upscaler says "
                    "it ran its model (e.g. official:real-esrgan), where it says.")


def _panel(panel: Any, box: Any) -> str:
    if panel.thumb is None:
        return (f'<div class="panel {panel.kind}"><div class="label">{_e(panel.label)}</div>'
                f'<div class="missing" style="width:180px;height:120px">{_e(panel.caption)}'
                "</div></div>")
    overlay = ""
    if box is not None:
        x0, y0, x1, y1 = box
        overlay = (f'<span class="box" style="left:{x0 * 100:.3f}%;top:{y0 * 100:.3f}%;'
                   f'width:{(x1 - x0) * 100:.3f}%;height:{(y1 - y0) * 100:.3f}%"></span>')
    zoom = (f'<div class="zoom">{_img(panel.crop, panel.label + " (zoomed crop)")}</div>'
            if panel.crop else "")
    return (f'<div class="panel {panel.kind}"><div class="label">{_e(panel.label)}</div>'
            f'<div class="frame">{_link(panel.full, _img(panel.thumb, panel.label))}{overlay}'
            f'</div>{zoom}<div class="cap">{_e(panel.caption)}</div></div>')


def _grid(grid: Grid) -> str:
    panels = "".join(_panel(p, grid.box) for p in grid.panels)
    return (f"<h3>{_e(grid.dataset)} / {_e(grid.image_id)} "
            f'<span class="muted">{_e(grid.domain)}</span></h3>'
            f'<p class="muted">Chosen because: {_e(grid.why)}. The red square is the zoomed '
            "region, shown below each picture with nearest-neighbour enlargement.</p>"
            + _notes(grid.notes) + f'<div class="grid">{panels}</div>')


def _grids(report: Report) -> str:
    if not report.grids:
        return ""
    return _section("grids", "Visual comparison", "".join(_grid(g) for g in report.grids))


def _shot(shot: Shot, label: str, metric: str | None) -> str:
    if shot.thumb is None:
        picture = f'<div class="missing" style="width:120px;height:90px">{_e(shot.problem)}</div>'
    else:
        picture = _link(shot.full, _img(shot.thumb, f"{shot.upscaler} {shot.image_id}"))
    value = (f'<div><span class="v">{_num(shot.value)}</span> {_e(metric)}</div>'
             if shot.value is not None and metric else "")
    return (f'<div class="shot">{picture}{value}<div class="muted">{_e(label)}</div></div>')


def _extremes(report: Report) -> str:
    if not report.extremes:
        return ""
    rows = []
    for item in report.extremes:
        best = "".join(_shot(s, f"{s.dataset}/{s.image_id}", report.metric) for s in item.best)
        worst = "".join(_shot(s, f"{s.dataset}/{s.image_id}", report.metric) for s in item.worst)
        rows.append(f"<div><b>{_e(item.upscaler)}</b></div><div class=\"shots\">{best}</div>"
                    f'<div class="shots">{worst}</div>')
    return _section("extremes", f"Best and worst images by {_e(report.metric)}",
                    '<div class="extreme"><div></div><h4>best</h4><h4>worst</h4>'
                    + "".join(rows) + "</div>",
                    "Each technique's best and worst outputs over the whole run, as in the "
                    "study's visual analysis; click a picture for the full image.")


def _kernel_set(item: KernelSet) -> str:
    figures = "".join(f'<figure>{_img(img, name)}<figcaption>{_e(name)} ({_e(size)})'
                      "</figcaption></figure>" for name, img, size in item.shown)
    return (f"<h4>{_e(item.upscaler)} · {_e(item.dataset)}/{_e(item.image_id)}</h4>"
            f'<div class="kernels">{figures}</div>')


def _kernels(report: Report) -> str:
    if not report.kernels:
        return ""
    return _section("kernels", "Estimated blur kernels",
                    "".join(_kernel_set(k) for k in report.kernels),
                    "Kernels that techniques estimated (one per step of the scale chain), each "
                    "scaled from its own smallest to its largest weight (dark to bright); the "
                    "dataset's true kernel beside them when the dataset knows it.")


def _gallery_section(section: GallerySection, metric: str | None) -> str:
    rows = []
    for image_id, shots in section.rows:
        cells = [_td(_e(image_id), "id")]
        for column in section.columns:
            shot = shots.get(column)
            if shot is None:
                cells.append(_td(""))
            elif shot.thumb is None:
                cells.append(_td(f'<span class="muted">{_e(shot.problem)}</span>'))
            else:
                value = "" if shot.value is None else f"<div>{_num(shot.value)}</div>"
                cells.append(_td(_link(shot.full, _img(shot.thumb, f"{column} {image_id}"))
                                 + value))
        rows.append(cells)
    count = len(section.rows)
    table = _table(["image", *(_e(c) for c in section.columns)], rows, "gallery")
    return (f"<details><summary>{_e(section.dataset)} <span class=\"muted\">"
            f"({_e(section.domain)}, {count} image{'s' if count != 1 else ''}"
            f"{', ' + _e(metric) + ' under each' if metric else ''})</span></summary>"
            f"{table}</details>")


def _gallery(report: Report) -> str:
    if not report.gallery:
        return ""
    return _section("gallery", "Gallery",
                    "".join(_gallery_section(s, report.metric) for s in report.gallery),
                    "Every output, one dataset at a time (open a dataset to load its "
                    "thumbnails).")


def _problems(report: Report) -> str:
    if not report.problems:
        return _section("problems", "Skipped and failed",
                        "<p>Nothing was skipped and nothing failed.</p>")
    rows = []
    for p in report.problems:
        images = ", ".join(p["images"]) + (f" … (+{p['more']})" if p["more"] else "")
        rows.append([_td(_e(p["kind"])), _td(_e(p["status"])), _td(_e(p["upscaler"])),
                     _td(_e(p["metric"])), _td(_e(", ".join(p["datasets"]))),
                     _td(_e(p["count"]), "num"), _td(_e(images)), _td(_e(p["reason"])),
                     _td(f"<code>{_e(p['fix'])}</code>" if p["fix"] else "")])
    return _section("problems", "Skipped and failed",
                    _table(["kind", "status", "technique", "metric", "datasets", "count",
                            "images", "reason", "fix"], rows),
                    "Grouped by what failed and why; the full list is in "
                    "<code>srarena export</code>'s tables.")


def _value(value: Any) -> str:
    text, is_json = setting_text(value)
    return f"<code>{_e(text)}</code>" if is_json else _e(text)


def _settings(report: Report) -> str:
    config = _table(["setting", "value"],
                    [[_td(_e(k)), _td(_value(v))] for k, v in report.config.items()])
    env = {k: v for k, v in report.environment.items() if k != "plugins"}
    plugins = report.environment.get("plugins") or {}
    used = set(report.config.get("upscalers", [])) | {
        f"metric:{m}" for m in report.config.get("metrics", [])}
    env["components used"] = {k: v for k, v in plugins.items() if k in used}
    environment = _table(["", "value"], [[_td(_e(k)), _td(_value(v))] for k, v in env.items()])
    datasets = "".join(
        "<h4>" + _e(d.get("source", "dataset")) + (f" {_e(d['argument'])}" if d.get("argument")
                                                   else "") + "</h4>"
        + _table(["", "value"], [[_td(_e(k)), _td(_value(v))] for k, v in d.items()
                                 if k not in ("source", "argument")])
        for d in report.datasets)
    raw = json.dumps({"config": report.config, "environment": report.environment,
                      "datasets": report.datasets}, indent=2, default=str, ensure_ascii=False)
    return _section("run", "Configuration and environment",
                    f"<h3>Configuration</h3>{config}<h3>Environment</h3>{environment}"
                    f"<h3>Datasets</h3>{datasets or '<p>–</p>'}"
                    f"<details><summary>Raw records (JSON)</summary><pre>{_e(raw)}</pre></details>")


def render(report: Report) -> str:
    """The whole page."""
    links = [("verdict", "Verdict", report.verdict), ("leaderboards", "Leaderboards", True),
             ("plots", "Plots", any(s.plots for s in report.metrics)),
             ("replication", "Replication", report.replication),
             ("runtime", "Runtime", report.runtime), ("grids", "Visual comparison", report.grids),
             ("extremes", "Best & worst", report.extremes),
             ("kernels", "Kernels", report.kernels), ("gallery", "Gallery", report.gallery),
             ("problems", "Skipped & failed", True), ("run", "Configuration", True)]
    nav = "".join(f'<a href="#{i}">{label}</a>' for i, label, shown in links if shown)
    body = "".join([
        _notes(report.notes), _verdict(report), _leaderboards(report), _plots(report),
        _replication(report), _runtime(report),
        _grids(report), _extremes(report), _kernels(report), _gallery(report),
        _problems(report), _settings(report)])
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><link rel=\"icon\" href=\"data:,\">"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{_e(report.title)}</h1><div class=\"sub\">run folder "
        f"<code>{_e(report.run)}</code> · made {_e(report.created)}"
        + (f" · images chosen by <b>{_e(report.metric)}</b>" if report.metric else "")
        + f"</div>{_summary(report)}</header><nav>{nav}</nav><main>{body}</main>"
        "<footer>Made by srarena from the run's results database; pictures in "
        "<code>assets/</code> beside this page, full-size outputs in the run folder.</footer>"
        "</body></html>\n")
