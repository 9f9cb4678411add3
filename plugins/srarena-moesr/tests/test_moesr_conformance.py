"""srarena's conformance suite (``srarena.testing``) on ``moesr-emad2022``."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from srarena_moesr import arch, method
from srarena_moesr.checkpoint import OFFICIAL_NAMES, filename, load_scale

from srarena import testing

NAME = "moesr-emad2022"
# The smallest fine-tuning crop valid at both x2 and x4 (the x4 kernel is 33 px), one step.
TINY = {"iterations": 1, "crop_size": 36}


def _write_set(
    folder: Path,
    features: int = arch.OFFICIAL_FEATURES,
    layers: int = arch.OFFICIAL_SR_LAYERS,
    ise_features: int = arch.OFFICIAL_FEATURES,
) -> dict[str, Path]:
    """All six files in the official layout (experts file: expert id -> list of SRNet state
    dicts; ISE and KEN state dicts), seeded random tensors, under srarena's names. Each
    experts file holds one state dict shared by its 25 experts: torch.save stores a shared
    storage once, so the file stays as small as one network."""
    folder.mkdir()
    torch.manual_seed(0)
    nets = {
        "SR_networks_ensemble.pt": arch.SRNet(features, layers).state_dict(),
        "ISE.pt": arch.ISENet(ise_features).state_dict(),
        "KEN.pt": arch.KENNet().state_dict(),
    }
    files = {}
    for scale in (2, 4):
        experts = {key: [nets["SR_networks_ensemble.pt"]] * method.NETS_PER_EXPERT[scale]
                   for key in method.expert_ids(scale)}
        contents = {**nets, "SR_networks_ensemble.pt": experts}
        for official in OFFICIAL_NAMES:
            name = filename(scale, official)
            files[name] = folder / name
            torch.save(contents[official], files[name])
    return files


def test_spec_conforms():
    testing.check_spec(testing.registered("upscaler", NAME))


def test_registration_imports_no_torch():
    testing.check_registration_without_torch("srarena_moesr.plugin")


def test_upscaler_conforms_through_padding(tmp_path):
    """x2 and x4 on 17x19 inputs: the engine pads them to the spec's 128-px minimum; the full
    85-hypothesis sweep runs, then one fine-tuning step. The experts are 2-conv, 4-feature
    networks (the plugin reads depth and width from the files): with the 12-conv fixture
    experts one x4 sweep over 128x128 takes ~18 s here, and the check runs it three times."""
    spec = testing.with_options(testing.registered("upscaler", NAME), **TINY)
    assert spec.size.minimum == 128  # the padding path is what this exercises
    weights = _write_set(tmp_path / "tiny", features=4, layers=2, ise_features=2)
    testing.check_upscaler(spec, testing.context(weights=weights), size=16)


def test_weights_roundtrip(tmp_path, monkeypatch, moesr_weights):
    home = tmp_path / "home"
    monkeypatch.setenv("SRARENA_HOME", str(home))
    spec = testing.registered("upscaler", NAME)
    good = _write_set(tmp_path / "good")  # official widths and depth
    for scale in (2, 4):  # files the upscaler itself loads, not only the validator
        experts, ise, _ = load_scale(good, scale)
        assert len(experts) == 25 and ise.model[0].out_channels == arch.OFFICIAL_FEATURES
    # the good set with one file swapped for the 4-feature fixture ISE (wrong shapes) under
    # its right name: only the validator's shape check can refuse it
    (tmp_path / "broken").mkdir()
    wrong = tmp_path / "broken" / "x2_ISE.pt"
    shutil.copyfile(moesr_weights((2,))["x2_ISE.pt"], wrong)
    resolved = testing.check_weights_roundtrip(spec, good, {**good, "x2_ISE.pt": wrong})
    assert sorted(resolved) == sorted(good)
    for name, path in resolved.items():
        assert home in path.parents and path.read_bytes() == good[name].read_bytes()
