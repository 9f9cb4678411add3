"""Reaching a requested scale from an upscaler's native scales."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..specs import UpscalerSpec, WeightSet


class ScaleError(ValueError):
    """The requested scale cannot be reached."""


@dataclass(frozen=True)
class Chain:
    """Passes of native scales, then an optional bicubic resize to the exact target."""

    steps: tuple[int, ...]
    target: int

    @property
    def product(self) -> int:
        return math.prod(self.steps)

    @property
    def needs_resize(self) -> bool:
        return self.product != self.target

    def label(self) -> str:
        """E.g. ``x2_x4`` (the study's naming) or ``x3_x3_resize8``."""
        text = "_".join(f"x{s}" for s in self.steps)
        return text + (f"_resize{self.target}" if self.needs_resize else "")


def plan_chain(native: tuple[int, ...] | None, target: int, max_steps: int = 4) -> Chain:
    """The shortest chain of native scales whose product is ``target``.

    Ties go to the ascending order (x2 then x4, as the study ran DAN and MoESR). When no
    exact product exists, the smallest overshoot is used and the result is resized down to
    the target with bicubic interpolation (recorded in the label).
    """
    if target < 1:
        raise ScaleError(f"scale must be a positive integer, got {target}")
    if native is None:
        return Chain((target,), target) if target > 1 else Chain((), 1)
    if target == 1:
        return Chain((), 1)
    scales = sorted(set(native))
    best_over: tuple[int, ...] | None = None
    for length in range(1, max_steps + 1):
        for combo in combinations_with_replacement(scales, length):
            product = math.prod(combo)
            if product == target:
                return Chain(tuple(combo), target)
            if product > target and (best_over is None or product < math.prod(best_over)):
                best_over = combo
    if best_over is None:
        raise ScaleError(f"native scales {scales} cannot reach x{target} in {max_steps} passes")
    return Chain(tuple(best_over), target)



def chain_of(spec: UpscalerSpec, scale: int) -> Chain | None:
    """How ``spec`` reaches ``scale`` (None for a generative upscaler, which generates at its
    size); raises :class:`ScaleError`."""
    return None if spec.mode == "generative" else plan_chain(spec.scales, scale)


def weights_for(spec: UpscalerSpec, chain: Chain | None) -> WeightSet | None:
    """The part of ``spec``'s weight set that a run through ``chain`` needs."""
    if spec.weights is None:
        return None
    return spec.weights.for_scales(chain.steps if chain else None)
