"""``srarena report``: a run as an HTML page (and Markdown) with tables, plots and images."""

from __future__ import annotations

from pathlib import Path

import typer


def _split(values: list[str] | None) -> list[str]:
    """Image ids given repeated and/or comma-separated."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        run: Path = typer.Argument(..., help="Run folder (or its results.sqlite)."),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Folder for index.html, index.md and assets/ "
            "(default: RUN/report)."),
        open_page: bool = typer.Option(False, "--open",
                                       help="Open the page in the web browser."),
        metric: str | None = typer.Option(
            None, "--metric", "-m", help="Metric that picks the images: grids, best and worst, "
            "gallery values (default: the run's first metric with scores)."),
        images: list[str] | None = typer.Option(
            None, "--images", "-i", help="Images for the visual grids, DATASET/ID or ID, "
            "comma-separated or repeated (default: per dataset, the image on which the "
            "techniques differ most)."),
        per_dataset: int = typer.Option(1, "--per-dataset", min=0,
                                        help="Grid images chosen per dataset by default."),
        top: int = typer.Option(3, "--top", min=0,
                                help="Best and worst images shown per technique."),
        gallery: bool = typer.Option(True, "--gallery/--no-gallery",
                                     help="Thumbnails of every output, per dataset."),
        plots: bool = typer.Option(True, "--plots/--no-plots",
                                   help="Plots (need matplotlib: srarena[plots])."),
        bootstrap: int = typer.Option(2000, "--bootstrap", min=0,
                                      help="Bootstrap resamples of the CIs (0: none)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    ) -> None:
        """Write a run's report: one HTML page that opens from disk, and its Markdown twin."""
        from ..report import ReportError, ReportOptions, VisualOptions, build_report

        options = ReportOptions(
            metric=metric, plots=plots, n_resamples=bootstrap, seed=seed,
            visuals=VisualOptions(images=_split(images), per_dataset=per_dataset, extremes=top,
                                  gallery=gallery))
        try:
            written = build_report(run, out, options)
        except ReportError as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{written.html}\n{written.markdown}")
        typer.echo(f"report written in {written.seconds:.1f} s", err=True)
        if open_page:
            import webbrowser

            if not webbrowser.open(written.html.resolve().as_uri()):
                typer.echo(f"no web browser found: open {written.html} yourself", err=True)
