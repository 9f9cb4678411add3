"""Loading official ``network-snapshot-*.pkl`` files safely, and srarena's fitted format.

An official snapshot pickles the networks as ``torch_utils.persistence`` objects, each
reducing to ``_reconstruct_persistent_obj(meta)`` with the full source of the module that
defined it in ``meta``; the official loader ``exec``\\ s that source. Here the pickle goes
through srarena's restricted unpickler: the persistence hook is a stub that keeps the
class name, the pickled attributes and the sha256 of the embedded source as plain data
(never executing it), and only tensor, numpy-scalar and ``EasyDict`` globals are allowed.
The stubs' parameters and buffers become state dicts for srarena's own modules, built
from the pickled constructor arguments and loaded strictly.

A fitted state (what ``fit`` writes, from training or from a snapshot) is a folder with
``generator.pt`` (the EMA generator's tensors; loaded with ``weights_only=True``) and
``apa.json`` (constructor arguments and provenance); during training it also holds
``training-state.pt`` for resuming.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from srarena.kit import (
    WeightsInvalid,
    atomic_write,
    atomic_write_text,
    diff_shapes,
    known_sha256,
    load_restricted,
    load_state,
    numpy_globals,
    sha256_file,
    shapes,
    tensor_globals,
)

from .arch.networks import Generator

SNAPSHOT_FILE = "network-snapshot.pkl"
GENERATOR_FILE = "generator.pt"
META_FILE = "apa.json"
STATE_FILE = "training-state.pt"
FORMAT = "srarena-apa/1"

# sha256 of the module source embedded in official snapshots (UTF-8, no BOM), identical
# in EndlessSora/DeceiveD@042c5c4 and NVlabs/stylegan2-ada-pytorch@d72cc7d.
KNOWN_SOURCES = {
    "53b4e1ec457171d4e2c1454d48013765ab626141c35cdd383b020950effe11a5":
        "training/networks.py of StyleGAN2-ADA (PyTorch) and DeceiveD",
    "77eb17876bc7ba87cdc9281caf925daf507ce0937b84d0f32134d4d08e13061e":
        "training/augment.py of StyleGAN2-ADA (PyTorch)",
}


@dataclass
class PersistentObject:
    """What a pickled persistent object holds, kept as data: never instantiated."""

    class_name: str
    state: dict[str, Any]
    source_sha256: str

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """The module's parameters and persistent buffers, recursively, by dotted name."""
        out: dict[str, torch.Tensor] = {}
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if value is None or (group == "_buffers" and name in skip):
                    continue
                if not isinstance(value, torch.Tensor):
                    raise WeightsInvalid(f"{prefix}{name} is a {type(value).__name__}, "
                                         "not a tensor")
                out[prefix + name] = value.detach()
        for name, child in (self.state.get("_modules") or {}).items():
            if child is None:
                continue
            if not isinstance(child, PersistentObject):
                raise WeightsInvalid(f"{prefix}{name} is not a persisted network module")
            out.update(child.tensors(f"{prefix}{name}."))
        return out

    @property
    def init_kwargs(self) -> dict[str, Any]:
        args = self.state.get("_init_args") or ()
        if args:
            raise WeightsInvalid(f"{self.class_name} was built with positional arguments; "
                                 "only keyword-built networks (as train.py writes) load")
        return _plain(self.state.get("_init_kwargs") or {})


