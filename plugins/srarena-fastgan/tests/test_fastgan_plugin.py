"""Registration, official checkpoint layout and the VGG16 validator."""

from __future__ import annotations

import pytest

from srarena import testing

torch = pytest.importorskip("torch")

from srarena_fastgan import checkpoint as ckpt  # noqa: E402
from srarena_fastgan.arch import Generator  # noqa: E402

from srarena.weights.statedict import load_state  # noqa: E402


def test_conformance_of_spec_and_registration():
    spec = testing.registered("upscaler", "fastgan")
    testing.check_spec(spec)
    testing.check_registration_without_torch("srarena_fastgan.plugin")


@pytest.mark.slow
def test_conformance_fit_reload_generate(vgg_file):
    spec = testing.with_options(testing.registered("upscaler", "fastgan"), iterations=0,
                                ngf=4, ndf=4, nz=16, batch_size=2)
    testing.check_generative(spec, testing.context(weights={ckpt.VGG_FILENAME: vgg_file}),
                             size=256)


def test_weights_service_refuses_files_that_are_not_torchvision_vgg16(vgg_file, tmp_path,
                                                                     monkeypatch, fg):
    from srarena.weights import WeightsError, missing_files
    from srarena.weights.validate import add

    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    spec = testing.registered("upscaler", "fastgan")
    with pytest.raises(WeightsError, match="397923af"):
        add(spec.weights, [vgg_file])  # right shapes, not the published file
    state = fg.vgg_trunk()
    del state["features.0.bias"]
    torch.save(state, tmp_path / "vgg16-397923af.pth")
    with pytest.raises(WeightsError, match="features.0.bias"):
        add(spec.weights, [tmp_path / "vgg16-397923af.pth"])
    assert missing_files(spec.weights) == ["vgg16-397923af.pth"]


def test_registry_lists_fastgan():
    from srarena.plugins import build_registry

    spec = build_registry().upscaler("fastgan")
    assert spec.mode == "generative" and spec.weights.name == "fastgan-lpips-vgg16"
    assert spec.options["iterations"] == 50000 and spec.options["batch_size"] == 8
    assert not spec.fp16 and not spec.bf16


def test_official_all_checkpoint_loads_ema_generator(fg):
    path = fg.fixtures / "all_0.pth"
    data = load_state(path)
    assert set(data) == {"g", "d", "g_ema", "opt_g", "opt_d"}
    assert all(k.startswith("module.") for k in (*data["g"], *data["d"]))
    generator, info = ckpt.load_generator(path)
    assert info == {"iteration": 0, "ema": True, "ngf": 4, "nz": 16, "im_size": 256, "fit": {}}
    params = list(generator.parameters())
    assert len(params) == len(data["g_ema"])
    for param, ema in zip(params, data["g_ema"], strict=True):
        assert torch.equal(param, ema.float())
    live = ckpt.strip_prefix(data["g"])
    assert not torch.equal(generator.state_dict()["to_big.weight_orig"],
                           live["to_big.weight_orig"].float())  # EMA, not the live weights
    # buffers (BN statistics, spectral-norm vectors) come from 'g', as in <iter>.pth
    assert torch.equal(generator.state_dict()["init.init.1.running_var"],
                       live["init.init.1.running_var"].float())


def test_official_eval_layout_and_folder_lookup(tmp_path):
    generator = Generator(ngf=4, nz=16, im_size=512)
    torch.save({"g": ckpt.add_prefix(generator.state_dict()), "d": {}}, tmp_path / "5000.pth")
    torch.save({"g": ckpt.add_prefix(generator.state_dict()), "d": {}}, tmp_path / "10000.pth")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert ckpt.find(tmp_path).name == "10000.pth"
    loaded, info = ckpt.load_generator(ckpt.find(tmp_path))
    # an <iter>.pth's 'g' holds the EMA parameters (train.py saves it so for eval.py)
    assert info["im_size"] == 512 and info["ema"] is True and info["iteration"] == 10000
    for key, value in generator.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    with pytest.raises(FileNotFoundError, match="no FastGAN checkpoint"):
        ckpt.find(tmp_path / "empty")


def test_mismatched_checkpoint_is_refused(tmp_path, fg):
    data = load_state(fg.fixtures / "all_0.pth")
    data["g_ema"] = data["g_ema"][:-1]
    torch.save(data, tmp_path / "all_3.pth")
    with pytest.raises(ValueError, match="g_ema has"):
        ckpt.load_generator(tmp_path / "all_3.pth")
    del data["g"]["module.to_big.weight_orig"]
    torch.save(data, tmp_path / "all_4.pth")
    with pytest.raises(RuntimeError, match="to_big.weight_orig"):
        ckpt.load_generator(tmp_path / "all_4.pth")


def test_vgg_validator(vgg_file, tmp_path, fg):
    problems = ckpt.validate(ckpt.VGG_FILENAME, vgg_file)
    assert len(problems) == 1 and "397923af" in problems[0]  # shapes fine, hash is not
    state = fg.vgg_trunk()
    state["features.28.weight"] = state["features.28.weight"][:, :3]
    del state["features.0.bias"]
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    text = " ".join(ckpt.validate(ckpt.VGG_FILENAME, broken))
    assert "features.0.bias" in text and "features.28.weight" in text
