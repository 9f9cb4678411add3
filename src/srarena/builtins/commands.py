"""The core's own commands, added through ``srarena_register_commands`` like a plugin's.

Each command lives in its module of :mod:`srarena.cli`; nothing heavy is imported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..hookspecs import hookimpl

if TYPE_CHECKING:
    import typer

SRARENA_API = 1

COMMAND_MODULES = (
    "plugins_cmd",
    "bench",
    "analyze",
    "upscale",
    "score",
    "export",
    "new_plugin",
    "weights",
    "datasets",
    "replicate",
    "metrics",
    "report",
)


@hookimpl
def srarena_register_commands(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"srarena.cli.{name}").register(app)
