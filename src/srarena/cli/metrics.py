"""``srarena metrics``: every registered metric, its direction and whether it can run."""

from __future__ import annotations

from typing import Any

import typer

from .layout import Format, emit_json, format_option, json_option, wants_json

FIRST_USE = "needs weights (first use)"
"""A metric that can run here but whose library downloads its files the first time."""


def weights_state(spec: Any) -> str:
    """present / missing (a declared weight set), cached / on first use (files its library
    fetches itself), or none."""
    from .. import weights
    from ..availability import first_use_done

    if spec.weights is not None:
        return "missing" if weights.missing_files(spec.weights) else "present"
    if spec.downloads_on_first_use:
        return "cached" if first_use_done(spec) else "on first use"
    return "none"


def metric_rows(pattern: str | None = None) -> list[dict]:
    """One row per metric: name, kind, direction, min size, protocol and readiness.

    ``status`` is ok, needs extra (a missing package; ``fix`` says what to install) or needs
    weights (``fix`` is the command that installs them); ``ready`` is false also for a metric
    whose library has not fetched its files yet (it does so on first use, when online).
    """
    import fnmatch

    from ..availability import availability, missing_requirements
    from ..plugins import get_registry

    registry = get_registry()
    rows = []
    for name in sorted(registry.metrics):
        if pattern and not fnmatch.fnmatchcase(name, pattern):
            continue
        spec = registry.metrics[name]
        found = availability(spec)
        state = weights_state(spec)
        rows.append({
            "name": name,
            "kind": spec.kind,
            "direction": spec.direction,
            "min_size": spec.min_size,
            "protocol": spec.protocol,
            "weights": spec.weights.name if spec.weights else None,
            "weights_state": state,
            "missing_requirements": missing_requirements(spec),
            "status": found.status,
            "ready": found.ok and state != "on first use",
            "reason": found.reason,
            "fix": found.fix,
            "plugin": getattr(registry.plugin_of("metric", name), "distribution", None),
        })
    return rows


def status_text(row: dict[str, Any]) -> Any:
    """ready (green), needs weights (first use) or what is missing (yellow)."""
    from rich.text import Text

    if row["ready"]:
        return Text("ready", style="green")
    return Text(FIRST_USE if row["status"] == "ok" else str(row["status"]), style="yellow")


def print_metrics(rows: list[dict[str, Any]], protocols: bool) -> None:
    """The table of ``rows`` fitted to the terminal, then what makes the others ready."""
    from rich.console import Console
    from rich.text import Text

    from .console import say
    from .layout import Column, print_table

    columns = [Column("name", "metric", whole=True), Column("kind", whole=True),
               Column("better", priority=1, whole=True),
               Column("min_px", "min px", priority=2, whole=True, justify="right"),
               Column("weights", priority=3, whole=True), Column("status")]
    if protocols:
        columns.append(Column("protocol"))
    cells = [{"name": row["name"], "kind": "FR" if row["kind"] == "full-reference" else "NR",
              "better": row["direction"], "min_px": str(row["min_size"]),
              "weights": row["weights_state"], "status": status_text(row),
              "protocol": row["protocol"]} for row in rows]
    console = Console(highlight=False)
    print_table(console, columns, cells, title="srarena metrics")
    fixes = sorted({row["fix"] for row in rows if row["fix"]})
    if fixes:
        console.print("To make the others usable:")
        for fix in fixes:
            say(console, Text(fix), 2)
    first_use = sum(row["status"] == "ok" and not row["ready"] for row in rows)
    if first_use:
        say(console, Text(f"{first_use} metrics download their files the first time they "
                          "run (pyiqa's, into srarena's home)."))


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics(
        pattern: str | None = typer.Argument(
            None, help="Only names matching this glob, e.g. 'maniqa*' or 'pyiqa:*'."),
        output: Format = format_option(),
        as_json: bool = json_option(),
        protocols: bool = typer.Option(
            False, "--protocols", help="Show each metric's protocol in the table."),
    ) -> None:
        """List every metric: kind, direction, min size and whether it can run here."""
        rows = metric_rows(pattern)
        if wants_json(output, as_json):
            emit_json(rows)
        elif rows:
            print_metrics(rows, protocols)
        if not rows:
            typer.echo(f"no metric matches {pattern!r}", err=True)
            raise typer.Exit(1)
