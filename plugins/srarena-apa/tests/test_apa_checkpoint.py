"""Official snapshots read through the restricted unpickler; srarena's fitted format."""

from __future__ import annotations

import io
import pickle
import warnings

import pytest
import torch
from srarena_apa import checkpoint as ckpt

from srarena.weights.errors import UnsafePickle, WeightsInvalid


def test_snapshot_networks(snapshot):
    assert set(snapshot.networks) == {"G", "D", "G_ema", "augment_pipe"}
    g = snapshot.network("G_ema", "Generator")
    assert g.source_sha256 in ckpt.KNOWN_SOURCES
    assert g.init_kwargs == {
        "z_dim": 32, "w_dim": 32, "c_dim": 0, "img_resolution": 32, "img_channels": 3,
        "mapping_kwargs": {"num_layers": 2},
        "synthesis_kwargs": {"channel_base": 128, "channel_max": 16, "num_fp16_res": 2,
                             "conv_clamp": 256},
    }
    assert snapshot.augment_p() == pytest.approx(0.3)
    assert snapshot.extra["dataset_resolution"] == 32
    with pytest.raises(WeightsInvalid, match="is a Discriminator"):
        snapshot.network("D", "Generator")


def test_snapshot_tensors_build_strictly(snapshot):
    kwargs, state = ckpt.snapshot_generator(snapshot)
    assert "synthesis.b32.conv1.noise_const" in state and "mapping.w_avg" in state
    assert not any(k.endswith("skip.bias") for k in state)  # None parameters are skipped
    generator = ckpt.build_generator(kwargs, state)
    for key, value in generator.state_dict().items():
        assert torch.equal(value, state[key]), key
    d = snapshot.network("D", "Discriminator")
    from srarena_apa.arch.networks import Discriminator

    Discriminator(**d.init_kwargs).load_state_dict(d.tensors(), strict=True)


def test_validator(apa, tmp_path):
    assert ckpt.validate("network-snapshot.pkl", apa.snapshot_path) == []
    not_pickle = tmp_path / "x.pkl"
    not_pickle.write_bytes(b"not a pickle at all")
    assert ckpt.validate("network-snapshot.pkl", not_pickle)
    other = tmp_path / "other.pkl"
    with open(other, "wb") as handle:
        pickle.dump({"G_ema": {"weights": [1, 2]}}, handle)
    problems = ckpt.validate("network-snapshot.pkl", other)
    assert problems and "no persisted networks" in problems[0]


def test_shape_mismatch_is_readable(snapshot):
    kwargs, state = ckpt.snapshot_generator(snapshot)
    kwargs = {**kwargs, "synthesis_kwargs": {**kwargs["synthesis_kwargs"], "channel_max": 8}}
    with pytest.raises(WeightsInvalid, match="shape mismatches"):
        ckpt.build_generator(kwargs, state)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_code_in_a_pickle_is_never_run(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Evil()}))
    with pytest.raises(UnsafePickle, match="system is not allowed"):
        ckpt.load_snapshot(path)


def _persistent(class_name: str, source: str, state: dict) -> bytes:
    """A pickle calling the persistence hook the way official snapshots do."""

    class Stub:
        def __reduce__(self):
            meta = dict(type="class", version=6, module_src=source, class_name=class_name,
                        state=state)
            return (_reconstruct_persistent_obj, (meta,))

    return pickle.dumps({"G_ema": Stub()})


def _reconstruct_persistent_obj(meta):  # pragma: no cover - only its name is pickled
    raise AssertionError("never called")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


def test_embedded_source_is_hashed_not_run(tmp_path, monkeypatch):
    import sys
    import types

    module = types.ModuleType("torch_utils.persistence")
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", module)
    source = "raise SystemExit('this source must never run')\n"
    data = _persistent("Generator", source, {"_parameters": {}, "_buffers": {},
                                             "_modules": {}, "_init_kwargs": {}})
    path = tmp_path / "unknown-source.pkl"
    path.write_bytes(data)
    with pytest.warns(UserWarning, match="not the official"):
        snap = ckpt.load_snapshot(path)
    assert snap.networks["G_ema"].class_name == "Generator"
    import hashlib

    assert snap.networks["G_ema"].source_sha256 == hashlib.sha256(source.encode()).hexdigest()


def test_snapshot_is_named_by_its_sha256_read_once(apa, tmp_path, monkeypatch):
    """The file's sha256; an installed snapshot's comes from the cache's record, unread."""
    import hashlib
    import shutil

    from srarena.weights import cache

    expected = hashlib.sha256(apa.snapshot_path.read_bytes()).hexdigest()
    assert ckpt.load_snapshot(apa.snapshot_path).sha256 == expected
    installed = tmp_path / apa.snapshot_path.name
    shutil.copy(apa.snapshot_path, installed)
    cache.record(tmp_path, installed.name, expected, "test")

    def unread(path, progress=None):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(ckpt, "sha256_file", unread)
    assert ckpt.load_snapshot(installed).sha256 == expected


def test_fitted_roundtrip(snapshot, tmp_path):
    kwargs, state = ckpt.snapshot_generator(snapshot)
    generator = ckpt.build_generator(kwargs, state)
    folder = tmp_path / "fitted"
    assert not ckpt.is_fitted(folder)
    with pytest.raises(WeightsInvalid, match="run fit first"):
        ckpt.load_fitted(folder)
    ckpt.save_fitted(folder, generator, kwargs, {"source": "test"})
    loaded, meta = ckpt.load_fitted(folder)
    assert meta["source"] == "test" and meta["format"] == ckpt.FORMAT
    for key, value in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    # the generator file is plain tensors: torch's weights-only loader accepts it
    with open(folder / ckpt.GENERATOR_FILE, "rb") as handle:
        assert torch.load(io.BytesIO(handle.read()), weights_only=True).keys() == state.keys()


def test_conditional_generators_are_refused():
    with pytest.raises(WeightsInvalid, match="conditional"):
        ckpt.check_generator_kwargs({"c_dim": 10})


def test_known_source_loads_without_warning(apa):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ckpt.load_snapshot(apa.snapshot_path)
