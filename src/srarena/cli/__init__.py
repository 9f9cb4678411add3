"""The ``srarena`` command line. Commands live one module each in this package.

Nothing heavy (torch, pandas, pyiqa) is imported here or at the top of a command module:
``srarena --help`` and ``srarena plugins`` must stay fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="srarena",
    help="An arena for blind image super-resolution: run techniques, score, analyse, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """An arena for blind image super-resolution: run techniques, score, analyse, report."""
    if version:
        from .. import __version__

        typer.echo(f"srarena {__version__}")
        raise typer.Exit()


def _install_commands() -> None:
    """Every loaded plugin adds its commands (the core's through ``builtins.commands``)."""
    from ..plugins import get_registry

    for warning in get_registry().add_commands(app):
        typer.echo(f"warning: {warning}", err=True)


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
