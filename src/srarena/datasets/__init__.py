"""Dataset sources and :func:`open_dataset`, which turns a user's text into a dataset.

Sources (``docs/datasets.md``): ``samples`` (embedded, with HR), ``folder:PATH``,
``study:ROOT`` (``ROOT/<Domain>/<dataset>/<images>``) and ``degrade:PATH`` (an HR folder
degraded with seeded kernels). Options follow the path as a query:
``folder:/data/x?domain=Aerial&name=x``, ``degrade:/data/hr?scale=8&kernel=div2krk&seed=0``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .files import DatasetError, EmptyDataset, looks_like_study, split_query

if TYPE_CHECKING:
    from ..components import Dataset
    from ..plugins import Registry

__all__ = ["DatasetError", "EmptyDataset", "open_dataset", "parse_source"]


def parse_source(text: str, registry: Registry) -> tuple[str, str | None]:
    """``(source name, argument)`` for a dataset text.

    In order: a registered source name alone (``samples``, or ``study`` whose argument is
    optional); ``NAME:ARG`` with a registered
    ``NAME``; an existing folder, read as ``study`` when every image in it lies at
    ``<Domain>/<dataset>/<file>`` and as ``folder`` otherwise (a ``?query`` may follow the
    folder). Write ``./samples`` or ``folder:samples`` for a folder named like a source.
    """
    text = text.strip()
    if text in registry.datasets:
        spec = registry.datasets[text]
        if spec.takes_argument and not spec.argument_optional:
            raise DatasetError(f"dataset source {text!r} needs an argument: '{text}:ARG'")
        return text, None
    name, sep, argument = text.partition(":")
    if sep and name in registry.datasets:
        if not registry.datasets[name].takes_argument:
            raise DatasetError(f"dataset source {name!r} takes no argument; write '{name}'")
        return name, argument
    folder = Path(split_query(text)[0]).expanduser()
    if folder.is_dir():
        kind = "study" if looks_like_study(folder) else "folder"
        if kind in registry.datasets:
            return kind, text
    known = ", ".join(sorted(registry.datasets)) or "none"
    raise DatasetError(
        f"{text!r} is neither a dataset source (installed: {known}; use NAME or NAME:ARG) "
        "nor an existing folder"
    )


def open_dataset(text: str, registry: Registry) -> Dataset:
    """Build the dataset a user named: ``samples``, ``NAME:ARG`` or a folder path."""
    from ..components import create

    name, argument = parse_source(text, registry)
    return create(registry.dataset(name), argument)
