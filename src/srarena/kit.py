"""Helpers a plugin may use, under the promise of plugin API 1 (see docs/plugins.md).

Everything a plugin needs beyond the contract in :mod:`srarena` comes from here, so the core
can reorganise its private modules without breaking a plugin: safe loading of weight files,
checksums and the weights errors, exact CUDA settings, atomic writes, image reading and PNG
writing, 8-bit conversions, the degradation kernels of the study's datasets and the resize
filters. Importing this module
imports neither torch nor the HTTP stack.
"""

from __future__ import annotations

from .atomic import atomic_write, atomic_write_text
from .datasets.degrade import gaussian, random_anisotropic, random_isotropic
from .engine.cuda import exact_cuda
from .imageio import (
    FILTERS,
    ImageError,
    from_uint8,
    load_image,
    resize,
    save_png,
    to_uint8,
    to_uint8_float32,
)
from .weights.cache import folder as weights_folder
from .weights.cache import known_sha256, sha256_file
from .weights.errors import UnsafePickle, WeightsError, WeightsInvalid, WeightsMissing
from .weights.statedict import check_state_file, diff_shapes, load_state, shapes
from .weights.unpickler import load_restricted, numpy_globals, tensor_globals
from .weights.validate import add as add_weights

__all__ = [
    "FILTERS",
    "ImageError",
    "UnsafePickle",
    "WeightsError",
    "WeightsInvalid",
    "WeightsMissing",
    "add_weights",
    "atomic_write",
    "atomic_write_text",
    "check_state_file",
    "diff_shapes",
    "exact_cuda",
    "from_uint8",
    "gaussian",
    "known_sha256",
    "load_image",
    "load_restricted",
    "load_state",
    "numpy_globals",
    "random_anisotropic",
    "random_isotropic",
    "resize",
    "save_png",
    "sha256_file",
    "shapes",
    "tensor_globals",
    "to_uint8",
    "to_uint8_float32",
    "weights_folder",
]
