"""Show an :class:`~srarena.analysis.core.Analysis`: rich tables in the terminal, or every table
as Markdown, CSV or JSON for reuse."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from .core import Analysis, MetricAnalysis

from .numbers import fmt, fmt_p, p_is

FORMATS = ("table", "markdown", "csv", "json")


# ---------------------------------------------------------------------------- terminal
def print_analysis(analysis: Analysis, console: Console, *, detail: bool = False) -> None:
    """Print every metric's study tables, the statistics beyond the study, and the verdict."""
    from rich.rule import Rule

    if analysis.source:
        console.print(f"[dim]scores: {analysis.source}[/]")
    for metric in analysis.metrics.values():
        console.print(Rule(f"[bold]{metric.metric}[/] ({metric.direction})"))
        _print_metric(metric, console, detail)
    console.print(Rule("[bold]Verdict[/]"))
    _print_verdict(analysis.verdict, console)


def _table(title: str, columns: list[str], caption: str | None = None) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    return table


def _print_metric(m: MetricAnalysis, console: Console, detail: bool) -> None:
    techniques = list(m.ranking["upscaler"])
    best = dict(zip(m.per_dataset["dataset"], m.per_dataset["best"], strict=True))
    worst = dict(zip(m.per_dataset["dataset"], m.per_dataset["worst"], strict=True))
    ci = "ci_low" in m.stats
    table = _table("Mean ± std per dataset" + (" [95 % bootstrap CI]" if ci else ""),
                   ["dataset", *techniques], "bold green: best of the dataset; red: worst")
    cells = {(r.dataset, r.upscaler): r for r in m.stats.itertuples(index=False)}
    previous = None
    for (domain, dataset), _ in m.stats.groupby(["domain", "dataset"], sort=True):
        if domain != previous:
            if previous is not None:
                table.add_section()
            table.add_row(f"[bold]{domain}[/]", *([""] * len(techniques)))
            previous = domain
        row = [f"  {dataset}"]
        for t in techniques:
            r = cells.get((dataset, t))
            if r is None:
                row.append("–")
                continue
            text = f"{fmt(r.mean)} ± {fmt(r.std, 2)}"
            if ci:
                text += f"\n[dim][{fmt(r.ci_low)}, {fmt(r.ci_high)}][/]"
            style = "bold green" if best[dataset] == t else "red" if worst[dataset] == t else ""
            row.append(f"[{style}]{text}[/]" if style else text)
        table.add_row(*row)
    console.print(table)

    table = _table("Best and worst technique per dataset",
                   ["dataset", "domain", "best", "mean", "worst", "mean"])
    for r in m.per_dataset.itertuples(index=False):
        table.add_row(r.dataset, r.domain, r.best, fmt(r.best_mean), r.worst, fmt(r.worst_mean))
    console.print(table)

    table = _table("Best and worst (dataset, technique) mean per domain",
                   ["domain", "best", "mean", "worst", "mean"])
    for r in m.per_domain.itertuples(index=False):
        table.add_row(r.domain, f"{r.best_dataset} / {r.best_technique}", fmt(r.best_mean),
                      f"{r.worst_dataset} / {r.worst_technique}", fmt(r.worst_mean))
    console.print(table)

    table = _table("Mean per domain (all images of the domain)", ["domain", *techniques])
    dm = {(r.domain, r.upscaler): r for r in m.domain_means.itertuples(index=False)}
    for domain in sorted(m.domain_means["domain"].unique()):
        row = [domain]
        for t in techniques:
            r = dm.get((domain, t))
            text = "–" if r is None else fmt(r.mean)
            if r is not None and "ci_low" in m.domain_means:
                text += f" [dim][{fmt(r.ci_low)}, {fmt(r.ci_high)}][/]"
            row.append(text)
        table.add_row(*row)
    console.print(table)

    _print_improvement(m, console)
    _print_behaviour(m, console)
    if m.pairwise is not None:
        _print_tests(m, console, detail)
    for note in m.notes:
        console.print(f"[yellow]note:[/] {note}")


