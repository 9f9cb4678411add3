"""Loading official-layout checkpoint files safely, and the weight-set validator."""

from __future__ import annotations

import pickle
import zipfile

import pytest
import torch
from srarena_moesr import arch, checkpoint, method

from srarena.weights import WeightsMissing


def test_fixture_files_load_unchanged(moesr_weights):
    weights = moesr_weights()
    # x2 files were written in torch's legacy (non-zip) format, like torch 1.3-era files
    assert not zipfile.is_zipfile(weights["x2_SR_networks_ensemble.pt"])
    assert zipfile.is_zipfile(weights["x4_SR_networks_ensemble.pt"])
    for scale in (2, 4):
        experts, ise, ken = checkpoint.load_scale(weights, scale)
        assert set(method.expert_ids(scale)) <= set(experts)
        assert all(len(v) == method.NETS_PER_EXPERT[scale] for v in experts.values())
        assert isinstance(ise, arch.ISENet) and isinstance(ken, arch.KENNet)
        assert ise.model[0].out_channels == 4  # width read from the file


def test_missing_files_say_what_to_add(moesr_weights):
    weights = moesr_weights((2,))
    del weights["x2_KEN.pt"]
    with pytest.raises(WeightsMissing, match="x2_KEN.pt.*srarena weights add moesr-emad2022"):
        checkpoint.load_scale(weights, 2)
    with pytest.raises(WeightsMissing, match="x4_SR_networks_ensemble.pt"):
        checkpoint.load_scale(moesr_weights((2,)), 4)


def _official_x2(tmp_path):
    torch.manual_seed(0)
    experts = {key: [arch.SRNet().state_dict()] for key in method.expert_ids(2)}
    paths = {
        "x2_SR_networks_ensemble.pt": tmp_path / "ens.pt",
        "x2_ISE.pt": tmp_path / "ise.pt",
        "x2_KEN.pt": tmp_path / "ken.pt",
    }
    torch.save(experts, paths["x2_SR_networks_ensemble.pt"])
    torch.save(arch.ISENet().state_dict(), paths["x2_ISE.pt"])
    torch.save(arch.KENNet().state_dict(), paths["x2_KEN.pt"])
    return experts, paths


def test_validator_accepts_official_shapes(tmp_path):
    _, paths = _official_x2(tmp_path)
    for name, path in paths.items():
        assert checkpoint.validate(name, path) == [], name


def test_validator_reports_readable_problems(tmp_path, moesr_weights):
    weights = moesr_weights()
    problems = checkpoint.validate("x2_ISE.pt", weights["x2_ISE.pt"])
    assert any("model.0.weight: expected [64, 6, 3, 3], file has [4, 6, 3, 3]" in p
               for p in problems)
    problems = checkpoint.validate("x4_SR_networks_ensemble.pt",
                                   weights["x4_SR_networks_ensemble.pt"])
    assert problems and problems[0].startswith("U_4.25_4.25_0.00[0]: shape mismatches")
    # the x2 experts file offered as the x4 one: wrong ids
    problems = checkpoint.validate("x4_SR_networks_ensemble.pt",
                                   weights["x2_SR_networks_ensemble.pt"])
    assert problems[0].startswith("missing experts (25 of 25)")
    assert checkpoint.validate("ISE.pt", weights["x2_ISE.pt"])[0].startswith("'ISE.pt' is not")


def test_validator_reports_missing_experts_and_short_entries(tmp_path):
    experts, _ = _official_x2(tmp_path)
    del experts["U_4.37_4.37_0.00"]
    experts["U_0.85_0.85_0.00"] = []
    path = tmp_path / "broken.pt"
    torch.save(experts, path)
    problems = checkpoint.validate("x2_SR_networks_ensemble.pt", path)
    assert problems[0].startswith("missing experts (1 of 25): U_4.37_4.37_0.00")
    assert "U_0.85_0.85_0.00: expected a list of 1 state dict(s)" in problems


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"U_0.85_0.85_0.00": _Payload()}, handle, protocol=2)
    problems = checkpoint.validate("x2_SR_networks_ensemble.pt", path)
    assert len(problems) == 1 and "weights_only=True" in problems[0]
