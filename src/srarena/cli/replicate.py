"""``srarena replicate``: rerun a technique on its paper's benchmark, beside the published values.

Each (upscaler, benchmark) of the technique's published table is one ordinary run folder
made by ``srarena bench`` (resumable, ``--executor ray`` works); the command fetches the
datasets and weights it can, runs, and prints our per-dataset means beside the published
ones with the difference and a verdict (``srarena.analysis.replication``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .errors import INTERRUPTED, USAGE

EXIT_CODES = """Exit status: 0 when every value that could be run was reproduced; 1 when a value
was not reproduced or a run failed (with --strict also when a value could not be run); 2 for
a usage error; 130 when interrupted (rerun the same command to resume)."""


def register(app: typer.Typer) -> None:
    @app.command("replicate", epilog=EXIT_CODES)
    def replicate(
        technique: str | None = typer.Argument(
            None, help="Technique with a published-results table (e.g. dan-v1)."),
        benchmark: list[str] = typer.Option(
            [], "--benchmark", "-b", help="Only this benchmark (e.g. div2krk-x4; repeat)."),
        study: bool = typer.Option(
            False, "--study", help="The study's five techniques on its 14 datasets (NIQE, "
                                   "MANIQA), against the study's published per-image scores."),
        only: list[str] = typer.Option(
            [], "--only", help="With --study: only these techniques (study or srarena names)."),
        out: Path | None = typer.Option(
            None, "--out", help="Folder of the run folders (default runs/replicate-<name>)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
        precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 or bf16."),
        seed: int = typer.Option(0, "--seed", help="Seed handed to every upscaler."),
        weights: Path | None = typer.Option(
            None, "--weights", help="Weight file or folder (one upscaler only)."),
        option: list[str] = typer.Option(
            [], "-o", "--option", help="Upscaler option UPSCALER.KEY=VALUE (repeat)."),
        tolerance: list[str] = typer.Option(
            [], "--tolerance", help="METRIC=VALUE instead of the documented tolerance."),
        fetch: bool = typer.Option(
            True, "--fetch/--no-fetch", help="Download missing datasets and weights first."),
        strict: bool = typer.Option(False, "--strict", help="Fail when a value cannot be run."),
        executor: str = typer.Option("local", "--executor", help="local or ray."),
        address: str | None = typer.Option(
            None, "--address", help="Ray cluster: auto or HOST:PORT (default: start one here)."),
        workers: int | None = typer.Option(None, "--workers", min=0,
                                           help="Threads beside the upscaler (see bench)."),
    ) -> None:
        """Rerun a technique with its paper's protocol and compare with the published values.

        `srarena replicate dan-v1 --benchmark div2krk-x4`; `srarena replicate --study`.
        """
        settings = dict(device=device, precision=precision, seed=seed, weights=weights,
                        options=option, executor=executor, address=address, workers=workers)
        code = Replication(fetch=fetch, strict=strict).main(
            technique, benchmark, study, only, out, tolerance, settings)
        raise typer.Exit(code)


def _tolerances(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        metric, sep, value = pair.partition("=")
        try:
            out[metric] = float(value)
        except ValueError:
            raise typer.BadParameter(f"--tolerance {pair!r} is not METRIC=NUMBER") from None
        if not sep or not metric or out[metric] < 0:
            raise typer.BadParameter(f"--tolerance {pair!r} is not METRIC=NUMBER (>= 0)")
    return out


class Replication:
    """One ``srarena replicate`` invocation: plan the runs, fetch, run, compare, print."""

    def __init__(self, fetch: bool, strict: bool) -> None:
        from rich.console import Console

        from ..plugins import get_registry

        self.fetch, self.strict = fetch, strict
        self.console = Console()
        self.registry = get_registry()
        self.not_run: dict[tuple[str, str], str] = {}
        self.ours: dict[tuple[str, str, str], tuple[float, float, int]] = {}
        self.failed = False

    def main(self, technique: str | None, benchmarks: list[str], study: bool, only: list[str],
             out: Path | None, tolerance: list[str], settings: dict[str, Any]) -> int:
        from ..analysis import replication

        if study == (technique is not None):
            return self._usage("name a technique, or give --study (not both)")
        if only and not study:
            return self._usage("--only applies to --study")
        overrides = _tolerances(tolerance)
        if study:
            rows, missing = self._study_rows(only)
            if rows is None:
                return USAGE
            root = out or Path("runs") / "replicate-study"
        else:
            rows, missing = self._technique_rows(technique, benchmarks)
            if rows is None:
                return USAGE
            root = out or Path("runs") / f"replicate-{technique}"
        groups: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            groups.setdefault((row.upscaler, row.benchmark), []).append(row)
        code = self._run_groups(groups, root, settings, study)
        if code in (USAGE, INTERRUPTED):
            return code
        results = replication.compare(rows, self.ours, self.not_run, overrides)
        results += replication.missing_rows(missing)
        self._write(root, groups, results, study)
        self._print(results)
        verdicts = {r["verdict"] for r in results}
        failed = "not reproduced" in verdicts or self.failed or (
            self.strict and "not run" in verdicts)
        return 1 if failed else 0

    # ----------------------------------------------------------------- rows
    def _usage(self, text: str) -> int:
        self.console.print(f"[red]error:[/] {text}")
        return USAGE

    def _technique_rows(self, technique: str, benchmarks: list[str]) -> tuple[Any, Any]:
        from ..analysis import replication

        rows, missing, problems = replication.published(self.registry)
        for problem in problems:
            self.console.print(f"[yellow]warning[/]: published results unreadable: {problem}")
        mine = [r for r in rows if r.technique == technique]
        absent = [m for m in missing if m.technique == technique]
        if not mine and not absent:
            known = sorted({r.technique for r in rows} | {m.technique for m in missing})
            self._usage(f"no published results for {technique!r}; techniques with a table: "
                        f"{', '.join(known) or 'none (no installed plugin ships one)'}")
            return None, None
        if benchmarks:
            available = sorted({r.benchmark for r in mine})
            unknown = [b for b in benchmarks if b not in available]
            if unknown:
                self._usage(f"{technique} has no published values on {', '.join(unknown)}; "
                            f"its benchmarks: {', '.join(available)}")
                return None, None
            mine = [r for r in mine if r.benchmark in benchmarks]
        return mine, absent

    def _study_rows(self, only: list[str]) -> tuple[Any, Any]:
        from ..analysis import replication

        names = replication.STUDY_UPSCALERS
        chosen = []
        for name in only:
            match = [t for t, u in names.items() if name in (t, u)]
            if not match:
                self._usage(f"--only {name!r} is not one of the study's techniques: "
                            + ", ".join(f"{t} ({u})" for t, u in names.items()))
                return None, None
            chosen += match
        return replication.study_published(chosen or None), []

    # ------------------------------------------------------------------ runs
    def _run_groups(self, groups: dict[tuple[str, str], list[Any]], root: Path,
                    settings: dict[str, Any], study: bool) -> int:
        if study:
            upscalers = sorted({u for u, _ in groups})
            installed = [u for u in upscalers if u in self.registry.upscalers]
            for name in sorted(set(upscalers) - set(installed)):
                self.not_run[(name, "study")] = f"{name} is not installed (its plugin is missing)"
            if not installed:
                return 0
            metrics = sorted({r.metric for rows in groups.values() for r in rows})
            return self._run(installed, "study", 8, metrics, _folder(root, "", "study", True),
                             settings, 100)
        for (upscaler, bench), rows in groups.items():
            metrics = sorted({r.metric for r in rows})
            code = self._run([upscaler], bench, rows[0].scale, metrics,
                             _folder(root, upscaler, bench, False), settings, None)
            if code in (USAGE, INTERRUPTED):
                return code
        return 0

    def _run(self, upscalers: list[str], bench: str, scale: int, metrics: list[str],
             folder: Path, settings: dict[str, Any], generate: int | None) -> int:
        from .bench import run_bench

        reason = self._prepare(upscalers, bench, scale, settings)
        if reason:
            for name in upscalers:
                self.not_run[(name, bench)] = reason
            return 0
        self.console.rule(f"{', '.join(upscalers)} on {bench} at x{scale}")
        code = run_bench(
            all_upscalers=False, upscalers=upscalers, datasets=[bench], metrics=metrics,
            scale=scale, device=settings["device"], precision=settings["precision"], tile=None,
            seed=settings["seed"], weights=settings["weights"], generate=generate,
            options=settings["options"], out=folder, executor=settings["executor"],
            address=settings["address"], workers=settings["workers"])
        if code in (USAGE, INTERRUPTED):
            return code
        self.failed |= code == 1
        self._collect(folder, upscalers, bench)
        return 0

    def _prepare(self, upscalers: list[str], bench: str, scale: int,
                 settings: dict[str, Any]) -> str:
        """Why the run cannot start (an empty string when it can); fetches what is needed."""
        from ..datasets import zoo

        unknown = [u for u in upscalers if u not in self.registry.upscalers]
        if unknown:
            return f"{', '.join(unknown)} is not installed (its plugin is missing)"
        if bench not in self.registry.datasets:
            return (f"no dataset source {bench!r} is installed: this benchmark cannot be rerun "
                    "here (see `srarena datasets list`)")
        try:
            entry = zoo.find(bench)
        except zoo.DatasetError:
            entry = None
        if entry is not None and zoo.state(entry) != "installed":
            if not self.fetch:
                return f"dataset {entry.name} is not installed: run `{zoo.fix_command(entry)}`"
            problem = self._fetch_dataset(entry)
            if problem:
                return problem
        if self.fetch and settings["weights"] is None:
            for name in upscalers:
                self._fetch_weights(name, scale)
        return ""

    def _fetch_dataset(self, entry: Any) -> str:
        from rich.markup import escape

        from ..datasets import zoo
        from .transfers import download_progress, reporter

        with download_progress() as progress:
            try:
                zoo.fetch(entry, reporter(progress, entry.name))
            except zoo.DatasetError as exc:
                progress.console.print(f"[red]{entry.name}[/]: {escape(str(exc))}")
                return f"dataset {entry.name} could not be fetched: {exc}"
        return ""

    def _fetch_weights(self, name: str, scale: int) -> None:
        """Download the weights a run needs when they can be downloaded; a set that needs a
        browser is left to the run, which skips the upscaler with the command to add it."""
        from rich.markup import escape

        from .. import weights
        from ..engine.chain import ScaleError, chain_of, weights_for
        from ..weights import download
        from .transfers import download_progress, reporter

        spec = self.registry.upscaler(name)
        try:
            needed = weights_for(spec, chain_of(spec, scale))
        except ScaleError:
            return
        if needed is None or not weights.missing_files(needed):
            return
        with download_progress() as progress:
            try:
                download.fetch(needed, reporter(progress, needed.name))
            except weights.WeightsError as exc:
                progress.console.print(f"[yellow]{needed.name}[/]: {escape(str(exc))}")

    def _collect(self, folder: Path, upscalers: list[str], bench: str) -> None:
        from ..analysis import replication
        from ..store import Run

        run = Run.open(folder)
        frame = run.scores()
        if not frame.empty:
            self.ours.update(replication.our_stats(frame))
        skipped = {s["name"]: s for s in run.meta().get("skipped") or []}
        for name in upscalers:
            if name in skipped:
                skip = skipped[name]
                fix = f" (fix: {skip['fix']})" if skip.get("fix") else ""
                self.not_run[(name, bench)] = f"{name} was skipped: {skip['reason']}{fix}"

    # --------------------------------------------------------------- output
    def _write(self, root: Path, groups: dict[tuple[str, str], list[Any]],
               results: list[dict[str, Any]], study: bool) -> None:
        from ..analysis import replication

        root.mkdir(parents=True, exist_ok=True)
        replication.write(root, results)
        folders = {_folder(root, upscaler, bench, study): (upscaler, bench)
                   for upscaler, bench in groups}  # --study: one folder for every technique
        for folder, (upscaler, bench) in folders.items():
            if (folder / "results.sqlite").is_file():
                replication.write(folder, [r for r in results if r["benchmark"] == bench and (
                    study or r["upscaler"] == upscaler)])

    def _print(self, results: list[dict[str, Any]]) -> None:
        """Our value beside the published one, fitted to the terminal (names never cut),
        the sources numbered under the table."""
        from rich.text import Text

        from ..analysis.numbers import fmt
        from .console import say
        from .layout import Column, print_table

        colours = {"reproduced": "green", "not reproduced": "red", "not run": "yellow",
                   "missing": "yellow"}
        columns = [Column("technique", whole=True), Column("benchmark", whole=True),
                   Column("dataset", priority=3, merge_into="technique"),
                   Column("metric", priority=2, whole=True),
                   Column("published", whole=True, justify="right"),
                   Column("ours", whole=True, justify="right"),
                   Column("difference", "diff", priority=1, whole=True, justify="right"),
                   Column("tolerance", "tol", priority=4, whole=True, justify="right"),
                   Column("verdict")]
        sources: dict[str, int] = {}
        cells = []
        for r in results:
            mark = f" [{sources.setdefault(r['source'], len(sources) + 1)}]" \
                if r.get("source") else ""
            verdict = Text(r["verdict"], style=colours[r["verdict"]])
            if r["verdict"] in ("not run", "missing") and r.get("reason"):
                verdict.append(f": {r['reason']}")
            cells.append({
                "technique": r["technique"], "benchmark": r["benchmark"] or "–",
                "dataset": r["dataset"], "metric": r["metric"] or "–",
                "published": fmt(r["value"]) + mark if r["value"] is not None else "missing",
                "ours": fmt(r["ours"]), "difference": fmt(r["difference"]),
                "tolerance": fmt(r["tolerance"]), "verdict": verdict})
        print_table(self.console, columns, cells,
                    title="Replication: our value beside the published one",
                    more="replication.json")
        for source, number in sources.items():
            say(self.console, Text(f"[{number}] {source}"))
        counts = {v: sum(r["verdict"] == v for r in results) for v in colours}
        self.console.print(", ".join(f"{n} {v}" for v, n in counts.items() if n))

def _folder(root: Path, upscaler: str, bench: str, study: bool) -> Path:
    """The run folder of one benchmark run: ``study`` for the study (every technique in one
    run), else ``<upscaler>--<benchmark>``."""
    return root / ("study" if study else f"{upscaler}--{bench}")
