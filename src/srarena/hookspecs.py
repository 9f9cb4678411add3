"""The plugin contract: the hooks a plugin implements, each handed a ``register`` callback.

A plugin module marks functions with ``@srarena.hookimpl`` and is named by an entry point
in the ``srarena`` group. It declares the major core API it was written for as
``SRARENA_API = 1`` at module level. Hooks may gain arguments later; pluggy passes a hook
only the arguments it names, so old plugins keep working.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("srarena")
hookimpl = pluggy.HookimplMarker("srarena")


@hookspec
def srarena_register_upscalers(register: Any) -> None:
    """Call ``register(UpscalerSpec(...))`` once for each upscaler the plugin provides."""


@hookspec
def srarena_register_metrics(register: Any) -> None:
    """Call ``register(MetricSpec(...))`` once for each metric the plugin provides."""


@hookspec
def srarena_register_datasets(register: Any) -> None:
    """Call ``register(DatasetSpec(...))`` once for each dataset source the plugin provides."""


@hookspec
def srarena_register_importers(register: Any) -> None:
    """Call ``register(ImporterSpec(...))`` for each kind of user model file the plugin turns
    into components (``srarena weights add NAME FILE``)."""


@hookspec
def srarena_register_commands(app: Any) -> None:
    """Add subcommands to the ``srarena`` typer app (``app.command()`` or ``app.add_typer``)."""
