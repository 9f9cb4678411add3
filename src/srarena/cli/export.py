"""``srarena export``: a run's tables as CSV or Parquet files."""

from __future__ import annotations

from pathlib import Path

import typer

TABLES = ("inputs", "cells", "outputs", "scores")


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        run: Path = typer.Argument(..., help="Run folder."),
        fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
        out: Path | None = typer.Option(None, "--out", help="Folder (default: RUN/export)."),
    ) -> None:
        """Write the run's inputs, cells, outputs and scores tables."""
        if fmt not in ("csv", "parquet"):
            raise typer.BadParameter("format must be csv or parquet")
        for path in export_run(run, fmt, out):
            typer.echo(path)


def export_run(run_path: Path, fmt: str, out: Path | None = None) -> list[Path]:
    """Write each table of a run as ``<table>.<fmt>``; return the paths written."""
    from ..store import Run

    run = Run.open(run_path)
    out = out or run.folder / "export"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        frame = run.scores(all_rows=True) if name == "scores" else getattr(run, name)()
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    return written
