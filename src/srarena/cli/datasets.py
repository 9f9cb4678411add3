"""``srarena datasets``: the dataset zoo: list, fetch, add by hand, locate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

datasets_app = typer.Typer(
    name="datasets",
    help="The dataset zoo: benchmark datasets by name (list, fetch, add by hand, path).",
    no_args_is_help=True,
)

_COLOURS = {"installed": "green", "partial": "yellow", "missing": "yellow", "manual": "yellow"}


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {exc}", fg="red", err=True)
    return typer.Exit(code)


def _entry(name: str) -> Any:
    from ..datasets import zoo

    try:
        return zoo.find(name)
    except zoo.DatasetError as exc:
        raise _fail(exc, 2) from None


@datasets_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")):
    """Every zoo entry: what it is, the -d names it provides, source, licence, size, state."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..datasets import zoo
    from .transfers import human_size

    rows = zoo.overview()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"srarena datasets (cache: {zoo.home()})")
    for column in ("entry", "-d", "source", "licence", "size / sha256", "status"):
        table.add_column(column)
    for row in rows:
        counts = ", ".join(f"{k} {v}" for k, v in row["counts"].items())
        source = "\n".join(row["sources"]) + (f"\nkaggle {row['handle']}" if row["handle"] else "")
        sha = f"{row['sha256'][:16]}… ({row['sha256_origin']})" if row["sha256"] else \
            "no published sha256: recorded at the first download"
        status = f"[{_COLOURS[row['state']]}]{row['state']}[/]"
        if row["fix"]:
            status += f"\nfix: [bold]{escape(row['fix'])}[/]"
        table.add_row(f"[bold]{row['name']}[/]\n{escape(row['title'])}\n{counts}",
                      "\n".join(row["provides"]), escape(source), escape(row["licence"]),
                      f"{human_size(row['size'])}\n{sha}", status)
    console = Console()
    console.print(table)
    for row in rows:
        if row["note"]:
            console.print(f"[bold]{row['name']}[/]: {escape(row['note'])}")


@datasets_app.command("fetch")
def fetch(
    names: list[str] = typer.Argument(None, help="Entries (or the -d names they provide)."),
    all_: bool = typer.Option(False, "--all", help="Every entry that can be downloaded."),
    force: bool = typer.Option(False, "--force", help="Download again even if installed."),
):
    """Download, check (sha256), extract safely, lay out and count zoo entries."""
    from rich.markup import escape

    from ..datasets import zoo
    from .transfers import download_progress, reporter

    if all_ == bool(names):
        raise _fail(ValueError("give entry names or --all (not both)"), 2)
    chosen = [e for e in zoo.ENTRIES.values() if e.kind != "manual"] if all_ \
        else [_entry(name) for name in names]
    entries = list({e.name: e for e in chosen}.values())
    failed = 0
    with download_progress() as progress:
        for entry in entries:
            try:
                record = zoo.fetch(entry, reporter(progress, entry.name), force=force)
            except zoo.DatasetError as exc:
                failed += 1
                progress.console.print(f"[red]{entry.name}[/]: {escape(str(exc))}",
                                       soft_wrap=True)
                continue
            counts = ", ".join(f"{k} {v}" for k, v in record.get("counts", {}).items())
            progress.console.print(f"[green]{entry.name}[/]: installed in {entry.data} "
                                   f"({counts}; sha256 {record.get('sha256', '?')[:16]}…)")
    if failed:
        typer.secho(f"{failed} of {len(entries)} dataset(s) are not installed", fg="red",
                    err=True)
        raise typer.Exit(1)


@datasets_app.command("add")
def add(
    name: str = typer.Argument(..., help="Entry whose licence forbids automatic download."),
    folder: Path = typer.Argument(..., help="The folder you downloaded."),
):
    """Install a dataset downloaded by hand (e.g. Manga109), checked and counted."""
    from ..datasets import zoo

    entry = _entry(name)
    try:
        record = zoo.add(entry, folder)
    except zoo.DatasetError as exc:
        raise _fail(exc) from None
    counts = ", ".join(f"{k} {v}" for k, v in record["counts"].items())
    typer.echo(f"{entry.name}: installed in {entry.data} ({counts}; sha256 {record['sha256']})")


@datasets_app.command("path")
def path(name: str = typer.Argument(..., help="Entry (or a -d name it provides).")):
    """Print the folder holding an entry's files."""
    typer.echo(str(_entry(name).data))


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