def _plain(value: Any) -> Any:
    """Nested dicts (EasyDicts included) and lists as plain Python containers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _reconstruct(meta: Any) -> PersistentObject:
    """Stand-in for ``torch_utils.persistence._reconstruct_persistent_obj``: keeps the
    pickled data and the hash of the embedded source; runs nothing."""
    if not isinstance(meta, Mapping) or meta.get("type") != "class":
        raise WeightsInvalid("a persistent object of an unknown kind")
    source, name, state = meta.get("module_src"), meta.get("class_name"), meta.get("state")
    if not isinstance(source, str) or not isinstance(name, str) or not isinstance(state, dict):
        raise WeightsInvalid("a persistent object without source, class name or state")
    return PersistentObject(name, state, hashlib.sha256(source.encode("utf-8")).hexdigest())


class _EasyDict(dict):
    """``dnnlib.util.EasyDict`` as a plain dict (its attribute access is not needed)."""


def snapshot_globals() -> dict[tuple[str, str], Any]:
    """The allow-list for official snapshots: tensors, numpy scalars, EasyDict, the stub."""
    return {
        **tensor_globals(),
        **numpy_globals(),
        ("dnnlib.util", "EasyDict"): _EasyDict,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct,
    }


@dataclass
class Snapshot:
    """The networks of an official snapshot as data; ``sha256`` names the file."""

    networks: dict[str, PersistentObject]
    sha256: str
    extra: dict[str, Any] = field(default_factory=dict)

    def network(self, name: str, class_name: str) -> PersistentObject:
        net = self.networks.get(name)
        if net is None:
            raise WeightsInvalid(f"the snapshot has no {name} (it holds "
                                 f"{', '.join(sorted(self.networks)) or 'no networks'})")
        if net.class_name != class_name:
            raise WeightsInvalid(f"{name} is a {net.class_name}, expected a {class_name}")
        return net

    def augment_p(self) -> float | None:
        pipe = self.networks.get("augment_pipe")
        if pipe is None:
            return None
        p = (pipe.state.get("_buffers") or {}).get("p")
        return float(p) if isinstance(p, torch.Tensor) else None


def load_snapshot(path: str | Path) -> Snapshot:
    """Read an official ``network-snapshot-*.pkl`` without executing anything from it."""
    data = load_restricted(path, snapshot_globals())
    if not isinstance(data, Mapping):
        raise WeightsInvalid(f"{path}: not a network snapshot (a {type(data).__name__})")
    networks = {str(k): v for k, v in data.items() if isinstance(v, PersistentObject)}
    if not networks:
        raise WeightsInvalid(f"{path}: not a network snapshot (no persisted networks)")
    for name, net in networks.items():
        if net.source_sha256 not in KNOWN_SOURCES:
            warnings.warn(f"{path}: {name}'s embedded source (sha256 {net.source_sha256[:12]}) "
                          "is not the official StyleGAN2-ADA/DeceiveD code; loading its "
                          "weights into srarena's modules anyway", stacklevel=2)
    resolution = (data.get("training_set_kwargs") or {}).get("resolution")
    # the cache's record names an installed file without reading its hundreds of MB again
    sha256 = known_sha256(Path(path)) or sha256_file(Path(path))
    return Snapshot(networks, sha256, extra={"dataset_resolution": resolution})


def check_generator_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Generator arguments srarena can run: unconditional, 'skip' architecture."""
    kwargs = _plain(kwargs)
    if kwargs.get("c_dim", 0):
        raise WeightsInvalid("conditional generators (c_dim > 0) are not supported: APA's "
                             "few-shot models are unconditional")
    return kwargs


def _new_generator(kwargs: Mapping[str, Any]) -> Generator:
    """A freshly initialised generator; the global torch RNG is left as it was."""
    try:
        with torch.random.fork_rng(devices=[]):
            return Generator(**check_generator_kwargs(kwargs))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, WeightsInvalid):
            raise
        raise WeightsInvalid(f"generator arguments srarena cannot build: {exc}") from exc


def build_generator(kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> Generator:
    """srarena's generator for ``kwargs``, loaded strictly from ``state`` (a readable
    key/shape diff when they do not fit)."""
    generator = _new_generator(kwargs)
    problems = diff_shapes(shapes(generator.state_dict()), shapes(state))
    if problems:
        raise WeightsInvalid("the weights do not fit the generator: " + "; ".join(problems))
    generator.load_state_dict(dict(state), strict=True)
    return generator


def snapshot_generator(snapshot: Snapshot, name: str = "G_ema"
                       ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Constructor arguments and tensors of the snapshot's generator ``name``."""
    net = snapshot.network(name, "Generator")
    return check_generator_kwargs(net.init_kwargs), net.tensors()


def validate(filename: str, path: Path) -> list[str]:
    """WeightSet validator: problems of ``path`` as an official snapshot (empty if none)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            snapshot = load_snapshot(path)
        kwargs, state = snapshot_generator(snapshot)
        expected = shapes(_new_generator(kwargs).state_dict())
    except (WeightsInvalid, OSError) as exc:
        return [f"{filename}: {exc}"]
    return diff_shapes(expected, shapes(state))


# --- srarena's fitted format ------------------------------------------------------------


def save_fitted(folder: Path, generator: Generator, kwargs: Mapping[str, Any],
                meta: Mapping[str, Any]) -> None:
    """Write the fitted EMA generator and its description into ``folder``."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    atomic_write(folder / GENERATOR_FILE, lambda p: torch.save(tensors, p))
    record = {"format": FORMAT, "G_kwargs": _plain(kwargs), **_plain(meta)}
    atomic_write_text(folder / META_FILE, json.dumps(record, indent=1, sort_keys=True))


def is_fitted(folder: Path) -> bool:
    return (folder / GENERATOR_FILE).is_file() and (folder / META_FILE).is_file()


def load_fitted(folder: Path) -> tuple[Generator, dict[str, Any]]:
    """The generator and description written by :func:`save_fitted`."""
    if not is_fitted(folder):
        raise WeightsInvalid(f"{folder}: no fitted APA generator ({GENERATOR_FILE} and "
                             f"{META_FILE}); run fit first")
    meta = json.loads((folder / META_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise WeightsInvalid(f"{folder}: unknown format {meta.get('format')!r}")
    state = load_state(folder / GENERATOR_FILE)
    return build_generator(meta["G_kwargs"], state), meta


def save_training_state(folder: Path, state: Mapping[str, Any]) -> None:
    atomic_write(folder / STATE_FILE, lambda p: torch.save(dict(state), p))


def load_training_state(folder: Path) -> dict[str, Any] | None:
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    return load_state(path)
