"""``srarena blindsr-train``: train BlindSR's generator and/or discriminator on an HR folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: Any) -> None:
    @app.command("blindsr-train")
    def blindsr_train(
        hr_folder: Path = typer.Argument(..., exists=True, file_okay=False, help="HR images."),
        out: Path = typer.Option(..., "--out", help="Folder for generator.pth/discriminator.pth."),
        network: str = typer.Option(
            "both", "--network", help="generator, discriminator, or both (one after the other)."
        ),
        iterations: int | None = typer.Option(
            None, "--iterations", help="Steps per phase (default: official 10,000 epochs)."
        ),
        valid: Path | None = typer.Option(None, "--valid", help="Validation HR images."),
        batch_size: int | None = typer.Option(
            None, "--batch-size", help="Default: official 4 (generator) / 1 (discriminator)."
        ),
        crop: int = typer.Option(414, "--crop", help="HR crop side (official 414)."),
        kernels: str = typer.Option(
            "blindsr", "--kernels", help="Kernel family: blindsr (official), iso or aniso."
        ),
        seed: int = typer.Option(0, "--seed"),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1 ..."),
        save_every: int = typer.Option(1000, "--save-every", help="Checkpoint period (steps)."),
        log_every: int = typer.Option(100, "--log-every", help="Loss report period (steps)."),
        generator: Path | None = typer.Option(
            None, "--generator", help="Generator checkpoint for the discriminator phase."
        ),
    ) -> None:
        """Train BlindSR (sunreef/BlindSR losses and schedule) on synthetic x2 pairs.

        Checkpoints are written in the official layout; install them with
        `srarena weights add blindsr-x2 OUT/generator.pth OUT/discriminator.pth`.
        """
        from .train import TrainConfig, train

        phases = ["generator", "discriminator"] if network == "both" else [network]
        for phase in phases:
            config = TrainConfig(
                network=phase,
                train_folder=hr_folder,
                out=out,
                valid_folder=valid,
                iterations=iterations,
                batch_size=batch_size,
                crop=crop,
                kernels=kernels,
                seed=seed,
                device=device,
                save_every=save_every,
                log_every=log_every,
                generator=generator,
            )
            try:
                path = train(config, log=typer.echo)
            except (ValueError, FileNotFoundError) as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from exc
            typer.echo(f"{phase} checkpoint: {path}")
