"""``srarena weights``: list, fetch, add, verify and locate the weight files plugins need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

weights_app = typer.Typer(
    name="weights",
    help="Weight files: what each plugin needs, download, add by hand, verify, locate.",
    no_args_is_help=True,
)

_COLOURS = {"verified": "green", "recorded": "green", "missing": "yellow", "partial": "yellow",
            "unchecked": "yellow", "mismatch": "red", "invalid": "red"}
_TOFU_NOTE = (
    "recorded: the plugin publishes no sha256 for this file, so srarena recorded the sha256 of "
    "the first copy installed (trust on first use) and checks every later use against it."
)


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {exc}", fg="red", err=True)
    return typer.Exit(code)


def _find(name: str) -> Any:
    from .. import weights

    try:
        return weights.find(name)
    except weights.UnknownWeights as exc:
        raise _fail(exc, 2) from None


def _status_table(title: str, rows: list[dict[str, Any]]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from .transfers import human_size

    table = Table(title=title)
    for column in ("weight set", "used by", "file", "size", "status", "source"):
        table.add_column(column)
    for row in rows:
        colour = _COLOURS[row["state"]]
        status = f"[{colour}]{row['state']}[/]: {escape(row['detail'])}"
        if row.get("fix"):
            status += f"\nfix: [bold]{row['fix']}[/]"
        table.add_row(
            row["weights"],
            "\n".join(row.get("users", ())),
            row["file"],
            human_size(row["size"]),
            status,
            row.get("installed_from") or "\n".join(row.get("sources", ())),
        )
    return table


def _fetch_one(ws: Any, progress: Any) -> list[Any]:
    from ..weights import download
    from .transfers import reporter

    return download.fetch(ws, reporter(progress, ws.name))


@weights_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")):
    """What each installed plugin needs, what is present, and whether it is verified."""
    from rich.console import Console

    from .. import weights

    rows = weights.overview()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = Console()
    if not rows:
        console.print("No installed plugin declares weight files.")
        return
    console.print(_status_table(f"srarena weights (cache: {weights.home() / 'weights'})", rows))
    for row in rows:
        if row["conflicts"]:
            console.print(f"[red]warning[/]: {', '.join(row['conflicts'])} declare a different "
                          f"weight set under the taken name {row['weights']!r}; ignored")
    if any(row["state"] == "recorded" for row in rows):
        console.print(_TOFU_NOTE)


@weights_app.command("fetch")
def fetch(
    names: list[str] = typer.Argument(None, help="Weight sets (or components) to download."),
    all_: bool = typer.Option(False, "--all", help="Every weight set installed plugins declare."),
):
    """Download weight files, resuming interrupted downloads and checking their sha256."""
    from rich.console import Console
    from rich.markup import escape

    from .. import weights
    from .transfers import download_progress

    if all_ == bool(names):
        raise _fail(ValueError("give weight set names or --all (not both)"), 2)
    sets = [d.weights for d in weights.declared().values()] if all_ else list(map(_find, names))
    failed = 0
    console = Console(stderr=True)
    with download_progress() as progress:
        for ws in sets:
            try:
                results = _fetch_one(ws, progress)
            except weights.WeightsError as exc:
                failed += 1
                progress.console.print(f"[red]{ws.name}[/]: {escape(str(exc))}", soft_wrap=True)
                continue
            for st in results:
                progress.console.print(
                    f"[green]{ws.name}/{st.filename}[/]: {st.state} ({st.describe()})"
                )
    if failed:
        console.print(f"[red]{failed} of {len(sets)} weight set(s) are not installed[/]")
        raise typer.Exit(1)


@weights_app.command("add")
def add(
    name: str = typer.Argument(
        ..., help="Weight set (or component) the files belong to, or an importer (e.g. "
                  "spandrel): then each file becomes a component of its own."),
    files: list[Path] = typer.Argument(..., help="Downloaded files, or a folder holding them."),
    new_name: str | None = typer.Option(
        None, "--name", help="With an importer: the name of the component the file(s) make."),
):
    """Install files downloaded by hand, after checking them against the architecture.

    When NAME is an importer (``srarena plugins`` lists the plugins that have one), each
    file is handed to it: it installs the file and registers a component for it, named
    after the file or ``--name``.
    """
    from .. import weights
    from ..weights import validate

    importer = _importer(name)
    if importer is not None:
        raise typer.Exit(_import(importer, files, new_name))
    if new_name is not None:
        raise _fail(ValueError(f"--name applies to importers; {name!r} is a weight set "
                               "(its files keep their declared names)"), 2)
    ws = _find(name)
    try:
        results = validate.add(ws, files)
    except weights.WeightsError as exc:
        raise _fail(exc) from None
    for st in results:
        typer.echo(f"{ws.name}/{st.filename}: installed, sha256 {st.sha256} ({st.describe()})")


def _importer(name: str) -> Any:
    """The importer registered under ``name`` (``srarena_register_importers``), or None."""
    from ..plugins import get_registry

    return get_registry().importers.get(name)


def _import(spec: Any, files: list[Path], new_name: str | None) -> int:
    """Hand each file to an importer (``spec.load()(path, name) -> line``); 1 if one failed."""
    from .. import weights

    try:
        func = spec.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not raised
        typer.secho(f"error: the importer {spec.name} cannot be loaded: "
                    f"{type(exc).__name__}: {exc}", fg="red", err=True)
        return 1
    failed = 0
    for path in files:
        try:
            line = func(Path(path), new_name)
        except (ValueError, weights.WeightsError) as exc:
            typer.secho(f"error: {spec.name} refused {path}: {exc}", fg="red", err=True)
            failed += 1
            continue
        typer.echo(line)
    return 1 if failed else 0


@weights_app.command("verify")
def verify(
    names: list[str] = typer.Argument(None, help="Weight sets to check (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Re-hash installed files and compare them with their declared or recorded sha256."""
    from rich.console import Console

    from .. import weights

    try:
        rows = weights.overview(names or None, rehash=True)
    except weights.UnknownWeights as exc:
        raise _fail(exc, 2) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        Console().print(_status_table("srarena weights verify", rows))
    if any(row["state"] in ("mismatch", "invalid") for row in rows):
        raise typer.Exit(1)


@weights_app.command("path")
def path(name: str = typer.Argument(..., help="Weight set (or component).")):
    """Print the cache folder of a weight set."""
    from .. import weights

    typer.echo(str(weights.folder(_find(name))))


def register(app: typer.Typer) -> None:
    app.add_typer(weights_app, name="weights")
