"""``blindsr`` passes srarena's conformance suite (``srarena.testing``)."""

from __future__ import annotations

import torch
from srarena_blindsr import arch

from srarena import testing


def test_spec_conforms():
    testing.check_spec(testing.registered("upscaler", "blindsr"))


def test_registration_imports_no_torch():
    testing.check_registration_without_torch("srarena_blindsr.plugin")


def test_upscaler_conforms(blindsr_weights, blindsr_one_thread):
    """x2 with the seeded official-layout checkpoints on a 9x7 image (two overlapping 7px
    patches); the kernel search shortened: 1 refinement epoch, the grid in batches of 64."""
    spec = testing.registered("upscaler", "blindsr")
    options = {"patch_size": 7, "epochs": 1, "batch": 64}
    testing.check_upscaler(spec, testing.context(weights=blindsr_weights, options=options),
                           size=6)


def test_weights_roundtrip(blindsr_weights, tmp_path, monkeypatch):
    """`weights add` installs the official layout and refuses a generator of the wrong shape."""
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    state = dict(arch.Generator().state_dict())
    state["initial_convolution.0.weight"] = torch.zeros(64, 29, 3, 3)
    broken = tmp_path / "generator.pth"
    torch.save({"step": 0, "generator_state_dict": state}, broken)
    spec = testing.registered("upscaler", "blindsr")
    resolved = testing.check_weights_roundtrip(spec, blindsr_weights, {"generator.pth": broken})
    assert set(resolved) == {"generator.pth", "discriminator.pth"}
