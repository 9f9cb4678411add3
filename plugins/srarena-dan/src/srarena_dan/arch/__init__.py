"""The DAN networks (torch), with the official module names and state-dict keys."""

from __future__ import annotations

from ..config import Variant
from .common import AlternatingNet, Unrolled
from .danv1 import DANv1
from .danv2 import DANv2

__all__ = ["AlternatingNet", "DANv1", "DANv2", "Unrolled", "build"]


def build(variant: Variant) -> AlternatingNet:
    """An uninitialised network of the given official configuration."""
    if variant.version == "v1":
        return DANv1(variant.nf, variant.nb, variant.scale, variant.kernel_size,
                     variant.code_len, variant.loop)
    return DANv2(variant.nf, variant.nb, variant.ng, variant.scale, variant.kernel_size,
                 variant.code_len, variant.loop)
