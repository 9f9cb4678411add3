"""What a benchmark run is asked to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..imageio import PNG_LEVEL

DEFAULT_METRICS = ("niqe-study", "niqe", "maniqa", "psnr", "ssim")


@dataclass
class BenchConfig:
    """The options of ``srarena bench``; recorded in the run folder as ``config.json``.

    ``generate`` is the number of images a generative upscaler makes per dataset (default:
    as many as the dataset has), from seeds ``generate_seed``, ``generate_seed + 1``, …
    (1000 onwards, as the study's APA outputs ``seed1000``–``seed1099``).

    ``workers`` (threads that read, encode and score beside the upscaler; default one per
    CPU, 0 for the serial reference) and ``png_level`` (zlib level of the output PNGs) change
    how fast a run goes, never its results: they are left out of :meth:`identity`.
    """

    upscalers: list[str]
    datasets: list[str] = field(default_factory=lambda: ["samples"])
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    scale: int = 8
    device: str = "auto"
    precision: str = "fp32"
    tile: int | None = None
    tile_overlap: int = 16
    seed: int = 0
    weights: Path | None = None
    generate: int | None = None
    generate_seed: int = 1000
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: int | None = None
    png_level: int = PNG_LEVEL

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = str(self.weights) if self.weights else None
        return data

    def identity(self) -> dict[str, Any]:
        """What the run computes (names its default folder): the settings without those that
        only change its speed."""
        return {k: v for k, v in self.to_json().items() if k not in SPEED_ONLY}


SPEED_ONLY = ("workers", "png_level")
