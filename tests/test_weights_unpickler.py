"""Safe loading: the restricted unpickler and torch's weights-only loader never run file code."""

from __future__ import annotations

import argparse
import collections
import io
import os
import pickle
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="safe tensor loading needs torch")

from srarena.weights import UnsafePickle, WeightsInvalid  # noqa: E402
from srarena.weights.statedict import check_state_file, is_safetensors, load_state  # noqa: E402
from srarena.weights.unpickler import (  # noqa: E402
    load_restricted,
    numpy_globals,
    tensor_globals,
)


def _allowed():
    return {**tensor_globals(), **numpy_globals()}


class _Call:
    """Pickles as a call of ``func(*args)``: what a malicious file contains."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_tensors_parameters_and_numpy_scalars_round_trip(protocol):
    param = torch.nn.Parameter(torch.randn(3, 2))
    data = {
        "view": torch.arange(10.0)[2:7],
        "param": param,
        "half": collections.OrderedDict(b=torch.ones(2, dtype=torch.float16)),
        "f32": np.float32(1.25),
        "i64": np.int64(-7),
    }
    out = load_restricted(io.BytesIO(pickle.dumps(data, protocol=protocol)), _allowed())
    assert torch.equal(out["view"], data["view"])
    assert isinstance(out["param"], torch.nn.Parameter) and torch.equal(out["param"], param)
    assert isinstance(out["half"], collections.OrderedDict)
    assert out["half"]["b"].dtype == torch.float16
    assert out["f32"] == np.float32(1.25) and out["f32"].dtype == np.float32
    assert out["i64"] == -7 and out["i64"].dtype == np.int64


def test_malicious_pickle_is_refused_before_running(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        _Call(os.system, f"touch {marker}"),
        _Call(open, str(marker), "w"),
        _Call(eval, f"open({str(marker)!r}, 'w')"),
    ]
    for payload in payloads:
        path = tmp_path / "evil.pkl"
        path.write_bytes(pickle.dumps({"G_ema": payload}))
        with pytest.raises(UnsafePickle, match="is not allowed") as info:
            load_restricted(path, _allowed())
        name = payload.func.__name__
        assert f".{name} is not allowed" in str(info.value)
        assert str(path) in str(info.value)
    assert not marker.exists()


def test_code_hidden_in_an_embedded_storage_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    inner = pickle.dumps(_Call(os.system, f"touch {marker}"), protocol=2)
    import torch.storage

    blob = pickle.dumps(_Call(torch.storage._load_from_bytes, inner))
    with pytest.raises(UnsafePickle, match="posix.system|nt.system"):
        load_restricted(io.BytesIO(blob), _allowed())
    assert not marker.exists()


def test_numpy_object_dtypes_are_refused():
    blob = pickle.dumps(_Call(np.dtype, "O8", False, True))
    with pytest.raises(UnsafePickle, match="object dtypes"):
        load_restricted(io.BytesIO(blob), _allowed())


def test_persistent_ids_and_garbage_are_refused():
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return "x" if isinstance(obj, str) and obj == "ref" else None

    buffer = io.BytesIO()
    WithPid(buffer).dump(["ref"])
    with pytest.raises(UnsafePickle, match="persistent id"):
        load_restricted(io.BytesIO(buffer.getvalue()), _allowed())
    with pytest.raises(WeightsInvalid, match="not a readable pickle"):
        load_restricted(io.BytesIO(b"\x80\x04garbage"), _allowed())


def test_network_objects_map_to_srarena_stubs(monkeypatch):
    """A StyleGAN-like pickle: the persistence global maps to a stub that keeps data only."""
    executed = []

    def _reconstruct_persistent_obj(meta):  # what the official code does: exec the source
        executed.append(meta)
        exec(meta["module_src"])  # must never be reached

    fake = types.ModuleType("torch_utils.persistence")
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", fake)
    meta = {
        "type": "class", "version": 6, "class_name": "training.networks.Generator",
        "module_src": "raise SystemExit('source executed')",
        "state": {"_parameters": collections.OrderedDict(w=torch.nn.Parameter(torch.ones(2)))},
    }
    blob = pickle.dumps({"G_ema": _Call(_reconstruct_persistent_obj, meta)})
    monkeypatch.delitem(sys.modules, "torch_utils.persistence")

    class Stub:
        def __init__(self, meta):
            self.class_name = meta["class_name"]
            self.state = meta["state"]

    allowed = {**_allowed(), ("torch_utils.persistence", "_reconstruct_persistent_obj"): Stub}
    out = load_restricted(io.BytesIO(blob), allowed)
    assert isinstance(out["G_ema"], Stub) and not executed
    assert out["G_ema"].class_name == "training.networks.Generator"
    assert torch.equal(out["G_ema"].state["_parameters"]["w"], torch.ones(2))
    with pytest.raises(UnsafePickle, match="torch_utils.persistence._reconstruct_persistent_obj"):
        load_restricted(io.BytesIO(blob), _allowed())


def test_load_state_refuses_code_in_torch_checkpoints(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"params": {"w": torch.ones(1)}, "x": _Call(os.system, f"touch {marker}")}, path)
    with pytest.raises(UnsafePickle, match="refused it .*system"):
        load_state(path)
    assert not marker.exists()


def test_load_state_allow_list_and_unreadable_files(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"w": torch.ones(2), "args": argparse.Namespace(scale=4)}, path)
    with pytest.raises(UnsafePickle, match="Namespace"):
        load_state(path)
    assert load_state(path, allow=[argparse.Namespace])["args"].scale == 4
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsInvalid, match="not a readable torch checkpoint"):
        load_state(garbage)


def test_safetensors_are_recognised_by_content(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"conv.weight": torch.ones(4, 3, 3, 3)}, str(path))
    renamed = tmp_path / "model.safetensors.part"
    renamed.write_bytes(path.read_bytes())
    assert is_safetensors(renamed)
    assert load_state(renamed)["conv.weight"].shape == (4, 3, 3, 3)
    torch.save({"a": torch.ones(1)}, tmp_path / "plain.pth")
    assert not is_safetensors(tmp_path / "plain.pth")


def test_check_state_file_gives_a_readable_diff(tmp_path):
    expected = {"conv.weight": (4, 3, 3, 3), "conv.bias": (4,)}
    good = tmp_path / "good.pth"
    torch.save({"params_ema": {"conv.weight": torch.zeros(4, 3, 3, 3),
                               "conv.bias": torch.zeros(4)}}, good)
    assert check_state_file(good, expected, unwrap=("params_ema", "params")) == []
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(8, 3, 3, 3), "extra": torch.zeros(1)}, bad)
    problems = check_state_file(bad, expected)
    assert problems == [
        "missing keys (1): conv.bias",
        "unexpected keys (1): extra",
        "shape mismatches (1): conv.weight: expected [4, 3, 3, 3], file has [8, 3, 3, 3]",
    ]
