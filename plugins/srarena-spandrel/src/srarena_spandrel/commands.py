"""``srarena spandrel list|remove``: the added models and the zoo (no torch here)."""

from __future__ import annotations

import shutil

import typer

from srarena.kit import ListFormat, format_option, json_option

from . import manifest, zoo
from .facts import precision_ok, summary
from .protocols import default_labels

spandrel_app = typer.Typer(
    name="spandrel",
    help="spandrel models: the ones you added (srarena weights add spandrel FILE --name NAME) "
         "and the curated zoo.",
    no_args_is_help=True,
)


def rows() -> list[dict]:
    """One row per added model and per zoo model."""
    found = []
    for model, entry in sorted(manifest.read().items()):
        files = sorted(entry["files"], key=lambda f: f["scale"])
        found.append({
            "upscaler": f"spandrel:{model}", "kind": "added",
            "scales": [f["scale"] for f in files],
            "models": [summary(f) for f in files],
            "precisions": ["fp32"] + [p for p in ("fp16", "bf16")
                                      if all(precision_ok(f, p) for f in files)],
            "sources": [f.get("source", "") for f in files],
            "licence": entry.get("licence") or "the file's own",
            "protocols": default_labels(f"spandrel:{model}", files),
        })
    for item in zoo.ZOO:
        found.append({
            "upscaler": f"spandrel:{item.name}", "kind": "zoo", "scales": [item.facts["scale"]],
            "models": [summary(item.facts)], "precisions": ["fp32"],
            "sources": [s.describe() for s in item.sources], "licence": item.licence,
            "hosts": list(dict.fromkeys(_host(s) for s in item.sources)),
            "protocols": default_labels(f"spandrel:{item.name}", [item.facts]),
        })
    return found


def _host(source) -> str:
    """Where a zoo file comes from, short: its host, and "(by hand)" for a browser's."""
    from srarena.kit import short_source

    if source.kind == "huggingface":
        return f"huggingface.co/{source.repo}"
    return short_source(source.url) + (" (by hand)" if source.kind == "manual" else "")


@spandrel_app.command("list")
def list_(output: ListFormat = format_option(), as_json: bool = json_option()):
    """The models you added and the zoo: architecture, scales, protocol, precisions, where
    from."""
    from srarena.kit import emit_json, wants_json

    found = rows()
    if wants_json(output, as_json):
        emit_json(found)
        return
    from rich.console import Console

    from srarena.kit import ListColumn, print_table

    columns = [ListColumn("upscaler", whole=True),
               ListColumn("model", "model (per scale), protocol"),
               ListColumn("precisions", priority=2, whole=True),
               ListColumn("from", priority=1, whole=True)]
    cells = [{"upscaler": row["upscaler"],
              "model": "\n".join([*row["models"], *(f"runs as {p}" for p in row["protocols"])]),
              "precisions": ", ".join(row["precisions"]),
              "from": "\n".join(row["hosts"] if row["kind"] == "zoo"
                                else [f"added: {s}" for s in row["sources"]])}
             for row in found]
    console = Console(highlight=False)
    print_table(console, columns, cells, title="spandrel models",
                caption=f"manifest of the added models: {manifest.path()}")


@spandrel_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="An added model (NAME or spandrel:NAME)."),
    scale: int | None = typer.Option(None, "--scale", help="Remove only this scale's file."),
):
    """Forget an added model (or one scale of it) and delete its files from the cache."""
    from srarena.kit import weights_folder

    model = name.removeprefix("spandrel:")
    models = manifest.read()
    if model not in models:
        typer.secho(f"error: no added model {model!r}; see `srarena spandrel list`", fg="red",
                    err=True)
        raise typer.Exit(1)
    entry = models[model]
    folder = weights_folder(manifest.spec(model, entry).weights)
    keep = [f for f in entry["files"] if scale is not None and f["scale"] != scale]
    if scale is not None and len(keep) == len(entry["files"]):
        typer.secho(f"error: spandrel:{model} has no x{scale} file", fg="red", err=True)
        raise typer.Exit(1)
    if keep:
        for facts in entry["files"]:
            if facts["scale"] == scale:
                (folder / facts["filename"]).unlink(missing_ok=True)
        models[model] = {**entry, "files": keep}
    else:
        del models[model]
        shutil.rmtree(folder, ignore_errors=True)
    manifest.write(models)
    typer.echo(f"spandrel:{model}: removed" + (f" its x{scale} file" if keep else ""))
