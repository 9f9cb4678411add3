"""``srarena metrics``: every registered metric, its direction and whether it can run."""

from __future__ import annotations

import json

import typer


def metric_rows(pattern: str | None = None) -> list[dict]:
    """One row per metric: name, kind, direction, min size, protocol and readiness.

    ``status`` is ok, needs extra (a missing package; ``fix`` says what to install) or needs
    weights (``fix`` is the command that installs them).
    """
    import fnmatch

    from .. import weights
    from ..availability import availability, missing_requirements
    from ..plugins import get_registry

    registry = get_registry()
    rows = []
    for name in sorted(registry.metrics):
        if pattern and not fnmatch.fnmatchcase(name, pattern):
            continue
        spec = registry.metrics[name]
        found = availability(spec)
        if spec.weights is None:
            state = "pyiqa cache" if spec.options.get("pyiqa_name") else "none declared"
        else:
            state = "missing" if weights.missing_files(spec.weights) else "present"
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
            "fix": found.fix,
            "plugin": getattr(registry.plugin_of("metric", name), "distribution", None),
        })
    return rows


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics(
        pattern: str | None = typer.Argument(
            None, help="Only names matching this glob, e.g. 'maniqa*' or 'pyiqa:*'."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
        protocols: bool = typer.Option(
            False, "--protocols", help="Show each metric's protocol in the table."),
    ) -> None:
        """List every metric: kind, direction, min size and whether it can run here."""
        rows = metric_rows(pattern)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="srarena metrics")
        table.add_column("metric", no_wrap=True)
        columns = ["kind", "better", "min px", "weights", "status"]
        for column in columns + (["protocol"] if protocols else []):
            table.add_column(column)
        for row in rows:
            colour = "green" if row["status"] == "ok" else "yellow"
            cells = [row["name"], "FR" if row["kind"] == "full-reference" else "NR",
                     row["direction"], str(row["min_size"]), row["weights_state"],
                     f"[{colour}]{row['status']}[/]"]
            table.add_row(*cells, *([row["protocol"]] if protocols else []))
        console = Console()
        console.print(table)
        fixes = sorted({row["fix"] for row in rows if row["fix"]})
        if fixes:
            console.print("To make the others usable:\n" + "\n".join(f"  {f}" for f in fixes),
                          markup=False, highlight=False)
        if not rows:
            typer.echo(f"no metric matches {pattern!r}", err=True)
            raise typer.Exit(1)
