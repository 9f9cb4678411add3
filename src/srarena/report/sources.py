"""The LR inputs and HR ground truths of chosen images, read again from the run's datasets.

A run stores its outputs, not its inputs: the report reopens each dataset named in the run's
``config.json`` (``srarena.datasets.open_dataset``) and checks every LR image against the
hash the run recorded, so it never shows an input that differs from the one the run used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..imageio import to_rgb
from ..store import array_hash
from .images import from_array, kernel_array

if TYPE_CHECKING:
    from ..components import Dataset, Item

Key = tuple[str, str]  # (dataset, image_id)


@dataclass
class Source:
    """What the dataset gives today for one image; ``problem`` says why something is absent."""

    lr: Image.Image | None = None
    hr: Image.Image | None = None
    kernel: np.ndarray | None = None
    kernel_scale: int | None = None
    problem: str = ""


def _true_kernel(dataset: Dataset, image_id: str) -> tuple[np.ndarray | None, int | None]:
    """The blur kernel a dataset used for an image, when it exposes ``kernel(image_id)``."""
    method = getattr(dataset, "kernel", None)
    if not callable(method):
        return None, None
    try:
        found = method(image_id)
    except Exception:  # noqa: BLE001 - a dataset without per-image kernels simply has none
        return None, None
    weights = getattr(found, "weights", found)
    if not isinstance(weights, np.ndarray):
        return None, None
    return kernel_array(weights), getattr(found, "scale", None)


def reopen(texts: Iterable[str],
           wanted: dict[Key, str | None]) -> tuple[dict[Key, Source], list[str]]:
    """LR, HR and true kernel of each wanted (dataset, image_id), whose value is the input
    hash the run recorded. Returns the sources found and notes on what could not be read."""
    from ..datasets import open_dataset
    from ..plugins import get_registry

    found: dict[Key, Source] = {}
    notes: list[str] = []
    if not wanted:
        return found, notes
    registry = get_registry()
    for text in texts:
        try:
            dataset = open_dataset(text, registry)
            for item in dataset.items():
                key = (item.dataset, item.image_id)
                if key not in wanted or key in found:
                    continue
                found[key] = _read(item, dataset, wanted[key])
                if len(found) == len(wanted):
                    return found, notes
        except Exception as exc:  # noqa: BLE001 - the report goes on without these inputs
            notes.append(f"dataset {text!r} could not be reopened ({type(exc).__name__}: {exc}); "
                         "its LR inputs and HR ground truths are not shown")
    for key in wanted:
        if key not in found:
            found[key] = Source(problem="the run's datasets no longer give this image")
    return found, notes


def _read(item: Item, dataset: Dataset, recorded: str | None) -> Source:
    try:
        lr = item.lr()
    except Exception as exc:  # noqa: BLE001
        return Source(problem=f"LR input unreadable now ({type(exc).__name__}: {exc})")
    if recorded and array_hash(lr) != recorded:
        return Source(problem="the dataset's LR image differs from the one the run used "
                              "(the dataset changed since), so LR and HR are not shown")
    source = Source(lr=from_array(to_rgb(lr)))  # shown over black, as metrics see it
    if item.hr is not None:
        try:
            source.hr = from_array(item.hr())
        except Exception as exc:  # noqa: BLE001
            source.problem = f"HR ground truth unreadable now ({type(exc).__name__}: {exc})"
    source.kernel, source.kernel_scale = _true_kernel(dataset, item.image_id)
    return source
