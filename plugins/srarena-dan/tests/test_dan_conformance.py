"""The DAN upscalers pass srarena's conformance suite (``srarena.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from srarena import testing

NAMES = ("dan-v1", "dan-v2", "dan-v1-setting2", "dan-v2-setting2")


def _settings(name: str) -> tuple[str, int]:
    spec = testing.registered("upscaler", name)
    return spec.options["version"], int(spec.options["setting"])


@pytest.mark.parametrize("name", NAMES)
def test_spec_conforms(name):
    testing.check_spec(testing.registered("upscaler", name))


def test_registration_imports_no_torch():
    testing.check_registration_without_torch("srarena_dan.plugin")


@pytest.mark.parametrize("name", NAMES)
def test_upscaler_conforms(name, golden, tmp_path):
    """Every native scale with the reduced golden networks (nf 16, 2 blocks, 4 loops), the
    official 8-bit output included."""
    spec = testing.registered("upscaler", name)
    version, setting = _settings(name)
    weights: dict[str, Path] = {}
    arch: dict[str, int] = {}
    for scale in spec.scales:
        case = golden(f"{version}_s{setting}_x{scale}")
        weights.update(case.write(tmp_path))
        arch = case.arch
    testing.check_upscaler(spec, testing.context(weights=weights, options={**spec.options,
                                                                           **arch}))


def _official_files(name: str, folder: Path) -> dict[str, Path]:
    """Seeded full-size checkpoints of the set under their official names."""
    import torch
    from srarena_dan.arch import build
    from srarena_dan.config import parse_checkpoint_name

    spec = testing.registered("upscaler", name)
    folder.mkdir(parents=True)
    files = {}
    torch.manual_seed(0)
    for wf in spec.weights.files:
        chosen = parse_checkpoint_name(wf.filename)
        if chosen is None:  # a PCA file: pinned by the official sha256, cannot be made here
            continue
        net = build(chosen)
        net.set_pca(torch.linalg.qr(torch.randn(chosen.kernel_size**2, chosen.code_len))[0])
        torch.save(net.state_dict(), folder / wf.filename)
        files[wf.filename] = folder / wf.filename
    return files


@pytest.mark.parametrize("name", NAMES)
def test_weights_roundtrip(name, golden, tmp_path, monkeypatch):
    """`weights add` takes official-shaped checkpoints and refuses the reduced golden ones."""
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    spec = testing.registered("upscaler", name)
    version, setting = _settings(name)
    case = golden(f"{version}_s{setting}_x2")
    reduced = case.write(tmp_path / "reduced")
    broken = {case.checkpoint_name: reduced[case.checkpoint_name]}  # shapes of nf 16, 2 blocks
    files = _official_files(name, tmp_path / "official")
    resolved = testing.check_weights_roundtrip(spec, files, broken)
    assert set(resolved) == set(files)
