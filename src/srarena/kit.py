"""Helpers a plugin may use, under the promise of plugin API 1 (see docs/plugins.md).

Everything a plugin needs beyond the contract in :mod:`srarena` comes from here, so the core
can reorganise its private modules without breaking a plugin: safe loading of weight files,
checksums, the weights cache and its errors, exact CUDA settings, atomic writes, image
reading and PNG writing, 8-bit conversions, the degradation kernels of the study's datasets,
the resize filters, and the listing layout of srarena's commands (tables fitted to the
terminal's width, ``--format table|json``). Each name is imported from its module on first
use, so importing the kit (as a plugin's registration does) costs nothing; none imports
torch or the HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .atomic import atomic_write, atomic_write_text
    from .cli.layout import Column as ListColumn
    from .cli.layout import Format as ListFormat
    from .cli.layout import (
        emit_json,
        format_option,
        json_option,
        print_table,
        short_source,
        wants_json,
    )
    from .datasets.degrade import gaussian, random_anisotropic, random_isotropic
    from .engine.cuda import exact_cuda
    from .imageio import (
        FILTERS,
        ImageError,
        from_uint8,
        load_channels,
        load_image,
        luma,
        resize,
        save_png,
        to_rgb,
        to_uint8,
        to_uint8_float32,
    )
    from .weights.cache import folder as weights_folder
    from .weights.cache import known_sha256, sha256_file
    from .weights.errors import UnsafePickle, WeightsError, WeightsInvalid, WeightsMissing
    from .weights.statedict import check_state_file, diff_shapes, load_state, shapes
    from .weights.unpickler import load_restricted, numpy_globals, tensor_globals
    from .weights.validate import add as add_weights

_HOMES = {
    ".atomic": ("atomic_write", "atomic_write_text"),
    ".cli.layout": ("emit_json", "format_option", "json_option", "print_table", "short_source",
                    "wants_json"),
    ".datasets.degrade": ("gaussian", "random_anisotropic", "random_isotropic"),
    ".engine.cuda": ("exact_cuda",),
    ".imageio": ("FILTERS", "ImageError", "from_uint8", "load_channels", "load_image", "luma",
                 "resize", "save_png", "to_rgb", "to_uint8", "to_uint8_float32"),
    ".weights.cache": ("known_sha256", "sha256_file"),
    ".weights.errors": ("UnsafePickle", "WeightsError", "WeightsInvalid", "WeightsMissing"),
    ".weights.statedict": ("check_state_file", "diff_shapes", "load_state", "shapes"),
    ".weights.unpickler": ("load_restricted", "numpy_globals", "tensor_globals"),
}
_RENAMED = {"weights_folder": (".weights.cache", "folder"),
            "add_weights": (".weights.validate", "add"),
            "ListColumn": (".cli.layout", "Column"),
            "ListFormat": (".cli.layout", "Format")}

__all__ = [
    "FILTERS",
    "ImageError",
    "ListColumn",
    "ListFormat",
    "UnsafePickle",
    "WeightsError",
    "WeightsInvalid",
    "WeightsMissing",
    "add_weights",
    "atomic_write",
    "atomic_write_text",
    "check_state_file",
    "diff_shapes",
    "emit_json",
    "exact_cuda",
    "format_option",
    "from_uint8",
    "gaussian",
    "json_option",
    "known_sha256",
    "load_channels",
    "load_image",
    "load_restricted",
    "load_state",
    "luma",
    "numpy_globals",
    "print_table",
    "random_anisotropic",
    "random_isotropic",
    "resize",
    "save_png",
    "sha256_file",
    "shapes",
    "short_source",
    "tensor_globals",
    "to_rgb",
    "to_uint8",
    "to_uint8_float32",
    "wants_json",
    "weights_folder",
]


def __getattr__(name: str) -> Any:
    for module, names in _HOMES.items():
        if name in names:
            return getattr(importlib.import_module(module, __package__), name)
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(importlib.import_module(module, __package__), attr)
    raise AttributeError(f"module 'srarena.kit' has no attribute {name!r}")
