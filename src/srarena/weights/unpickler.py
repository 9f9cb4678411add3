"""A restricted unpickler for checkpoint formats that are pickles of network objects.

Some formats pickle whole Python objects rather than a state dict, e.g. StyleGAN2-ADA's
``network-snapshot-*.pkl`` (used by APA), whose network classes reduce to
``torch_utils.persistence._reconstruct_persistent_obj`` with their module source inside.
``pickle.load`` on such a file would import and call whatever the file names and ``exec``
that source. Here every global the pickle asks for goes through :meth:`find_class`, which
answers only from an explicit allow-list mapping ``(module, name)`` to a callable of
srarena's own choosing; any other global raises :class:`UnsafePickle` naming it, before
anything is called. The callables receive the pickled arguments as data and must not
execute anything taken from the file.

A format helper composes its allow-list from the pieces here and its own stubs::

    from srarena.weights.unpickler import load_restricted, numpy_globals, tensor_globals

    allowed = {
        **tensor_globals(),      # tensors, parameters, storages (torch's safe loader)
        **numpy_globals(),       # numpy scalars and dtypes, object dtypes refused
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): keep_meta_as_data,
    }
    snapshot = load_restricted(path, allowed)
"""

from __future__ import annotations

import collections
import io
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from .errors import UnsafePickle, WeightsInvalid

Allowed = Mapping[tuple[str, str], Callable[..., Any]]


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves globals only through an allow-list."""

    def __init__(self, file: IO[bytes], allowed: Allowed, source: str = "pickle") -> None:
        super().__init__(file)
        self.allowed = dict(allowed)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UnsafePickle(
                f"{self.source}: global {module}.{name} is not allowed; srarena loads pickles "
                "only through an allow-list of known classes and never runs code from a file"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle(f"{self.source}: persistent id {pid!r} is not supported")


def load_restricted(source: str | Path | IO[bytes], allowed: Allowed) -> Any:
    """Unpickle a file (path or binary file object) admitting only ``allowed`` globals.

    Raises :class:`UnsafePickle` for a global outside the allow-list and
    :class:`WeightsInvalid` for a file that is not a readable pickle.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            return _load(handle, allowed, str(source))
    return _load(source, allowed, getattr(source, "name", "pickle"))


def _load(handle: IO[bytes], allowed: Allowed, name: str) -> Any:
    try:
        return RestrictedUnpickler(handle, allowed, source=name).load()
    except UnsafePickle:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise WeightsInvalid(f"{name}: not a readable pickle: {type(exc).__name__}: {exc}") from exc


# --- allow-list pieces ----------------------------------------------------------------------


def _storage_from_bytes(data: bytes) -> Any:
    """A torch storage pickled by value, loaded by torch's own safe (weights-only) loader."""
    import torch

    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickle(f"torch.storage._load_from_bytes expects bytes, got {type(data)}")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafePickle(f"an embedded torch storage was refused: {first_line(exc)}") from exc


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, limited to latin-1."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise UnsafePickle(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode("latin1")


def tensor_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    """Globals that plainly pickled torch tensors and parameters need (imports torch)."""
    import torch._utils

    return {
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
    }


def _numpy_dtype(spec: Any, align: bool = False, copy: bool = False) -> Any:
    import numpy as np

    if not isinstance(spec, str):
        raise UnsafePickle(f"numpy.dtype from {type(spec).__name__} is not allowed")
    dtype = np.dtype(spec, bool(align), bool(copy))
    if dtype.hasobject:
        raise UnsafePickle("numpy object dtypes are not allowed")
    return dtype


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    import numpy as np

    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise UnsafePickle("only numpy scalars of plain dtypes with byte data are allowed")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def numpy_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    """Globals for numpy scalars and dtypes (numpy 1 and 2 module names); no object dtypes."""
    return {
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
        ("numpy", "dtype"): _numpy_dtype,
    }


def first_line(exc: BaseException) -> str:
    """The informative line of torch's weights-only refusal (the global it refused)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if any(key in line for key in ("GLOBAL", "Unsupported", "WeightsUnpickler error")):
            return line
    return lines[0] if lines else type(exc).__name__
