"""Registration of the DAN upscalers and their weight sets."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_registration_imports_no_torch():
    code = (
        "import sys, srarena_dan.plugin as p; specs = []; "
        "p.srarena_register_upscalers(register=specs.append); "
        "assert len(specs) == 4; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_specs():
    from srarena_dan.plugin import SPECS

    by_name = {spec.name: spec for spec in SPECS}
    assert set(by_name) == {"dan-v1", "dan-v2", "dan-v1-setting2", "dan-v2-setting2"}
    assert by_name["dan-v1"].scales == by_name["dan-v2"].scales == (2, 3, 4)
    assert by_name["dan-v1-setting2"].scales == by_name["dan-v2-setting2"].scales == (2, 4)
    for spec in SPECS:
        assert spec.precisions == ("fp32",)
        assert spec.tiling == "discouraged"
        assert spec.side_outputs == ("kernel", "kernel_code")
        assert spec.weights is not None and spec.weights.name == spec.name
        assert "no licence" in spec.licence and "MIT" in spec.licence
        assert spec.options["quantize"] is True
        # the network settings for other checkpoints are accepted by `bench -o`
        assert spec.option_names == ["loop", "nb", "nf", "ng", "quantize"]
        assert spec.fixed_options == ("version", "setting")  # what the upscaler is: not set


def test_weight_sets_use_official_file_names():
    from srarena_dan.plugin import SPECS

    files = {s.name: [f.filename for f in s.weights.files] for s in SPECS}
    assert files["dan-v1"] == [
        "danv1_x2_setting1.pth", "danv1_x3_setting1.pth", "danv1_x4_setting1.pth",
        "pca_matrix.pth",
    ]
    assert files["dan-v2-setting2"] == [
        "danv2_x2_setting2.pth", "danv2_x4_setting2.pth",
        "pca_aniso_matrix_x2.pth", "pca_aniso_matrix_x4.pth",
    ]
    for spec in SPECS:
        for wf in spec.weights.files:
            kinds = {source.kind for source in wf.sources}
            if wf.filename.startswith("pca_"):
                assert kinds == {"https"} and wf.sha256 and wf.size
                assert f"/DAN{spec.options['version']}/{wf.filename}" in wf.sources[0].url
            else:  # the official Drive folder, file found by its name; Baidu by hand
                drive, baidu = wf.sources
                assert (drive.kind, drive.filename, baidu.kind) == ("gdrive", wf.filename,
                                                                    "manual")
                assert wf.sha256 is None


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    return tmp_path / "home"


def test_weights_add_takes_official_files(home, tmp_path):
    """`srarena weights add dan-v1 danv1_x2_setting1.pth` installs by official name; the
    upscaler then finds it in the cache, verified; a reduced file is refused with a diff."""
    import torch
    from srarena_dan.arch import build
    from srarena_dan.config import variant
    from srarena_dan.plugin import SPECS
    from srarena_dan.upscaler import DANUpscaler

    from srarena.components import Context
    from srarena.weights import ChecksumMismatch, WeightsInvalid, find, folder, validate

    weights = find("dan-v1", registry=_registry())
    download = tmp_path / "downloads" / "danv1_x2_setting1.pth"
    download.parent.mkdir()
    torch.manual_seed(0)
    net = build(variant("v1", 1, 2))
    net.set_pca(torch.linalg.qr(torch.randn(441, 10))[0])
    torch.save(net.state_dict(), download)
    installed = validate.add(weights, [download])
    assert [status.filename for status in installed] == ["danv1_x2_setting1.pth"]

    upscaler = DANUpscaler(SPECS[0], 2, Context())
    assert upscaler.info["checkpoint"] == "danv1_x2_setting1.pth"
    assert torch.equal(upscaler.net.encoder, net.encoder)

    # cached files are verified even when the engine passed none: a foreign PCA file, then
    # a checkpoint changed after it was installed, are refused
    pca = folder(weights) / variant("v1", 1, 2).pca_file
    torch.save(torch.zeros(441, 10), pca)
    with pytest.raises(ChecksumMismatch, match="pca_matrix.pth"):
        DANUpscaler(SPECS[0], 2, Context())
    pca.unlink()
    net.set_pca(torch.linalg.qr(torch.randn(441, 10))[0])
    torch.save(net.state_dict(), folder(weights) / download.name)
    with pytest.raises(ChecksumMismatch, match="danv1_x2_setting1.pth"):
        DANUpscaler(SPECS[0], 2, Context())

    small = tmp_path / "downloads" / "danv1_x4_setting1.pth"
    torch.save(build(variant("v1", 1, 2)).state_dict(), small)
    with pytest.raises(WeightsInvalid, match="shape mismatches"):
        validate.add(weights, [small])


def test_missing_weights_say_how_to_install(home):
    from srarena_dan.plugin import SPECS
    from srarena_dan.upscaler import DANUpscaler

    from srarena.components import Context
    from srarena.weights import WeightsMissing

    with pytest.raises(WeightsMissing) as info:
        DANUpscaler(SPECS[1], 4, Context())
    message = str(info.value)
    assert "danv1_x4_setting2.pth" in message and "drive.google.com" in message
    assert "srarena weights add dan-v1-setting2 FILE..." in message


def _registry():
    """A registry holding exactly this plugin (whether or not it is pip-installed)."""
    from srarena_dan import plugin

    from srarena import plugins

    registry = plugins.Registry()
    plugin.srarena_register_upscalers(register=lambda s: registry.upscalers.setdefault(s.name, s))
    return registry
