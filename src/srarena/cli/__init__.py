"""The ``srarena`` command line. Commands live one module each in this package.

Nothing heavy (torch, pandas, pyiqa) is imported here or at the top of a command module:
``srarena --help`` and ``srarena plugins`` must stay fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="srarena",
    help="An arena for blind image super-resolution: run techniques, score, analyse, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """An arena for blind image super-resolution: run techniques, score, analyse, report."""
    if version:
        from .. import __version__

        typer.echo(f"srarena {__version__}")
        raise typer.Exit()


COMMAND_MODULES = (
    "plugins_cmd",
    "bench",
    "analyze",
    "upscale",
    "score",
    "export",
    "new_plugin",
    "weights",
    "metrics",
    "report",
)


def _install_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(app)
    from ..plugins import command_hooks

    for module in command_hooks():
        try:
            module.srarena_register_commands(app=app)
        except Exception as exc:  # noqa: BLE001 - a plugin's command must not break the CLI
            typer.echo(f"warning: plugin {module.__name__} failed to add commands: {exc}", err=True)


def _usage_errors() -> tuple[type[Exception], ...]:
    """What a user's request can be wrong about: a name, a scale, a dataset (imported only
    when something was raised)."""
    from ..datasets.files import DatasetError
    from ..engine.chain import ScaleError
    from ..plugins import UnknownComponent
    from ..weights.errors import UnknownWeights

    return (UnknownComponent, UnknownWeights, ScaleError, DatasetError)


def main() -> None:
    _install_commands()
    try:
        app()
    except (LookupError, ValueError) as exc:
        if not isinstance(exc, _usage_errors()):
            raise
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
