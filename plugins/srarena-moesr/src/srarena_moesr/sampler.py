"""The fine-tuning crop sampler (KernelGAN-style, as MoESR's data generator; NumPy only).

Crop centres are drawn with probability proportional to a blurred gradient map, from a
``RandomState`` seeded with 100 (the official seed); each crop is then rotated by 180° with
probability 0.4. Everything is float64 as in the official code so that the draws are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import convolve2d

OFFICIAL_SEED = 100
FLIP_PROBABILITY = 0.4
GREY = (0.299, 0.587, 0.114)


def _zero_border(a: np.ndarray, edge: int) -> np.ndarray:
    out = np.zeros_like(a)
    out[edge:-edge, edge:-edge] = a[edge:-edge, edge:-edge]
    return out


def _clip_extreme(a: np.ndarray, percent: float) -> np.ndarray:
    """Shift the value at the ``percent`` quantile to 0 and clip to the next larger value."""
    ordered = np.sort(a.ravel())
    pivot = int(percent * len(ordered))
    low = ordered[pivot]
    high = ordered[pivot + 1] if ordered[pivot + 1] > low else low + 10e-6
    return np.clip(a, low, high) - low


def gradient_map(image: np.ndarray, window: int = 5, percent: float = 0.97) -> np.ndarray:
    """Where the image has structure: |∂x|, |∂y| clipped at their 97th percentile plus the
    (unclipped) gradient magnitude, each normalised, box-blurred and scaled to mean 1."""
    gx, gy = np.gradient(np.dot(image, list(GREY)))
    magnitude = np.sqrt(gx**2 + gy**2)
    ax = _clip_extreme(_zero_border(np.abs(gx), window), percent)
    ay = _clip_extreme(_zero_border(np.abs(gy), window), percent)
    magnitude = _zero_border(magnitude, window)
    combined = ax / ax.sum() + ay / ay.sum() + magnitude / magnitude.sum()
    blurred = convolve2d(combined, np.ones((window, window)), "same") / window**2
    return blurred / np.mean(blurred)


def probability_vector(loss_map: np.ndarray, small_crop: int) -> np.ndarray:
    """Crop-centre probabilities: the map box-blurred over half a small crop, zero near edges."""
    half = small_crop // 2
    blurred = convolve2d(loss_map, np.ones((half, half)), "same") / half**2
    prob = _zero_border(blurred, half).ravel()
    total = prob.sum()
    return prob / total if total != 0 else np.ones_like(prob) / prob.shape[0]


def prepare_image(image: np.ndarray, scale: int, real: bool) -> np.ndarray:
    """Shave 10 px per side of synthetic (not ``real``) inputs larger than 160 px, then cut
    the trailing rows/columns so both sides are multiples of ``scale``."""
    if not real and image.shape[0] > 160 and image.shape[1] > 160:
        image = image[10:-10, 10:-10]
    rows = image.shape[0] - image.shape[0] % scale
    cols = image.shape[1] - image.shape[1] % scale
    return image[:rows, :cols]


@dataclass(frozen=True)
class Crop:
    """One training pair's positions: big ("HR") and small ("LR") crops, and their 180° flips."""

    big_top: int
    big_left: int
    big_flip: bool
    small_top: int
    small_left: int
    small_flip: bool


class CropSampler:
    """The sequence of crops for ``iterations`` fine-tuning steps on one LR image.

    ``image`` is RGB float64 (H, W, 3) in [0, 1]; crops are ``crop`` (big) and
    ``crop // scale`` (small) pixels square.
    """

    def __init__(
        self, image: np.ndarray, scale: int, crop: int, iterations: int, real: bool
    ) -> None:
        self.image = prepare_image(image, scale, real)
        self.big = crop
        self.small = crop // scale
        rows, cols = self.image.shape[:2]
        if rows < crop or cols < crop:
            raise ValueError(
                f"fine-tuning needs an LR image of at least {crop}x{crop} pixels after "
                f"preparation, got {rows}x{cols}; lower the crop size"
            )
        prob = probability_vector(gradient_map(self.image), self.small)
        self.rng = np.random.RandomState(OFFICIAL_SEED)
        self.big_centres = self.rng.choice(len(prob), iterations, p=prob)
        self.small_centres = self.rng.choice(len(prob), iterations, p=prob)

    def _top_left(self, centre: int, size: int) -> tuple[int, int]:
        rows, cols = self.image.shape[:2]
        row, col = int(centre / cols), centre % cols
        top = min(max(0, row - size // 2), rows - size)
        left = min(max(0, col - size // 2), cols - size)
        return int(top - top % 2), int(left - left % 2)

    def crops(self) -> list[Crop]:
        """Positions and flips in drawing order (the flips consume the shared stream)."""
        out = []
        for big_centre, small_centre in zip(self.big_centres, self.small_centres, strict=True):
            big_top, big_left = self._top_left(int(big_centre), self.big)
            small_top, small_left = self._top_left(int(small_centre), self.small)
            big_flip = bool(self.rng.rand() < FLIP_PROBABILITY)
            small_flip = bool(self.rng.rand() < FLIP_PROBABILITY)
            out.append(Crop(big_top, big_left, big_flip, small_top, small_left, small_flip))
        return out

    def cut(self, top: int, left: int, size: int, flip: bool) -> np.ndarray:
        """The crop as float32 (3, size, size), rotated by 180° when ``flip``."""
        patch = self.image[top : top + size, left : left + size]
        if flip:
            patch = patch[::-1, ::-1]
        return np.ascontiguousarray(patch.transpose(2, 0, 1), dtype=np.float32)
