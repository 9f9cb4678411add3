"""``srarena plugins``: what is installed and whether it works."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import typer

LISTED = 6  # names shown per kind in the table before "… and N more"


def plugin_rows() -> list[dict[str, Any]]:
    """One row per plugin module: distribution, version, its components and their status."""
    from ..availability import availability
    from ..plugins import get_registry

    registry = get_registry()
    rows = []
    for info in registry.plugins:
        components = []
        for kind, name in info.registered:
            found = availability(getattr(registry, kind + "s")[name])
            components.append({"kind": kind, "name": name, "status": found.status,
                               "fix": found.fix})
        counts = Counter(c["status"] for c in components)
        if info.error:
            status = "failed"
        elif set(counts) <= {"ok"}:
            status = "ok"
        else:
            status = ", ".join(f"{n} {s}" for s, n in counts.items() if s != "ok")
        rows.append({
            "plugin": info.name, "distribution": info.distribution, "version": info.version,
            "builtin": info.builtin, "status": status, "error": info.error,
            "registers": [f"{c['kind']}:{c['name']}" for c in components],
            "components": components,
        })
    return rows


def _registers_text(components: list[dict[str, Any]]) -> str:
    """The names a plugin registers, per kind; those that work here first (a user's added
    model before a zoo's long list of entries that need weights)."""
    lines = []
    ready_first = sorted(components, key=lambda c: c["status"] != "ok")
    for kind in ("upscaler", "metric", "dataset", "importer"):
        names = [c["name"] for c in ready_first if c["kind"] == kind]
        if names:
            shown = ", ".join(names[:LISTED])
            more = f" … and {len(names) - LISTED} more" if len(names) > LISTED else ""
            lines.append(f"{kind}s: {shown}{more}")
    return "\n".join(lines)


def _status_text(row: dict[str, Any]) -> str:
    colour = {"ok": "green", "failed": "red"}.get(row["status"], "yellow")
    text = f"[{colour}]{row['status']}[/]"
    if row["error"]:
        return f"{text}\n{row['error']}"
    fixes = list(dict.fromkeys(c["fix"] for c in row["components"] if c["fix"]))
    shown = fixes[:3] + ([f"… {len(fixes) - 3} more: srarena metrics / weights list"]
                         if len(fixes) > 3 else [])
    return "\n".join([text, *shown])


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins(
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List installed plugins, what they register and whether it works."""
        rows = plugin_rows()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="srarena plugins")
        for column in ("plugin", "distribution", "version", "registers", "status"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["plugin"] + (" (built-in)" if row["builtin"] else ""),
                          row["distribution"], row["version"],
                          _registers_text(row["components"]), _status_text(row))
        Console().print(table)
