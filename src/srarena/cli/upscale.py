"""``srarena upscale``: super-resolve image files with one upscaler."""

from __future__ import annotations

from pathlib import Path

import typer

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def register(app: typer.Typer) -> None:
    @app.command("upscale")
    def upscale(
        paths: list[Path] = typer.Argument(..., help="INPUT... OUTPUT (a file or a folder)."),
        upscaler: str = typer.Option(..., "-u", "--upscaler", help="Upscaler name."),
        scale: int = typer.Option(8, "--scale", min=1),
        weights: Path | None = typer.Option(None, "--weights", help="Weight file or folder."),
        device: str = typer.Option("auto", "--device"),
        precision: str = typer.Option("fp32", "--precision"),
        tile: int | None = typer.Option(None, "--tile", help="Tile size in LR pixels."),
        seed: int = typer.Option(0, "--seed"),
        option: list[str] = typer.Option(
            [], "-o", "--option", help="Upscaler option UPSCALER.KEY=VALUE (repeat)."
        ),
    ) -> None:
        """Upscale INPUT images into OUTPUT (a PNG file for one input, else a folder).

        An output keeps its input's channels: a grey image gives a grey PNG, an image with
        alpha an RGBA (or grey and alpha) PNG.
        """
        if len(paths) < 2:
            raise typer.BadParameter("give at least one INPUT and an OUTPUT")
        raise typer.Exit(
            _upscale(paths[:-1], paths[-1], upscaler, scale, weights, device, precision, tile,
                     seed, option)
        )


def _upscale(inputs: list[Path], output: Path, name: str, scale: int, weights: Path | None,
             device: str, precision: str, tile: int | None, seed: int,
             option: list[str]) -> int:
    from rich.console import Console
    from rich.markup import escape

    from .. import weights as weights_service
    from ..components import Context
    from ..engine.chain import plan_chain, weights_for
    from ..engine.environment import resolve_device
    from ..engine.instances import close_all, open_steps
    from ..engine.single import run_image
    from ..imageio import load_channels, save_png
    from ..plugins import get_registry
    from .bench import option_problems, parse_options

    console = Console()
    spec = get_registry().upscaler(name)
    options = parse_options(option)
    problems = option_problems(options, {name: spec})
    if problems:
        console.print("[red]error:[/] " + "; ".join(problems))
        return 2
    if spec.mode != "single-image":
        console.print(f"[red]error:[/] {name} is generative: it has no input image to upscale; "
                      "use `srarena bench` to fit it on a dataset and generate")
        return 2
    single_file = len(inputs) == 1 and output.suffix.lower() in IMAGE_SUFFIXES
    chain = plan_chain(spec.scales, scale)
    try:
        needed = weights_for(spec, chain)
        paths = weights_service.resolve(needed, weights) if needed else {}
    except weights_service.WeightsError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    context = Context(device=resolve_device(device), precision=precision, seed=seed,
                      weights=paths, options={**spec.options, **options.get(name, {})})
    try:
        instances = open_steps(spec, chain.steps, context)
    except Exception as exc:  # noqa: BLE001 - a plugin that cannot start says why, no traceback
        console.print(f"[red]error:[/] could not start {name}: {exc}")
        return 1
    failed = 0
    for source in inputs:
        target = output if single_file else output / f"{source.stem}_{chain.label()}.png"
        try:
            result = run_image(instances, chain, load_channels(source), tile)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next image
            console.print(f"[red]failed[/] {source}: {type(exc).__name__}: {exc}")
            failed += 1
            continue
        save_png(target, result.image)
        console.print(f"{source} → {target} ({chain.label()}{_notes(result.info)})")
        for warning in result.warnings:  # a defect of the upscaler: its author needs to see it
            console.print(f"[yellow]warning[/] {source}: {escape(warning)}")
    close_all(instances.values())
    return 1 if failed else 0


def _notes(info: dict) -> str:
    """What an output's info says about how it was made, for the line after each image:
    each step's protocol, and how alpha and grey were treated."""
    notes = [f"{key} {value}" for key, value in info.items() if key in ("alpha", "grey")]
    steps = [step.get("protocol") for step in info.values() if isinstance(step, dict)]
    notes += [f"protocol {p}" for p in dict.fromkeys(steps) if p]
    return "".join(f"; {note}" for note in notes)
