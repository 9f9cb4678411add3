"""The study's layout: ``study:ROOT`` with images at ``ROOT/<Domain>/<dataset>/...``."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from ..components import Dataset, Item
from ..imageio import load_channels
from ..specs import DatasetSpec
from .files import DatasetError, find_images, parse_argument


class StudyDataset(Dataset):
    """Several datasets grouped by domain, as the study arranged its 14 datasets.

    ``ROOT/Aerial/UCMerced/img001.png`` is image ``img001`` of dataset ``UCMerced`` in
    domain ``Aerial``; files deeper in a dataset folder keep their sub-path in the id.
    Images directly in ``ROOT`` or in a domain folder belong to no dataset: they are
    skipped and counted in :meth:`describe` (``misplaced``). Two datasets of the same name
    in different domains are refused, since results are grouped by dataset name.

    Without an argument (``-d study``) the root is the study's datasets fetched into the
    cache by ``srarena datasets fetch study``.
    """

    OPTIONS: dict[str, str] = {}

    def __init__(self, spec: DatasetSpec, argument: str | None = None) -> None:
        super().__init__(spec, argument)
        if argument is None:
            from .zoo import require

            self.root = require("study")
        else:
            self.root, _ = parse_argument(argument, self.OPTIONS, spec.name)
        self._layout: tuple[list[tuple[str, str, str, Path]], list[str]] | None = None

    def _scan(self) -> tuple[list[tuple[str, str, str, Path]], list[str]]:
        """``([(domain, dataset, image_id, path)], misplaced ids)``, scanned once."""
        if self._layout is None:
            placed: list[tuple[str, str, str, Path]] = []
            misplaced: list[str] = []
            owner: dict[str, str] = {}
            for image_id, path in find_images(self.root):
                parts = image_id.split("/", 2)
                if len(parts) < 3:
                    misplaced.append(image_id)
                    continue
                domain, dataset, rest = parts
                if owner.setdefault(dataset, domain) != domain:
                    raise DatasetError(
                        f"{self.spec.name}: dataset {dataset!r} appears under domains "
                        f"{owner[dataset]!r} and {domain!r}; rename one of the folders"
                    )
                placed.append((domain, dataset, rest, path))
            if not placed:
                raise DatasetError(
                    f"{self.spec.name}: no images at {self.root}/<Domain>/<dataset>/"
                )
            self._layout = (placed, misplaced)
        return self._layout

    def items(self) -> Iterator[Item]:
        placed, _ = self._scan()
        for domain, dataset, image_id, path in sorted(placed, key=lambda e: e[:3]):
            yield Item(
                image_id=image_id,
                dataset=dataset,
                domain=domain,
                lr=partial(load_channels, path),
                source=str(path),
            )

    def describe(self) -> dict[str, Any]:
        placed, misplaced = self._scan()
        datasets = sorted({(domain, dataset) for domain, dataset, _, _ in placed})
        return {
            **super().describe(),
            "root": str(self.root),
            "datasets": {dataset: domain for domain, dataset in datasets},
            "misplaced": misplaced,
        }
