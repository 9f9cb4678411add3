"""``srarena plugins``: what is installed and whether it works."""

from __future__ import annotations

import json

import typer


def plugin_rows() -> list[dict]:
    """One row per plugin module: distribution, version, components and status."""
    from .. import weights
    from ..plugins import get_registry

    registry = get_registry()
    rows = []
    for info in registry.plugins:
        notes: list[str] = []
        if info.error:
            status = "failed"
            notes.append(info.error)
        else:
            status = "ok"
            for kind, name in info.registered:
                spec = getattr(registry, kind + "s")[name]
                ws = getattr(spec, "weights", None)
                if ws is not None and weights.missing_files(ws):
                    status = "needs weights"
                    notes.append(f"{name}: `{weights.fix_command(ws)}`")
                resources = getattr(spec, "resources", None)
                if resources is not None and resources.needs_gpu and status == "ok":
                    status = "needs a GPU"
                missing = _missing_requirements(getattr(spec, "requires", ()))
                if missing:
                    status = "needs extra"
                    hint = getattr(spec, "install_hint", "") or f"pip install {missing[0]}"
                    notes.append(f"{name}: missing {', '.join(missing)}: {hint}")
        rows.append(
            {
                "plugin": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "registers": [f"{kind}:{name}" for kind, name in info.registered],
                "status": status,
                "notes": notes,
            }
        )
    return rows


def _missing_requirements(modules: tuple[str, ...]) -> list[str]:
    import importlib.util

    return [m for m in modules if importlib.util.find_spec(m) is None]


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins(
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List installed plugins, what they register and whether they work."""
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
            colour = {"ok": "green", "failed": "red"}.get(row["status"], "yellow")
            status = f"[{colour}]{row['status']}[/]"
            if row["notes"]:
                status += "\n" + "\n".join(row["notes"])
            table.add_row(
                row["plugin"] + (" (built-in)" if row["builtin"] else ""),
                row["distribution"],
                row["version"],
                "\n".join(row["registers"]),
                status,
            )
        Console().print(table)
