"""The embedded sample set: real photographs of five domains, with HR ground truth.

Six images from the scikit-image wheel (``data/samples/PROVENANCE.md``: origin, licence,
crop). Each PNG is an HR ground truth whose sides are multiples of 8; its LR is made on load
by a fixed, documented degradation: an isotropic Gaussian blur of sigma ``0.5 * 8 = 4`` HR
pixels (a 26 x 26 kernel), decimation by 8 at block centres (``degrade.blur_downsample``)
and rounding to 8 bits. The retina is 1024 x 1024, so its LR is the study's 128 x 128.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..components import Dataset, Item
from ..imageio import load_image
from . import degrade

SCALE = 8
SIGMA = 0.5 * SCALE


@dataclass(frozen=True)
class Sample:
    """One embedded image: id (file stem), domain and a one-line description."""

    image_id: str
    domain: str
    description: str

    @property
    def dataset(self) -> str:
        """One dataset per domain (``samples-medical``), so datasets nest in domains."""
        return f"samples-{self.domain.lower()}"


SAMPLES = (
    Sample("astronaut", "People", "astronaut Eileen Collins, NASA portrait"),
    Sample("chelsea", "Fauna", "Chelsea the cat, close-up"),
    Sample("coffee", "Food", "espresso cup on a wooden table"),
    Sample("hubble_deep_field", "Astronomy", "Hubble eXtreme Deep Field, centre crop"),
    Sample("immunohistochemistry", "Medical", "IHC-stained colonic glands (microscopy)"),
    Sample("retina", "Medical", "fundus photograph of a normal left eye"),
)


def folder() -> Path:
    """The folder that holds the sample PNGs, PROVENANCE.md and LICENSE.txt."""
    return Path(str(resources.files("srarena.datasets") / "data" / "samples"))


@lru_cache(maxsize=1)
def kernel() -> degrade.Kernel:
    """The samples' blur kernel (isotropic Gaussian, sigma 4 HR pixels, for x8)."""
    return degrade.isotropic(SCALE, SIGMA)


def degrade_sample(hr: np.ndarray) -> np.ndarray:
    """The samples' LR of an HR image (sides multiples of 8)."""
    return degrade.quantise(degrade.blur_downsample(hr, kernel().weights, SCALE))


def _lr(path: Path) -> np.ndarray:
    return degrade_sample(load_image(path))


class SampleDataset(Dataset):
    """The embedded samples: one dataset per domain (``samples-<domain>``), HR included."""

    def items(self) -> Iterator[Item]:
        root = folder()
        for sample in SAMPLES:
            path = root / f"{sample.image_id}.png"
            yield Item(
                image_id=sample.image_id,
                dataset=sample.dataset,
                domain=sample.domain,
                lr=partial(_lr, path),
                hr=partial(load_image, path),
                source=f"srarena samples: {sample.description} (scikit-image data)",
            )

    def kernel(self, image_id: str) -> degrade.Kernel:
        """The blur kernel that made every sample's LR (the same for all images)."""
        return kernel()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "scale": SCALE,
            "degradation": (
                f"isotropic Gaussian blur sigma={SIGMA:g} HR px ({kernel().size}x"
                f"{kernel().size}), decimation by {SCALE} at block centres, 8-bit rounding"
            ),
            "images": {s.image_id: f"{s.domain} ({s.dataset})" for s in SAMPLES},
        }
