"""``srarena weights``: list, fetch, add, verify and locate the weight files plugins need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from .errors import fail
from .layout import Format, emit_json, format_option, json_option, wants_json

weights_app = typer.Typer(
    name="weights",
    help="Weight files: what each plugin needs, download, add by hand, verify, locate.",
    no_args_is_help=True,
)

_COLOURS = {"verified": "green", "recorded": "green", "missing": "yellow", "partial": "yellow",
            "unchecked": "yellow", "mismatch": "red", "invalid": "red"}
_SHA_LEGEND = (
    "sha256: published = given by the upstream; shipped = a shipped record (srarena's "
    "maintainers recorded it); first use = recorded here at first use (trust on first use); "
    "none yet = recorded at first download. Every later fetch and use is checked against it."
)


def _find(name: str) -> Any:
    from .. import weights

    try:
        return weights.find(name)
    except weights.UnknownWeights as exc:
        raise fail(exc, 2) from None


def _columns() -> list[Any]:
    from .layout import Column

    return [
        Column("file", "weight set / file", whole=True),
        Column("status", whole=True),
        Column("checksum", "sha256", priority=1, whole=True),
        Column("get", priority=1, whole=True),
        Column("source", priority=3, whole=True),
        Column("size", priority=4, whole=True, justify="right"),
        Column("used", "used by", priority=5, whole=True),
    ]


def _grouped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listing's cells: a line per weight set in bold (its files present of all, how it
    is got, where from, who uses it), then a line per file of it (state coloured, where the
    sha256 comes from, size)."""
    from rich.text import Text

    from ..weights.cache import CHECKSUM_WORD
    from .transfers import human_size

    cells: list[dict[str, Any]] = []
    for row in rows:
        if not cells or cells[-1]["set"] != row["weights"]:
            files = [r for r in rows if r["weights"] == row["weights"]]
            present = f"{sum(r['ok'] for r in files)}/{len(files)}"
            hosts = dict.fromkeys(host for r in files for host in r.get("hosts") or ())
            cells.append({"set": row["weights"], "file": Text(row["weights"], style="bold"),
                          "status": Text(present, style="bold"),
                          "get": row["set_get"].split(" ", 1)[0], "source": " ".join(hosts),
                          "used": " ".join(u.split(":", 1)[1] for u in row.get("users", ()))})
        cells.append({"set": row["weights"], "file": row["file"],
                      "status": Text(row["state"], style=_COLOURS[row["state"]]),
                      "checksum": CHECKSUM_WORD[row["checksum"]],
                      "size": human_size(row["size"])})
    return cells


def _print_listing(title: str, rows: list[dict[str, Any]], verbose: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.padding import Padding

    from .layout import print_table

    console = Console()
    print_table(console, _columns(), _grouped(rows), title=title,
                more="--verbose or --format json")
    manual: dict[str, str] = {}
    for row in rows:
        if row["get"] != "fetch" and not row["ok"]:
            manual.setdefault(row["weights"], f"{row['set_get']}: `{row['fix']}`")
    fetchable = {r["weights"] for r in rows if not r["ok"] and r["weights"] not in manual}
    if fetchable:
        console.print(f"{len(fetchable)} set(s) to download: [bold]srarena weights fetch "
                      "--all[/] (or fetch NAME)")
    if manual:
        console.print(f"{len(manual)} set(s) to add by hand (srarena weights add):")
        for name, how in manual.items():
            console.print(Padding(f"{escape(name)}: {escape(how)}", (0, 0, 0, 2)))
    bad = [r for r in rows if r["state"] in ("mismatch", "invalid", "partial", "unchecked")]
    for row in bad if not verbose else rows:
        console.print(f"[{_COLOURS[row['state']]}]{escape(row['weights'])}/"
                      f"{escape(row['file'])}[/]: {escape(row['detail'])}")
        if verbose:
            for source in row["sources"]:
                console.print(f"  from {escape(source)}")
    for row in rows:
        if row["conflicts"]:
            console.print(f"[red]warning[/]: {', '.join(row['conflicts'])} declare a different "
                          f"weight set under the taken name {row['weights']!r}; ignored")
    console.print(_SHA_LEGEND, style="dim")


def _fetch_one(ws: Any, progress: Any) -> list[Any]:
    from ..weights import download
    from .transfers import reporter

    return download.fetch(ws, reporter(progress, ws.name))


@weights_app.command("list")
def list_(
    output: Format = format_option(),
    as_json: bool = json_option(),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Every file's state and full source URLs."),
):
    """What each installed plugin needs, what is present, whether it is verified, and
    whether it can be fetched or must be added by hand."""
    from .. import weights

    rows = weights.overview()
    if wants_json(output, as_json):
        emit_json(rows)
        return
    if not rows:
        typer.echo("No installed plugin declares weight files.")
        return
    _print_listing(f"srarena weights (cache: {weights.home() / 'weights'})", rows, verbose)


@weights_app.command("fetch")
def fetch(
    names: list[str] = typer.Argument(None, help="Weight sets (or components) to download."),
    all_: bool = typer.Option(False, "--all", help="Every weight set installed plugins declare "
                                                   "that can be downloaded."),
):
    """Download weight files, resuming interrupted downloads and checking their sha256."""
    from rich.console import Console
    from rich.markup import escape

    from .. import weights
    from .transfers import download_progress

    if all_ == bool(names):
        raise fail(ValueError("give weight set names or --all (not both)"), 2)
    console = Console(stderr=True)
    if all_:
        ways = [(d.weights, weights.how_to_get(d.weights)) for d in weights.declared().values()]
        sets = [ws for ws, how in ways if how == "fetch"]
        for ws, how in ways:
            if how != "fetch" and weights.missing_files(ws):
                console.print(f"[yellow]{ws.name}[/]: {escape(how)}: "
                              f"`srarena weights add {ws.name} FILE...`", soft_wrap=True)
    else:
        sets = list(map(_find, names))
    failed = 0
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
    files: list[str] = typer.Argument(
        ..., help="Downloaded files, a folder holding them, or Hugging Face files "
                  "hf://OWNER/REPO/FILE[@REVISION] (downloaded first)."),
    new_name: str | None = typer.Option(
        None, "--name", help="With an importer: the name of the component the file(s) make."),
):
    """Install files downloaded by hand (or from the Hugging Face Hub), after checking them
    against the architecture.

    When NAME is an importer (``srarena plugins`` lists the plugins that have one), each
    file is handed to it: it installs the file and registers a component for it, named
    after the file or ``--name``.
    """
    from .. import weights
    from ..weights import validate

    importer = _importer(name)
    if importer is None and new_name is not None:
        raise fail(ValueError(f"--name applies to importers; {name!r} is a weight set "
                               "(its files keep their declared names)"), 2)
    ws = None if importer is not None else _find(name)
    with _hub_files(files) as paths:
        if importer is not None:
            raise typer.Exit(_import(importer, paths, new_name))
        try:
            results = validate.add(ws, [path for _, path in paths])
        except weights.WeightsError as exc:
            raise fail(exc) from None
    for st in results:
        typer.echo(f"{ws.name}/{st.filename}: installed, sha256 {st.sha256} ({st.describe()})")


