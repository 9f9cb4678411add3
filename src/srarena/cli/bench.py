"""``srarena bench``: run upscalers on datasets at a scale and score every output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .errors import EXIT_CODES, INTERRUPTED, USAGE


def register(app: typer.Typer) -> None:
    @app.command("bench", epilog=EXIT_CODES)
    def bench(
        all_upscalers: bool = typer.Option(False, "--all", help="Every installed upscaler."),
        upscaler: list[str] = typer.Option([], "-u", "--upscaler", help="Upscaler (repeat)."),
        dataset: list[str] = typer.Option(
            [], "-d", "--dataset",
            help="'samples', NAME:ARG (e.g. folder:PATH, study:ROOT) or a folder (repeat).",
        ),
        metric: list[str] = typer.Option([], "-m", "--metric", help="Metric (repeat)."),
        scale: int = typer.Option(8, "--scale", min=1, help="Upscaling factor."),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
        precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 or bf16."),
        tile: int | None = typer.Option(None, "--tile", min=1, help="Tile size in LR pixels."),
        seed: int = typer.Option(0, "--seed", help="Seed handed to every upscaler."),
        weights: Path | None = typer.Option(
            None, "--weights", help="Weight file or folder to use (one upscaler only)."
        ),
        generate: int | None = typer.Option(
            None, "--generate", help="Images per dataset for generative upscalers."
        ),
        option: list[str] = typer.Option(
            [], "-o", "--option", help="Upscaler option UPSCALER.KEY=VALUE (repeat)."
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Run folder (default: runs/<derived from the options>)."
        ),
        executor: str = typer.Option("local", "--executor", help="local or ray."),
        address: str | None = typer.Option(
            None, "--address", help="Ray cluster: auto or HOST:PORT (default: start one here)."
        ),
        workers: int | None = typer.Option(
            None, "--workers", min=0,
            help="Threads that read, encode and score beside the upscaler (default: one per "
                 "CPU; 0: everything in one line, the serial reference).",
        ),
        png_level: int = typer.Option(
            1, "--png-level", min=0, max=9,
            help="zlib level of the output PNGs (lossless at every level; 1 is fast).",
        ),
        wait: bool = typer.Option(
            False, "--wait", help="Wait for another run that holds the run folder (default: "
                                  "refuse with exit status 2)."),
        max_memory: float | None = typer.Option(
            None, "--max-memory", min=0,
            help="GB of memory an output may need (default: what is available; 0: no check)."),
        verbose: bool = typer.Option(
            False, "--verbose", "-v",
            help="List every component that could not run with its fix, and metrics' full "
                 "protocols (by default: one line per cause).",
        ),
    ) -> None:
        """Run upscalers on datasets, write SR images and every score into a run folder.

        Rerunning the same command resumes: finished outputs and scores are reused.
        """
        code = run_bench(
            all_upscalers=all_upscalers, upscalers=upscaler, datasets=dataset, metrics=metric,
            scale=scale, device=device, precision=precision, tile=tile, seed=seed,
            weights=weights, generate=generate, options=option, out=out, executor=executor,
            address=address, workers=workers, png_level=png_level, wait=wait,
            max_memory=max_memory, verbose=verbose,
        )
        raise typer.Exit(code)


def parse_options(pairs: list[str]) -> dict[str, dict[str, object]]:
    """``dan-v1.setting=2`` -> ``{"dan-v1": {"setting": 2}}`` (values parsed as JSON if valid)."""
    import json

    options: dict[str, dict[str, object]] = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        name, dot, key = target.partition(".")
        if not sep or not dot or not name or not key:
            raise typer.BadParameter(f"{pair!r} is not UPSCALER.KEY=VALUE")
        try:
            parsed: object = json.loads(value)
        except ValueError:
            parsed = value
        options.setdefault(name, {})[key] = parsed
    return options


def option_problems(options: dict[str, dict[str, object]], specs: dict[str, Any]) -> list[str]:
    """Why ``-o`` options cannot apply: an upscaler the run leaves out, an unknown or fixed
    key, or a value of the wrong type or outside the choices (``UpscalerSpec.option_problem``)."""
    problems = []
    for name, values in options.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(f"-o {name}.…: {name} is not among this run's upscalers "
                            f"({', '.join(specs)})")
            continue
        for key, value in values.items():
            problem = spec.option_problem(key, value)
            if problem is not None:
                problems.append(f"-o {name}.{key}: {problem}")
    return problems


def weights_problems(weights: Path | None, specs: dict[str, Any]) -> list[str]:
    """Why ``--weights`` cannot apply: several upscalers, one that takes no weights, or a
    path that does not exist."""
    if weights is None:
        return []
    if len(specs) != 1:
        return ["--weights applies to one upscaler: name it with -u"]
    (name, spec), = specs.items()
    if spec.weights is None:
        return [f"--weights: {name} takes no weights (it declares no weight set)"]
    if not weights.exists():
        return [f"--weights {weights}: no such file or folder"]
    return []


def dataset_problems(datasets: list[str], registry: Any) -> list[str]:
    """Why named datasets cannot be opened (an unknown source, a missing folder, a bad
    option), found before the run folder is made."""
    from ..datasets import DatasetError, open_dataset

    problems = []
    for text in datasets:
        try:
            open_dataset(text, registry)
        except DatasetError as exc:
            problems.append(str(exc))
    return problems


def run_bench(
    *, all_upscalers: bool, upscalers: list[str], datasets: list[str], metrics: list[str],
    scale: int, device: str, precision: str, tile: int | None, seed: int,
    weights: Path | None, generate: int | None, options: list[str], out: Path | None,
    executor: str = "local", address: str | None = None, workers: int | None = None,
    png_level: int = 1, wait: bool = False, max_memory: float | None = None,
    verbose: bool = False,
) -> int:
    """Build the configuration, run it with rich progress, print the closing summary."""
    from rich.console import Console

    from ..engine.config import DEFAULT_METRICS, BenchConfig
    from ..engine.runner import Bench
    from ..plugins import UnknownComponent, get_registry
    from ..store import content_key
    from .console import RichReporter, print_summary

    console = Console()
    registry = get_registry()
    try:
        names = upscalers if upscalers and not all_upscalers else sorted(registry.upscalers)
        for name in names:
            registry.upscaler(name)
        if metrics:
            for name in metrics:
                registry.metric(name)
        else:
            metrics = [m for m in DEFAULT_METRICS if m in registry.metrics]
    except UnknownComponent as exc:
        console.print(f"[red]error:[/] {exc}")
        return USAGE
    datasets = datasets or ["samples"]
    parsed = parse_options(options)
    specs = {name: registry.upscaler(name) for name in names}
    problems = option_problems(parsed, specs)
    problems += weights_problems(weights, specs)
    problems += dataset_problems(datasets, registry)
    if out is not None and out.exists() and not out.is_dir():
        problems.append(f"--out {out} is a file, not a folder: give a new or existing folder")
    for problem in problems:
        console.print(f"[red]error:[/] {problem}")
    if problems:
        return USAGE
    config = BenchConfig(
        upscalers=names, datasets=datasets, metrics=metrics, scale=scale,
        device=device, precision=precision, tile=tile, seed=seed, weights=weights,
        generate=generate, options=parsed, workers=workers, png_level=png_level,
        max_memory_gb=max_memory,
    )
    if out is None:
        identity = config.identity()
        out = Path("runs") / f"bench-x{scale}-{content_key(identity)[:10]}"
    runner = _executor(executor, address, console)
    if runner is None:
        return USAGE
    bench = Bench(registry, config, out, None, runner, wait=wait)  # checks settings, device
    console.print(f"run folder: [bold]{out}[/]")
    with RichReporter(console) as reporter:
        bench.reporter = reporter
        try:
            summary = bench.run()
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: rerun the same command to resume")
            return INTERRUPTED
    print_summary(console, out, summary, verbose)
    return summary.exit_code


def _executor(name: str, address: str | None, console: Any) -> Any:
    """The executor named on the command line, or None (after saying why) if unusable."""
    from ..engine.executors import LocalExecutor

    if name == "local":
        return LocalExecutor()
    if name != "ray":
        console.print(f"[red]error:[/] unknown executor {name!r}: use local or ray")
        return None
    try:
        from ..engine.ray_executor import RayExecutor
    except ImportError:
        console.print("[red]error:[/] the ray executor needs Ray: pip install 'srarena[ray]'")
        return None
    return RayExecutor(address=address)
