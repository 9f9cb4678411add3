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


def main() -> None:
    _install_commands()
    try:
        app()
    except Exception as exc:
        from .errors import debug, exit_status

        found = exit_status(exc)
        if found is None or debug():
            raise
        code, message = found
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(code) from None
