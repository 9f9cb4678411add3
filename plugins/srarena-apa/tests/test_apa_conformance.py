"""srarena's conformance kit on both upscalers."""

from __future__ import annotations

import pickle

import pytest

from srarena import testing

TINY = {"kimg": 0.016, "batch": 4, "channel_base": 128, "channel_max": 16, "z_dim": 32}


@pytest.mark.parametrize("name", ["apa", "apa-pretrained"])
def test_spec(name):
    testing.check_spec(testing.registered("upscaler", name))


def test_registration_imports_no_torch():
    testing.check_registration_without_torch("srarena_apa.plugin")


def test_generative_contract_trained():
    spec = testing.with_options(testing.registered("upscaler", "apa"), **TINY)
    testing.check_generative(spec, size=16)


def test_generative_contract_pretrained(apa):
    spec = testing.registered("upscaler", "apa-pretrained")
    ctx = testing.context(weights={"network-snapshot.pkl": apa.snapshot_path})
    testing.check_generative(spec, ctx, size=32)


def test_weights_roundtrip(apa, tmp_path, monkeypatch):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(pickle.dumps({"G_ema": [1, 2, 3]}))
    spec = testing.registered("upscaler", "apa-pretrained")
    resolved = testing.check_weights_roundtrip(
        spec, {"network-snapshot.pkl": apa.snapshot_path},
        broken={"network-snapshot.pkl": broken})
    assert resolved["network-snapshot.pkl"].read_bytes() == apa.snapshot_path.read_bytes()
