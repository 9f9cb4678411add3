"""Any folder of LR images: ``folder:PATH[?name=NAME&domain=DOMAIN]``."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from ..components import Dataset, Item
from ..imageio import load_channels
from ..specs import DatasetSpec
from .files import IMAGE_EXTENSIONS, EmptyDataset, find_images, parse_argument

UNKNOWN_DOMAIN = "unknown"


class FolderDataset(Dataset):
    """Every image under a folder (recursively), as one dataset of one domain.

    Dataset name: the folder's name unless ``name=`` is given; domain: ``unknown`` unless
    ``domain=`` is given. Images are read when an item's ``lr()`` is called, so a broken
    file raises :class:`~srarena.imageio.ImageError` for that item only.
    """

    OPTIONS = {
        "name": "dataset name, default the folder's name",
        "domain": f"domain of its images, default {UNKNOWN_DOMAIN!r}",
    }

    def __init__(self, spec: DatasetSpec, argument: str | None = None) -> None:
        super().__init__(spec, argument)
        self.root, self.options = parse_argument(argument, self.OPTIONS, spec.name)
        self.configure(self.options)
        self.name = self.options.get("name") or self.default_name()
        self.domain = self.options.get("domain") or UNKNOWN_DOMAIN

    def configure(self, options: dict[str, str]) -> None:
        """Read a subclass's own options (called before the name is chosen)."""

    def default_name(self) -> str:
        return self.root.name or "dataset"

    def images(self) -> list[tuple[str, Path]]:
        """``(image_id, path)`` of every image under the folder; none is an error."""
        images = find_images(self.root)
        if not images:
            raise EmptyDataset(
                f"{self.spec.name}: no image files under {self.root} "
                f"(extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})"
            )
        return images

    def items(self) -> Iterator[Item]:
        for image_id, path in self.images():
            yield Item(
                image_id=image_id,
                dataset=self.name,
                domain=self.domain,
                lr=partial(load_channels, path),
                source=str(path),
            )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "root": str(self.root),
            "name": self.name,
            "domain": self.domain,
        }
