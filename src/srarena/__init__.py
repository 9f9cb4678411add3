"""srarena: an arena for blind image super-resolution at high scale.

This module is the plugin contract of API 1 (docs/plugins.md): the specs a plugin
registers, the interfaces its components implement, ``hookimpl`` and ``open_run``. Helpers a
plugin may use live in :mod:`srarena.kit`, the conformance tests in :mod:`srarena.testing`;
every other module is private. The interfaces (which import NumPy) load on first use, so
``import srarena`` stays light for the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl
from .specs import (
    DatasetSpec,
    ImporterSpec,
    MetricSpec,
    Resources,
    SizeRequirements,
    Source,
    SpecError,
    UpscalerSpec,
    WeightFile,
    WeightSet,
)

__version__ = "0.1.0"
SRARENA_API = 1
"""The major plugin API this core provides; a plugin declares the one it was written for."""

if TYPE_CHECKING:
    from .components import (
        Context,
        Dataset,
        GenerativeUpscaler,
        InputRefused,
        Item,
        Metric,
        Progress,
        Upscaler,
        UpscaleResult,
        no_progress,
    )
    from .store import Run

__all__ = [
    "Context",
    "Dataset",
    "DatasetSpec",
    "GenerativeUpscaler",
    "InputRefused",
    "Item",
    "Metric",
    "Progress",
    "UpscaleResult",
    "Upscaler",
    "no_progress",
    "ImporterSpec",
    "MetricSpec",
    "Resources",
    "SRARENA_API",
    "SizeRequirements",
    "Source",
    "SpecError",
    "UpscalerSpec",
    "WeightFile",
    "WeightSet",
    "__version__",
    "hookimpl",
    "open_run",
]


def __getattr__(name: str) -> Any:
    if name in __all__:  # an interface: the other names of __all__ are loaded above
        return getattr(importlib.import_module(".components", __name__), name)
    raise AttributeError(f"module 'srarena' has no attribute {name!r}")


def open_run(path: Any) -> Run:
    """Open a run folder (or an imported scores database) for reading as DataFrames."""
    from .store import Run

    return Run.open(path)