def _print_improvement(m: MetricAnalysis, console: Console) -> None:
    if m.improvement.empty:
        return
    for r in m.improvement_means.itertuples(index=False):
        rows = m.improvement[m.improvement["winner"] == r.winner]
        table = _table(f"I% of {r.winner} over {r.other} on the datasets {r.winner} wins",
                       ["dataset", "domain", r.winner, r.other, "I%"])
        for x in rows.itertuples(index=False):
            table.add_row(x.dataset, x.domain, fmt(x.winner_mean), fmt(x.other_mean),
                          f"{x.improvement_pct:.2f}")
        mean = "–" if not math.isfinite(r.mean_improvement_pct) else (
            f"{r.mean_improvement_pct:.2f}")
        if getattr(r, "ci_low", None) is not None and math.isfinite(r.ci_low):
            mean += f" [dim][{r.ci_low:.2f}, {r.ci_high:.2f}][/]"
        table.add_section()
        table.add_row(f"[bold]mean[/] ({r.datasets} datasets)", "", "", "", f"[bold]{mean}[/]")
        console.print(table)


def _print_behaviour(m: MetricAnalysis, console: Console) -> None:
    if m.behaviour_pair is None or m.behaviour.empty:
        return
    a, b = m.behaviour_pair
    n = int(m.behaviour_images["rank"].max()) if not m.behaviour_images.empty else 10
    table = _table(f"Behaviour of {a} and {b}: images common (C) and not common (N) to both "
                   f"among each one's {n} best (B) and {n} worst (W)",
                   ["dataset", "domain", "|C_B|", "|N_B|", "|C_W|", "|N_W|"])
    for r in m.behaviour.itertuples(index=False):
        table.add_row(r.dataset, r.domain, str(r.C_B), str(r.N_B), str(r.C_W), str(r.N_W))
    table.add_section()
    for label, func in (("mean", "mean"), ("std", "std")):
        table.add_row(f"[bold]{label}[/]", "",
                      *(fmt(getattr(m.behaviour[c], func)(), 3)
                        for c in ("C_B", "N_B", "C_W", "N_W")))
    console.print(table)
    rows = list(m.behaviour_correlation.itertuples(index=False))
    table = _table(f"Correlation of the W and B counts over {len(m.behaviour)} datasets",
                   ["statistic", *(f"{r.x} vs {r.y}" for r in rows)])
    for label, stat, p in (("Kendall's τ", "kendall_tau", "kendall_p"),
                           ("Pearson's r", "pearson_r", "pearson_p"),
                           ("Shapiro–Wilk W of the W counts", "shapiro_w_x", "shapiro_p_x"),
                           ("Shapiro–Wilk W of the B counts", "shapiro_w_y", "shapiro_p_y")):
        table.add_row(label, *(f"{fmt(getattr(r, stat))} ({p_is(getattr(r, p))})"
                               for r in rows))
    console.print(table)
    for note in {n for n in m.behaviour_correlation["note"] if n}:
        console.print(f"[yellow]note:[/] {note}")


