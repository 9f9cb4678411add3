"""The inputs of a run, streamed: every item of every dataset is read once on the worker
pool to learn its hash and size, then let go. What stays is small (ids, hashes, sizes and
each item's reader), so memory does not grow with the number of images."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from ..components import Item
from ..store import array_hash
from .pipeline import read_ahead
from .plan import dataset_hash


@dataclass
class DatasetGroup:
    """The readable images of one dataset: items, input hashes and sizes, by id, in order."""

    name: str
    domain: str
    items: dict[str, Item] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return dataset_hash(self.hashes)

    def readers(self) -> list[Callable[[], Any]]:
        """The LR readers of the dataset's images, sorted by id (what a fit sees)."""
        return [self.items[image_id].lr for image_id in sorted(self.items)]


@dataclass(frozen=True)
class InputFacts:
    """What reading an input told: its hash and (height, width)."""

    input_hash: str
    height: int
    width: int


def _facts(item: Item) -> InputFacts:
    image = item.lr()
    return InputFacts(array_hash(image), int(image.shape[0]), int(image.shape[1]))


def read_inputs(pool: Executor, items: list[Item], depth: int,
                ) -> Iterator[tuple[Item, InputFacts | BaseException]]:
    """Each item with its facts, or the exception reading it raised, in order; up to
    ``depth`` items are read ahead on ``pool`` and only their facts are kept."""
    for item, future in read_ahead(pool, items, _facts, depth):
        exc = future.exception()
        yield item, exc if exc is not None else future.result()
