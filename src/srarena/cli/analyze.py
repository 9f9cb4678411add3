"""``srarena analyze`` (the study's analyses and statistics beyond it) and
``srarena import-scores`` (published per-image scores into a results database)."""

from __future__ import annotations

from pathlib import Path

import typer

FORMAT_HELP = "table (rich, terminal), markdown, csv or json."


def _directions(higher: list[str] | None, lower: list[str] | None) -> dict[str, bool]:
    out = {m: True for m in higher or []}
    clash = [m for m in lower or [] if m in out]
    if clash:
        raise typer.BadParameter(f"metric(s) {', '.join(clash)} given as both higher and lower")
    out.update({m: False for m in lower or []})
    return out


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze(
        source: Path | None = typer.Argument(
            None, help="A run folder, a results database (.sqlite) or a scores file "
            "(.json/.csv, optionally .gz).", show_default=False),
        study: bool = typer.Option(False, "--study",
                                   help="Analyse the study's published scores (shipped)."),
        metric: list[str] | None = typer.Option(
            None, "--metric", "-m", help="Metric to analyse (repeatable); default: all."),
        form: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Write the tables here (a CSV per table for table/csv, "
            "analysis.md or analysis.json) instead of stdout."),
        plots: Path | None = typer.Option(None, "--plots",
                                          help="Write plots (PNG and SVG) into this folder."),
        pair: str | None = typer.Option(
            None, "--pair", help="Two techniques 'A,B' for the I% and behaviour analyses "
            "(default: the two best)."),
        top: int = typer.Option(10, "--top", min=1,
                                help="Images per best/worst set in the behaviour analysis."),
        bootstrap: int = typer.Option(2000, "--bootstrap", min=0,
                                      help="Bootstrap resamples for the CIs (0: none)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        alpha: float = typer.Option(0.05, "--alpha", min=1e-6, max=0.5,
                                    help="Significance level of the tests."),
        no_stats: bool = typer.Option(False, "--no-stats",
                                      help="Only the study's analyses, no tests."),
        detail: bool = typer.Option(False, "--detail",
                                    help="Also print every pairwise per-image test."),
        higher: list[str] | None = typer.Option(
            None, "--higher-better", help="Metric whose higher values are better."),
        lower: list[str] | None = typer.Option(
            None, "--lower-better", help="Metric whose lower values are better."),
    ) -> None:
        """Reproduce the study's analyses over per-image scores, with statistics beyond it."""
        from ..analysis import analyze as run_analysis
        from ..analysis import load_scores
        from ..analysis.io import ScoresError
        from ..analysis.render import (
            FORMATS,
            print_analysis,
            to_csv,
            to_json,
            to_markdown,
            write_tables,
        )

        if form not in FORMATS:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
        if study == (source is not None):
            _fail("give either a run/scores SOURCE or --study")
        chosen = None
        if pair:
            names = tuple(p.strip() for p in pair.split(","))
            if len(names) != 2 or not all(names) or names[0] == names[1]:
                raise typer.BadParameter("--pair takes two different techniques: 'A,B'")
            chosen = names
        try:
            scores = load_scores(source, study=study)
            analysis = run_analysis(
                scores, metrics=metric, directions=_directions(higher, lower), pair=chosen,
                top_n=top, n_resamples=bootstrap, seed=seed, alpha=alpha, beyond=not no_stats)
        except (ScoresError, ValueError) as exc:
            _fail(str(exc))
        if form == "table":
            from rich.console import Console

            console = Console()
            if not console.is_terminal:
                console = Console(width=max(console.width, 130))
            print_analysis(analysis, console, detail=detail)
        elif out is None:
            render = {"markdown": to_markdown, "csv": to_csv, "json": to_json}[form]
            typer.echo(render(analysis))
        if out is not None:
            written = write_tables(analysis, out, "csv" if form == "table" else form)
            typer.echo(f"wrote {len(written)} file(s) under {out}", err=True)
        if plots is not None:
            from ..analysis.plots import write_plots

            written = write_plots(analysis, plots)
            typer.echo(f"wrote {len(written)} plot file(s) under {plots}", err=True)

    @app.command("import-scores")
    def import_scores(
        files: list[Path] = typer.Argument(
            ..., help="Scores files: the study's JSON, or CSV with columns domain, dataset, "
            "technique, image and metric+value or one column per metric (.gz accepted)."),
        to: Path | None = typer.Option(
            None, "--to", help="Results database to write (a folder or a .sqlite file); "
            "default: <first file's name>.sqlite here."),
        higher: list[str] | None = typer.Option(
            None, "--higher-better", help="Metric whose higher values are better."),
        lower: list[str] | None = typer.Option(
            None, "--lower-better", help="Metric whose lower values are better."),
    ) -> None:
        """Import published per-image scores into a results database read like a run."""
        from ..analysis.io import ScoresError, import_score_files

        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            _fail(f"no such file: {', '.join(missing)}")
        if to is None:
            stem = files[0].name.split(".")[0]
            to = Path.cwd() / f"{stem}.sqlite"
        try:
            db_path, frame = import_score_files(files, to, _directions(higher, lower))
        except ScoresError as exc:
            _fail(str(exc))
        summary = frame.groupby("metric").size()
        typer.echo(
            f"imported {len(frame)} scores ({', '.join(f'{m}: {n}' for m, n in summary.items())}) "
            f"of {frame['upscaler'].nunique()} techniques on {frame['dataset'].nunique()} "
            f"datasets into {db_path}\nanalyse with: srarena analyze {db_path}"
        )
