"""srarena: an arena for blind image super-resolution at high scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl
from .specs import (
    DatasetSpec,
    MetricSpec,
    Resources,
    SizeRequirements,
    Source,
    UpscalerSpec,
    WeightFile,
    WeightSet,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .store import Run

__all__ = [
    "DatasetSpec",
    "MetricSpec",
    "Resources",
    "SizeRequirements",
    "Source",
    "UpscalerSpec",
    "WeightFile",
    "WeightSet",
    "__version__",
    "hookimpl",
    "open_run",
]


def open_run(path: Any) -> Run:
    """Open a run folder (or an imported scores database) for reading as DataFrames."""
    from .store import Run

    return Run.open(path)
