"""An HR folder degraded into LR with known, seeded blur kernels (the blind-SR protocol).

``degrade:PATH[?scale=8&kernel=div2krk&seed=0&...]``; options in :attr:`DegradedDataset.OPTIONS`.
Each HR image is cropped at its bottom/right to a multiple of the scale (the HR ground
truth the item returns), blurred with its own kernel, decimated (``degrade.py``) and rounded
to 8 bits, as a saved LR dataset would be. Each image's kernel comes from a random
generator seeded by ``(seed, sha256(image_id))``, so it depends on the seed and the
image's id only: adding or removing other files changes no kernel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..components import Item
from ..imageio import ImageError, load_image
from . import degrade
from .files import DatasetError
from .folder import FolderDataset

KERNELS = {
    "div2krk": "DIV2KRK protocol: noisy anisotropic x2 kernel composed up to the scale",
    "aniso": "anisotropic Gaussian, random sigmas in [0.3s, 2.5s] and angle",
    "iso": "isotropic Gaussian, random sigma in [0.2, s], or fixed with sigma=",
    "gaussian8": "Gaussian-8 protocol of IKC/DAN: each image blurred with 8 fixed isotropic "
                 "21x21 Gaussians, MATLAB bicubic downscale",
}


def _hr(path: Path, scale: int) -> np.ndarray:
    """The HR image cropped to a multiple of ``scale``."""
    image = load_image(path)
    h, w = image.shape[:2]
    if h < scale or w < scale:
        raise ImageError(f"{path.name}: {w}x{h} is smaller than the scale {scale}")
    return np.ascontiguousarray(degrade.modcrop(image, scale))


def _lr(path: Path, weights: np.ndarray, scale: int) -> np.ndarray:
    """The degraded, 8-bit-rounded LR image of one HR file."""
    return degrade.quantise(degrade.blur_downsample(_hr(path, scale), weights, scale))


def _gaussian8_lr(path: Path, sigma: float, scale: int) -> np.ndarray:
    """One Gaussian-8 LR image of one HR file, rounded to 8 bits."""
    return degrade.quantise(degrade.gaussian8_degrade(_hr(path, scale), sigma, scale))


def gaussian8_id(sigma: float, image_id: str) -> str:
    """The item id of one HR image degraded with one Gaussian-8 width: ``sigma1.8/baby``."""
    return f"sigma{round(sigma, 4):g}/{image_id}"


def gaussian8_kernel(image_id: str, scale: int, sigmas: list[float]) -> degrade.Kernel:
    """The kernel of a Gaussian-8 item: the width of its id's ``sigma<width>/`` prefix, as
    :func:`gaussian8_id` wrote it from one of ``sigmas``."""
    prefix = image_id.split("/", 1)[0] + "/"
    sigma = next((s for s in sigmas if gaussian8_id(s, "") == prefix), None)
    if sigma is None:
        raise KeyError(f"{image_id!r} is not a Gaussian-8 item of these widths")
    return degrade.Kernel(degrade.centred_gaussian(sigma), scale, "gaussian8", {"sigma": sigma})


class DegradedDataset(FolderDataset):
    """LR images made from an HR folder, with the HR kept for full-reference metrics."""

    OPTIONS = {
        "scale": "integer >= 2, default 8",
        "kernel": "div2krk (default), aniso, iso or gaussian8",
        "seed": "integer >= 0, default 0",
        "sigma": "iso only: one fixed sigma (HR pixels) for every image",
        "sigma_min": "lower bound of the random sigma range",
        "sigma_max": "upper bound of the random sigma range",
        "noise": "multiplicative kernel noise in [0, 1); default 0.25 for div2krk, else 0",
        "name": "dataset name, default <folder>-<kernel>-x<scale>",
        "domain": "domain of its images, default 'unknown'",
    }

    def configure(self, options: dict[str, str]) -> None:
        source = self.spec.name
        self.scale = _integer(options, "scale", 8, 2, source)
        self.seed = _integer(options, "seed", 0, 0, source)
        self.kind = options.get("kernel", "div2krk")
        if self.kind not in KERNELS:
            raise DatasetError(f"{source}: kernel must be one of {', '.join(KERNELS)}")
        if self.kind == "div2krk" and self.scale & (self.scale - 1):
            raise DatasetError(f"{source}: the div2krk protocol needs a power-of-two scale")
        if self.kind == "gaussian8":
            self._configure_gaussian8(options)
            return
        self.sigma = _number(options, "sigma", source)
        if self.sigma is not None and (self.kind != "iso" or self.sigma <= 0):
            raise DatasetError(f"{source}: sigma= is a positive number, for kernel=iso only")
        low, high = _number(options, "sigma_min", source), _number(options, "sigma_max", source)
        defaults = degrade.default_sigma_range(self.kind, self.scale)
        self.sigma_range = (
            defaults[0] if low is None else low,
            defaults[1] if high is None else high,
        )
        if not 0 < self.sigma_range[0] <= self.sigma_range[1]:
            raise DatasetError(f"{source}: need 0 < sigma_min <= sigma_max")
        noise = _number(options, "noise", source)
        if noise is None:
            noise = degrade.DIV2KRK_NOISE if self.kind == "div2krk" else 0.0
        self.noise = noise
        if not 0 <= self.noise < 1 or (self.noise and self.kind == "iso"):
            raise DatasetError(f"{source}: noise= is in [0, 1), for kernel=aniso or div2krk")

    def _configure_gaussian8(self, options: dict[str, str]) -> None:
        source = self.spec.name
        if {"sigma", "noise"} & set(options):
            raise DatasetError(f"{source}: kernel=gaussian8 takes sigma_min/sigma_max only")
        low, high = _number(options, "sigma_min", source), _number(options, "sigma_max", source)
        try:
            self.sigmas = degrade.gaussian8_sigmas(self.scale, low, high)
        except ValueError as exc:
            raise DatasetError(f"{source}: {exc}") from None

    def default_name(self) -> str:
        return f"{self.root.name or 'hr'}-{self.kind}-x{self.scale}"

    def kernel(self, image_id: str) -> degrade.Kernel:
        """The blur kernel of one image (a function of the seed and the id only; for
        gaussian8, of the ``sigma<width>/`` prefix of the id)."""
        if self.kind == "gaussian8":
            return gaussian8_kernel(image_id, self.scale, self.sigmas)
        digest = hashlib.sha256(image_id.encode("utf-8")).digest()
        rng = np.random.default_rng([self.seed, int.from_bytes(digest[:8], "big")])
        if self.kind == "div2krk":
            return degrade.random_div2krk(self.scale, rng, self.sigma_range, self.noise)
        if self.kind == "aniso":
            return degrade.random_anisotropic(self.scale, rng, self.sigma_range, self.noise)
        if self.sigma is not None:
            return degrade.isotropic(self.scale, self.sigma)
        return degrade.random_isotropic(self.scale, rng, self.sigma_range)

    def items(self) -> Iterator[Item]:
        if self.kind == "gaussian8":
            yield from self._gaussian8_items()
            return
        for image_id, path in self.images():
            weights = self.kernel(image_id).weights
            yield Item(
                image_id=image_id,
                dataset=self.name,
                domain=self.domain,
                lr=partial(_lr, path, weights, self.scale),
                hr=partial(_hr, path, self.scale),
                source=str(path),
            )

    def _gaussian8_items(self) -> Iterator[Item]:
        images = self.images()
        for sigma in self.sigmas:
            for image_id, path in images:
                yield Item(
                    image_id=gaussian8_id(sigma, image_id),
                    dataset=self.name,
                    domain=self.domain,
                    lr=partial(_gaussian8_lr, path, sigma, self.scale),
                    hr=partial(_hr, path, self.scale),
                    source=str(path),
                )

    def describe(self) -> dict[str, Any]:
        if self.kind == "gaussian8":
            return {**super().describe(), "scale": self.scale, "kernel": self.kind,
                    "sigmas": self.sigmas, "protocol": degrade.GAUSSIAN8_PROTOCOL}
        return {
            **super().describe(),
            "scale": self.scale,
            "kernel": self.kind,
            "seed": self.seed,
            "sigma": self.sigma,
            "sigma_range": list(self.sigma_range),
            "noise": self.noise,
            "protocol": (
                f"{KERNELS[self.kind]}; HR cropped to a multiple of {self.scale}, correlated "
                f"with the kernel (symmetric borders), decimated by {self.scale} at block "
                "centres, rounded to 8 bits; kernel rng seeded by (seed, sha256(image_id))"
            ),
        }


def _integer(options: dict[str, str], key: str, default: int, minimum: int, source: str) -> int:
    if key not in options:
        return default
    try:
        value = int(options[key])
    except ValueError:
        raise DatasetError(f"{source}: {key}= must be an integer, not {options[key]!r}") from None
    if value < minimum:
        raise DatasetError(f"{source}: {key}= must be at least {minimum}")
    return value


def _number(options: dict[str, str], key: str, source: str) -> float | None:
    if key not in options:
        return None
    try:
        value = float(options[key])
    except ValueError:
        raise DatasetError(f"{source}: {key}= must be a number, not {options[key]!r}") from None
    if not np.isfinite(value):
        raise DatasetError(f"{source}: {key}= must be finite")
    return value
