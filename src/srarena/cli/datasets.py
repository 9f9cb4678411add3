"""``srarena datasets``: the dataset zoo: list, fetch, add by hand, locate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .errors import fail
from .layout import Format, emit_json, format_option, json_option, wants_json

datasets_app = typer.Typer(
    name="datasets",
    help="The dataset zoo: benchmark datasets by name (list, fetch, add by hand, path).",
    no_args_is_help=True,
)

_COLOURS = {"installed": "green", "partial": "yellow", "missing": "yellow", "manual": "yellow"}


def _entry(name: str) -> Any:
    from ..datasets import zoo

    try:
        return zoo.find(name)
    except zoo.DatasetError as exc:
        raise fail(exc, 2) from None


@datasets_app.command("list")
def list_(output: Format = format_option(), as_json: bool = json_option(),
          verbose: bool = typer.Option(False, "--verbose", "-v",
                                       help="Full sources, licences and notes.")):
    """Every zoo entry: what it is, the -d names it provides, source, licence, size, state."""
    from rich.console import Console
    from rich.text import Text

    from ..datasets import zoo
    from .console import say
    from .layout import Column, print_table, short_source
    from .transfers import human_size

    rows = zoo.overview()
    if wants_json(output, as_json):
        emit_json(rows)
        return
    columns = [Column("name", "entry", whole=True), Column("provides", "-d", whole=True),
               Column("status", whole=True), Column("source", priority=1, whole=True),
               Column("licence", priority=3, merge_into="name")]
    if any(row["size"] for row in rows):
        columns.insert(3, Column("size", priority=2, whole=True, justify="right"))
    cells = [{"name": row["name"], "provides": "\n".join(row["provides"]),
              "status": Text(row["state"], style=_COLOURS[row["state"]]),
              "size": human_size(row["size"]) if row["size"] else "",
              "source": "\n".join(row["sources"] if verbose
                                  else [short_source(s) for s in row["sources"]]),
              "licence": row["licence"] if verbose else row["licence"].split(";")[0]}
             for row in rows]
    console = Console(highlight=False)
    print_table(console, columns, cells, title=f"srarena datasets (cache: {zoo.home()})",
                more="--verbose or --format json")
    for row in rows:
        if row["fix"] and row["state"] != "installed":
            say(console, Text.assemble((row["name"], "bold"), f": {row['fix']}"), 2)
        if verbose and row["note"]:
            say(console, Text(f"{row['name']}: {row['note']}", style="dim"), 2)
    if not verbose:
        say(console, Text("sources, licences, sha256 and notes in full: --verbose or "
                          "--format json", style="dim"))


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
        raise fail(ValueError("give entry names or --all (not both)"), 2)
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
        raise fail(exc) from None
    counts = ", ".join(f"{k} {v}" for k, v in record["counts"].items())
    typer.echo(f"{entry.name}: installed in {entry.data} ({counts}; sha256 {record['sha256']})")


@datasets_app.command("path")
def path(name: str = typer.Argument(..., help="Entry (or a -d name it provides).")):
    """Print the folder holding an entry's files."""
    typer.echo(str(_entry(name).data))


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
