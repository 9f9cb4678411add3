"""``srarena plugins``: what is installed and whether it works."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import typer

from .layout import Format, emit_json, format_option, json_option, wants_json

if TYPE_CHECKING:
    from rich.text import Text

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
                               "reason": found.reason, "fix": found.fix})
        counts = Counter(c["status"] for c in components)
        if info.error:
            status = "failed"
        elif set(counts) <= {"ok"}:
            status = "ok"
        else:
            status = ", ".join(f"{n} {s}" if n == 1 else f"{n} {s.replace('needs', 'need', 1)}"
                               for s, n in counts.items() if s != "ok")
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


def _status_text(row: dict[str, Any]) -> Text:
    """ok (green), failed with its error (red), or how many need what (yellow)."""
    from rich.text import Text

    colour = {"ok": "green", "failed": "red"}.get(row["status"], "yellow")
    text = Text(row["status"], style=colour)
    if row["error"]:
        text.append(f"\n{row['error']}")
    return text


def print_plugins(rows: list[dict[str, Any]]) -> None:
    """The table fitted to the terminal, then what would make the rest run, by cause."""
    from rich.console import Console

    from .console import print_not_run
    from .layout import Column, print_table

    columns = [Column("plugin", whole=True),
               Column("distribution", priority=1, whole=True, merge_into="plugin"),
               Column("registers", whole=True), Column("status")]
    cells = [{"plugin": row["plugin"] + (" (built-in)" if row["builtin"] else ""),
              "distribution": f"{row['distribution']} {row['version']}",
              "registers": _registers_text(row["components"]), "status": _status_text(row)}
             for row in rows]
    console = Console(highlight=False)
    print_table(console, columns, cells, title="srarena plugins")
    pending = [c for row in rows for c in row["components"] if c["status"] != "ok"]
    print_not_run(console, pending, "Not ready here (each one: srarena plugins --format json)")


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins(output: Format = format_option(), as_json: bool = json_option()) -> None:
        """List installed plugins, what they register and whether it works."""
        rows = plugin_rows()
        if wants_json(output, as_json):
            emit_json(rows)
        else:
            print_plugins(rows)
