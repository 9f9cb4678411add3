"""``srarena score``: score image files with metrics."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        images: list[Path] = typer.Argument(..., help="Images to score."),
        metric: list[str] = typer.Option(..., "-m", "--metric", help="Metric (repeat)."),
        reference: list[Path] = typer.Option(
            [], "-r", "--reference",
            help="HR ground truth for full-reference metrics: one per image, or a folder "
                 "holding files of the same names.",
        ),
        scale: int = typer.Option(0, "--scale", help="Border cropped by PSNR/SSIM (pixels)."),
        device: str = typer.Option("auto", "--device"),
        fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    ) -> None:
        """Print each image's score for each metric; refusals are listed with their reason."""
        raise typer.Exit(_score(images, metric, reference, scale, device, fmt))


def _references(images: list[Path], reference: list[Path]) -> list[Path | None]:
    if not reference:
        return [None] * len(images)
    if len(reference) == 1 and reference[0].is_dir():
        return [reference[0] / image.name for image in images]
    if len(reference) != len(images):
        raise typer.BadParameter("give one --reference per image, or one folder")
    return list(reference)


def _score(images: list[Path], metrics: list[str], reference: list[Path], scale: int,
           device: str, fmt: str) -> int:
    import json
    import sys

    from rich.console import Console
    from rich.table import Table

    from ..engine.environment import resolve_device
    from ..engine.instances import metric_context, open_metric
    from ..engine.scoring import ScoreOutcome, score_batch
    from ..imageio import load_image
    from ..plugins import get_registry
    from ..status import Status

    console = Console(stderr=fmt != "table")
    registry = get_registry()
    refs = _references(images, reference)
    loaded, problems = {}, {}
    for path in images:
        try:
            loaded[path] = load_image(path)
        except Exception as exc:  # noqa: BLE001
            problems[path] = str(exc)
    ok = [p for p in images if p in loaded]
    hr = [load_image(r) if r is not None and r.is_file() else None
          for p, r in zip(images, refs, strict=True) if p in loaded]
    rows = []
    for name in metrics:
        spec = registry.metric(name)
        try:
            metric = open_metric(spec, metric_context(spec, resolve_device(device), scale))
        except Exception as exc:  # noqa: BLE001 - report the metric, keep the others
            console.print(f"[red]{name}[/]: cannot be used: {exc}")
            rows += [{"image": str(p), "metric": name, "value": None, "status": Status.FAILED,
                      "reason": str(exc)} for p in images]
            continue
        outcomes = dict(zip(ok, score_batch(metric, [loaded[p] for p in ok], hr), strict=True))
        for path in images:
            outcome = outcomes.get(path) or ScoreOutcome(None, Status.FAILED, problems.get(path))
            rows.append({"image": str(path), "metric": name, "value": outcome.value,
                         "status": outcome.status, "reason": outcome.reason})
        metric.close()
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table()
        for column in ("image", "metric", "value", "status / reason"):
            table.add_column(column)
        for row in rows:
            value = "" if row["value"] is None else f"{row['value']:.4f}"
            note = row["status"] + (f": {row['reason']}" if row["reason"] else "")
            table.add_row(row["image"], row["metric"], value, note)
        console.print(table)
    return 0 if all(r["status"] == Status.OK for r in rows) else 1
