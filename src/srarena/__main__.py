"""``python -m srarena`` runs the command line."""

from .cli import main

main()
