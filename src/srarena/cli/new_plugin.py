"""``srarena new-plugin``: start a plugin package that installs and passes its tests."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("new-plugin")
    def new_plugin(
        name: str = typer.Argument(..., help="Plugin name, e.g. 'mytech' (gives srarena-mytech)."),
        kind: str = typer.Option("upscaler", "--kind", help="upscaler, metric or dataset."),
        out: Path = typer.Option(Path("."), "--out", help="Parent folder."),
    ) -> None:
        """Write a plugin package: pyproject with the entry point, a minimal implementation,
        tests that run srarena's conformance checks, and a README."""
        from .scaffold import ScaffoldError
        from .scaffold import new_plugin as write

        try:
            root = write(name, kind, out)
        except ScaffoldError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"wrote {root}\nnext: pip install -e '{root}[test]' && pytest {root}/tests")