def _print_tests(m: MetricAnalysis, console: Console, detail: bool) -> None:
    pairwise = m.pairwise
    significant = int(pairwise["significant"].sum())
    table = _table(
        "Per-image tests, best vs runner-up per dataset (Holm-corrected over the dataset's "
        f"{len(pairwise) // max(1, pairwise['dataset'].nunique())} pairs)",
        ["dataset", "best", "runner-up", "test", "n", "p (Holm)", "effect", "differ"],
        f"{significant} of {len(pairwise)} pairs differ at α = "
        f"{m.friedman['alpha'].iloc[0]:g}; effect: rank-biserial (paired) or Cliff's δ "
        "(unpaired), > 0 when the best is better",
    )
    means = m.stats.set_index(["dataset", "upscaler"])["mean"]
    for r in m.per_dataset.itertuples(index=False):
        ranked = means.loc[r.dataset].sort_values(ascending=not m.higher_is_better)
        if len(ranked) < 2:
            continue
        first, second = ranked.index[0], ranked.index[1]
        hit = pairwise[(pairwise["dataset"] == r.dataset)
                       & pairwise["technique"].isin([first, second])
                       & pairwise["other"].isin([first, second])].iloc[0]
        effect = hit["effect"] if hit["technique"] == first else -hit["effect"]
        verdict = "[green]yes[/]" if hit["significant"] else "no"
        if hit["note"]:
            verdict += f" [yellow]({hit['note']})[/]"
        n = str(hit["n1"]) if hit["test"] == "wilcoxon" else f"{hit['n1']}+{hit['n2']}"
        table.add_row(r.dataset, first, second, hit["test"], n, fmt_p(hit["p_holm"]),
                      fmt(effect, 3), verdict)
    console.print(table)
    if detail:
        table = _table("All pairwise per-image tests", ["dataset", "technique", "other", "test",
                                                        "n", "p (Holm)", "effect", "better",
                                                        "note"])
        for r in pairwise.itertuples(index=False):
            n = str(r.n1) if r.test == "wilcoxon" else f"{r.n1}+{r.n2}"
            table.add_row(r.dataset, r.technique, r.other, r.test, n, fmt_p(r.p_holm),
                          fmt(r.effect, 3), r.better or "–", r.note)
        console.print(table)

    f = m.friedman.iloc[0]
    summary = (f"Friedman over {f['datasets']} datasets × {f['techniques']} techniques: "
               f"χ² = {fmt(f['chi2'])}, {p_is(f['p'])}; Iman–Davenport F = "
               f"{fmt(f['iman_davenport_f'])}, {p_is(f['iman_davenport_p'])}; "
               f"Kendall's W = {fmt(f['kendalls_w'], 3)}; Nemenyi CD = {fmt(f['cd'], 3)}")
    console.print(summary)
    table = _table("Mean rank over datasets (1 = best)", ["technique", "datasets won",
                                                          "mean rank", "CD group"])
    groups = {t: [] for t in m.ranking["upscaler"]}
    for i, clique in enumerate(m.cd_cliques):
        for t in clique:
            groups[t].append(chr(ord("a") + i))
    for r in m.ranking.sort_values("mean_rank").itertuples(index=False):
        table.add_row(r.upscaler, str(r.wins), fmt(r.mean_rank, 3),
                      "".join(groups[r.upscaler]) or "–")
    console.print(table)
    console.print("[dim]techniques sharing a CD-group letter are not significantly different "
                  "(Nemenyi)[/]")


def _print_verdict(verdict: pd.DataFrame, console: Console) -> None:
    table = _table("Best technique per metric and overall",
                   ["metric", "best", "datasets won", "mean rank", "runner-up"],
                   "best: most datasets won, then the lowest mean rank")
    for r in verdict.itertuples(index=False):
        table.add_row(r.metric, f"[bold green]{r.best}[/]", f"{r.wins} of {r.datasets}",
                      fmt(r.mean_rank, 3), r.runner_up)
    console.print(table)


# ---------------------------------------------------------------------------- files
def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def to_json(analysis: Analysis) -> str:
    """Every table (records), the notes and the source, as one JSON document."""
    tables = {name: [{k: _plain(v) for k, v in row.items()}
                     for row in frame.to_dict(orient="records")]
              for name, frame in analysis.tables().items()}
    document = {
        "source": analysis.source,
        "directions": {m: "higher" if a.higher_is_better else "lower"
                       for m, a in analysis.metrics.items()},
        "notes": {m: a.notes for m, a in analysis.metrics.items()},
        "tables": tables,
    }
    return json.dumps(document, indent=1, ensure_ascii=False)


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        cells = [fmt(v, 6).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_markdown(analysis: Analysis) -> str:
    """Every table under a heading, then the notes."""
    parts = ["# srarena analysis", ""]
    if analysis.source:
        parts += [f"Scores: {analysis.source}", ""]
    for name, frame in analysis.tables().items():
        parts += [f"## {name}", "", frame_to_markdown(frame), ""]
    for metric, a in analysis.metrics.items():
        if a.notes:
            parts += [f"## notes: {metric}", ""] + [f"- {n}" for n in a.notes] + [""]
    return "\n".join(parts)


def to_csv(analysis: Analysis) -> str:
    """Every table as CSV, each after a ``# <name>`` line."""
    parts = []
    for name, frame in analysis.tables().items():
        parts.append(f"# {name}\n{frame.to_csv(index=False)}")
    return "\n".join(parts)


def write_tables(analysis: Analysis, folder: Path, form: str) -> list[Path]:
    """Write the tables in ``form`` under ``folder``: one CSV per table, or one document."""
    folder.mkdir(parents=True, exist_ok=True)
    if form == "csv":
        paths = []
        for name, frame in analysis.tables().items():
            path = folder / (name.replace("/", "__") + ".csv")
            frame.to_csv(path, index=False)
            paths.append(path)
        return paths
    path = folder / ("analysis.md" if form == "markdown" else "analysis.json")
    path.write_text(to_markdown(analysis) if form == "markdown" else to_json(analysis),
                    encoding="utf-8")
    return [path]
