"""The plugin contract: the hooks a plugin implements, each handed a ``register`` callback.

A plugin module marks functions with ``@srarena.hookimpl`` and is named by an entry point
in the ``srarena`` group. It declares the major core API it was written for as
``SRARENA_API = 1`` at module level. Hooks may gain arguments later; pluggy passes a hook
only the arguments it names, so old plugins keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from .specs import DatasetSpec, ImporterSpec, MetricSpec, UpscalerSpec

hookspec = pluggy.HookspecMarker("srarena")
hookimpl = pluggy.HookimplMarker("srarena")


@hookspec
def srarena_register_upscalers(register: Callable[[UpscalerSpec], None]) -> None:
    """Call ``register(UpscalerSpec(...))`` once for each upscaler the plugin provides."""


@hookspec
def srarena_register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Call ``register(MetricSpec(...))`` once for each metric the plugin provides."""


@hookspec
def srarena_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Call ``register(DatasetSpec(...))`` once for each dataset source the plugin provides."""


@hookspec
def srarena_register_importers(register: Callable[[ImporterSpec], None]) -> None:
    """Call ``register(ImporterSpec(...))`` for each kind of user model file the plugin turns
    into components (``srarena weights add NAME FILE``)."""


@hookspec
def srarena_register_commands(app: typer.Typer) -> None:
    """Add subcommands to the ``srarena`` typer app (``app.command()`` or ``app.add_typer``)."""
