"""Dataset sources over the zoo's cache: ``div2krk-x2``, ``div2krk-x4`` and ``gaussian8-x4``.

They read the fetched files only (``srarena datasets fetch NAME`` downloads them); a missing
entry is a :class:`~srarena.datasets.zoo.NotInstalled` error that names the command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..components import Dataset, Item
from ..imageio import ImageError, load_image
from ..specs import DatasetSpec
from . import degrade, zoo
from .files import DatasetError
from .synthetic import DegradedDataset, gaussian8_kernel


def _scale_of(spec: DatasetSpec) -> int:
    match = re.search(r"-x(\d+)$", spec.name)
    if not match:
        raise DatasetError(f"{spec.name}: the source name must end in -x<scale>")
    return int(match.group(1))


def _div2krk_hr(gt: Path, lr: Path, scale: int) -> np.ndarray:
    """The ground truth cropped at its top-left to the LR size times the scale."""
    from PIL import Image

    with Image.open(lr) as handle:
        width, height = handle.size
    image = load_image(gt)
    if image.shape[0] < height * scale or image.shape[1] < width * scale:
        raise ImageError(f"{gt.name}: smaller than {lr.name} x{scale}")
    return np.ascontiguousarray(image[: height * scale, : width * scale])


class DIV2KRKDataset(Dataset):
    """DIV2KRK at one scale: ``lr_x<s>/im_N.png`` with ``gt/img_N_gt.png`` as HR.

    The HR is cropped at its top-left to exactly ``scale`` times the LR, and
    :meth:`kernel` returns the image's ground-truth kernel (``gt_k_x<s>/kernel_N.mat``).
    """

    NAME = "DIV2KRK"
    DOMAIN = "natural"

    def __init__(self, spec: DatasetSpec, argument: str | None = None) -> None:
        super().__init__(spec, argument)
        self.scale = _scale_of(spec)
        if self.scale not in (2, 4):
            raise DatasetError(f"{spec.name}: DIV2KRK exists at x2 and x4 only")
        self.root = zoo.require("div2krk")

    def _pairs(self) -> list[tuple[str, Path, Path]]:
        root = self.root
        pairs = []
        for lr in sorted((root / f"lr_x{self.scale}").glob("im_*.png")):
            number = lr.stem.removeprefix("im_")
            pairs.append((lr.stem, lr, root / "gt" / f"img_{number}_gt.png"))
        if not pairs:
            raise DatasetError(f"{self.spec.name}: no LR images in {root / f'lr_x{self.scale}'}")
        return pairs

    def items(self) -> Iterator[Item]:
        for image_id, lr, gt in self._pairs():
            yield Item(image_id=image_id, dataset=self.NAME, domain=self.DOMAIN,
                       lr=partial(load_image, lr), hr=partial(_div2krk_hr, gt, lr, self.scale),
                       source=str(lr))

    def kernel(self, image_id: str) -> degrade.Kernel:
        """The image's ground-truth kernel as DIV2KRK ships it (key ``Kernel`` of the .mat)."""
        from scipy.io import loadmat

        number = image_id.removeprefix("im_")
        path = self.root / f"gt_k_x{self.scale}" / f"kernel_{number}.mat"
        weights = np.asarray(loadmat(path)["Kernel"], dtype=np.float64)
        return degrade.Kernel(weights, self.scale, "div2krk", {"file": path.name})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "scale": self.scale, "datasets": {self.NAME: self.DOMAIN},
                "root": str(self.root),
                "protocol": f"DIV2KRK (KernelGAN) x{self.scale}: the published LR, HR cropped "
                            f"at its top-left to {self.scale} x the LR size"}


class Gaussian8Dataset(Dataset):
    """The Gaussian-8 setting of IKC and DAN at one scale over the zoo's HR benchmark sets:
    Set5, Set14, B100 and Urban100 (``sr-benchmarks``), and Manga109 once it was added by
    hand. Each set is one dataset; each HR image gives 8 items (:mod:`.degrade`)."""

    def __init__(self, spec: DatasetSpec, argument: str | None = None) -> None:
        super().__init__(spec, argument)
        self.scale = _scale_of(spec)
        degrade.gaussian8_sigmas(self.scale)  # only scales with an official range
        self.root = zoo.require("sr-benchmarks")

    def _parts(self) -> list[DegradedDataset]:
        folders = [(name, self.root / name) for name in zoo.BENCHMARK_SETS]
        if zoo.state(zoo.MANGA109) == "installed":
            folders.append(("Manga109", zoo.MANGA109.data / "Manga109"))
        domains = {**zoo.SR_BENCHMARKS.domains, **zoo.MANGA109.domains}
        return [DegradedDataset(self.spec, f"{folder}?kernel=gaussian8&scale={self.scale}"
                                f"&name={name}&domain={domains[name]}")
                for name, folder in folders]

    def items(self) -> Iterator[Item]:
        for part in self._parts():
            yield from part.items()

    def kernel(self, image_id: str) -> degrade.Kernel:
        return gaussian8_kernel(image_id, self.scale, degrade.gaussian8_sigmas(self.scale))

    def describe(self) -> dict[str, Any]:
        parts = self._parts()
        return {**super().describe(), "scale": self.scale,
                "datasets": {p.name: p.domain for p in parts},
                "sigmas": degrade.gaussian8_sigmas(self.scale),
                "protocol": degrade.GAUSSIAN8_PROTOCOL}
