"""What a benchmark run is asked to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..imageio import PNG_LEVEL

DEFAULT_METRICS = ("niqe-study", "niqe", "maniqa", "psnr", "ssim")
PRECISIONS = ("fp32", "fp16", "bf16")


class ConfigError(ValueError):
    """A setting of the run that can never be valid (a usage error); the message says which."""


@dataclass
class BenchConfig:
    """The options of ``srarena bench``; recorded in the run folder as ``config.json``.

    ``generate`` is the number of images a generative upscaler makes per dataset (default:
    as many as the dataset has), from seeds ``generate_seed``, ``generate_seed + 1``, …
    (1000 onwards, as the study's APA outputs ``seed1000``–``seed1099``).

    ``workers`` (threads that read, encode and score beside the upscaler; default one per
    CPU, 0 for the serial reference), ``png_level`` (zlib level of the output PNGs) and
    ``max_memory_gb`` change how a run goes, never its results: they are left out of
    :meth:`identity`.
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
    max_memory_gb: float | None = None
    """The memory an output may need (None: what is available when the run starts; 0: no
    check). See :mod:`.limits`."""

    def validate(self) -> None:
        """Refuse values no run can use, before anything is done."""
        problems = []
        if self.precision not in PRECISIONS:
            problems.append(f"--precision {self.precision!r} is not a precision: use "
                            f"{', '.join(PRECISIONS)}")
        for name, value, least in (("--scale", self.scale, 1), ("--tile", self.tile, 1),
                                   ("--tile-overlap", self.tile_overlap, 0),
                                   ("--generate", self.generate, 1),
                                   ("--workers", self.workers, 0)):
            if value is not None and (not isinstance(value, int) or value < least):
                problems.append(f"{name} {value!r} must be an integer >= {least}")
        if not 0 <= self.png_level <= 9:
            problems.append(f"--png-level {self.png_level!r} must be in 0-9")
        if self.max_memory_gb is not None and not self.max_memory_gb >= 0:
            problems.append(f"--max-memory {self.max_memory_gb!r} must be >= 0 (GB; 0: no check)")
        if problems:
            raise ConfigError("; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = str(self.weights) if self.weights else None
        return data

    def identity(self) -> dict[str, Any]:
        """What the run computes (names its default folder): the settings without those that
        only change its speed."""
        return {k: v for k, v in self.to_json().items() if k not in SPEED_ONLY}


SPEED_ONLY = ("workers", "png_level", "max_memory_gb")