@contextmanager
def _hub_files(args: list[str]) -> Iterator[list[tuple[str, Path]]]:
    """``(argument, local path)`` of each file argument, ``hf://`` ones downloaded first (with
    a progress bar) and deleted from their staging place afterwards."""
    from .. import weights
    from ..weights import hub
    from .transfers import download_progress, reporter

    if not any(map(hub.is_ref, args)):
        yield [(arg, Path(arg)) for arg in args]
        return
    staged: list[Path] = []
    paths: list[tuple[str, Path]] = []
    try:
        with download_progress() as progress:
            for arg in args:
                if not hub.is_ref(arg):
                    paths.append((arg, Path(arg)))
                    continue
                try:
                    path = hub.download(arg, reporter(progress, ""))
                except (ValueError, weights.WeightsError) as exc:
                    raise fail(exc) from None
                staged.append(path)
                paths.append((arg, path))
        yield paths
    finally:
        for path in staged:
            hub.discard(path)


def _importer(name: str) -> Any:
    """The importer registered under ``name`` (``srarena_register_importers``), or None."""
    from ..plugins import get_registry

    return get_registry().importers.get(name)


def _import(spec: Any, files: list[tuple[str, Path]], new_name: str | None) -> int:
    """Hand each file to an importer (``spec.load()(path, name) -> line``); 1 if one failed."""
    from .. import weights

    try:
        func = spec.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not raised
        typer.secho(f"error: the importer {spec.name} cannot be loaded: "
                    f"{type(exc).__name__}: {exc}", fg="red", err=True)
        return 1
    failed = 0
    for arg, path in files:
        try:
            line = func(path, new_name)
        except (ValueError, weights.WeightsError) as exc:
            typer.secho(f"error: {spec.name} refused {arg}: {exc}", fg="red", err=True)
            failed += 1
            continue
        typer.echo(line + (f" (downloaded from {arg})" if arg != str(path) else ""))
    return 1 if failed else 0


@weights_app.command("verify")
def verify(
    names: list[str] = typer.Argument(None, help="Weight sets to check (default: all)."),
    output: Format = format_option(),
    as_json: bool = json_option(),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Every file's state and full source URLs."),
):
    """Re-hash installed files and compare them with their published, shipped or recorded
    sha256."""
    from .. import weights

    try:
        rows = weights.overview(names or None, rehash=True)
    except weights.UnknownWeights as exc:
        raise fail(exc, 2) from None
    if wants_json(output, as_json):
        emit_json(rows)
    else:
        _print_listing("srarena weights verify", rows, verbose)
    if any(row["state"] in ("mismatch", "invalid") for row in rows):
        raise typer.Exit(1)


@weights_app.command("path")
def path(name: str = typer.Argument(..., help="Weight set (or component).")):
    """Print the cache folder of a weight set."""
    from .. import weights

    typer.echo(str(weights.folder(_find(name))))


def register(app: typer.Typer) -> None:
    app.add_typer(weights_app, name="weights")
