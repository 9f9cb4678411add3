"""``fastgan-pretrained``: generating from an official checkpoint, without the VGG16 set."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from srarena_fastgan import checkpoint as ckpt  # noqa: E402
from srarena_fastgan.upscaler import FastGANPretrained  # noqa: E402

from srarena import testing  # noqa: E402
from srarena.components import Context, InputRefused  # noqa: E402
from srarena.plugins import build_registry  # noqa: E402
from srarena.weights.statedict import load_state  # noqa: E402

ATOL = 1e-5


@pytest.fixture(scope="module")
def spec():
    return build_registry().upscaler("fastgan-pretrained")


def fitted(spec, checkpoint, tmp_path, **options):
    """The upscaler given ``checkpoint`` as --weights, fitted (converted) and loaded at 256."""
    up = FastGANPretrained(spec, Context(device="cpu", options=options,
                                         weights={"fastgan-checkpoint.pth": checkpoint}))
    up.fit([], 256, tmp_path / "fit")
    up.load(tmp_path / "fit")
    return up


def official_iter_file(fg, tmp_path):
    """The official ``<iter>.pth`` that train.py saves beside ``all_0.pth``: 'g' holds the
    EMA parameters with the live buffers, 'd' the discriminator."""
    data = load_state(fg.fixtures / "all_0.pth")
    g, _ = ckpt.load_generator(fg.fixtures / "all_0.pth")
    path = tmp_path / "0.pth"
    torch.save({"g": ckpt.add_prefix(g.state_dict()), "d": data["d"]}, path)
    return path


def test_needs_only_the_checkpoint(spec):
    assert spec.mode == "generative" and spec.weights.name == "fastgan-checkpoint"
    assert [f.filename for f in spec.weights.files] == ["fastgan-checkpoint.pth"]
    assert spec.resources.gpus == 0 and "vgg16" not in json.dumps(spec.options)
    assert spec.options["generator"] == "ema"
    testing.check_registration_without_torch("srarena_fastgan.plugin")


def test_generates_as_the_official_code_from_the_ema_weights(spec, fg, tmp_path):
    """Golden: the generator converted from the official all_0.pth gives the official
    eval-mode outputs (golden_forward, made by the official code from that file)."""
    arrays = dict(np.load(fg.fixtures / "golden_forward.npz"))
    up = fitted(spec, fg.fixtures / "all_0.pth", tmp_path)
    assert up.loaded["ema"] and up.loaded["iteration"] == 0
    z = torch.from_numpy(arrays["z_256"])
    with torch.no_grad():
        torch.manual_seed(11)  # the official noise: the global CPU RNG
        big, small = up.generator.eval()(z)
    np.testing.assert_allclose(fg.subsample(big), arrays["g_eval_big_256"], atol=ATOL)
    np.testing.assert_allclose(fg.subsample(small), arrays["g_eval_small_256"], atol=ATOL)
    image = up.generate(1000, 256)
    assert image.image.shape == (256, 256, 3) and image.info["ema"]


def test_an_official_iter_file_gives_the_same_images(spec, fg, tmp_path):
    from_all = fitted(spec, fg.fixtures / "all_0.pth", tmp_path / "a")
    from_iter = fitted(spec, official_iter_file(fg, tmp_path), tmp_path / "b")
    for seed in (3, 4):
        np.testing.assert_array_equal(from_iter.generate(seed, 256).image,
                                      from_all.generate(seed, 256).image)
    with pytest.raises(ValueError, match="holds only the EMA generator"):
        fitted(spec, official_iter_file(fg, tmp_path), tmp_path / "c", generator="live")


def test_the_live_generator_is_an_option(spec, fg, tmp_path):
    up = fitted(spec, fg.fixtures / "all_0.pth", tmp_path, generator="live")
    live = ckpt.strip_prefix(load_state(fg.fixtures / "all_0.pth")["g"])
    for name, value in up.generator.state_dict().items():
        torch.testing.assert_close(value, live[name].to(value.dtype), rtol=0, atol=0)
    assert not up.loaded["ema"]
    ema = fitted(spec, fg.fixtures / "all_0.pth", tmp_path / "ema")
    assert np.abs(up.generate(5, 256).image - ema.generate(5, 256).image).mean() > 1e-4
    with pytest.raises(ValueError, match="generator must be one of"):
        FastGANPretrained(spec, Context(options={"generator": "both"}))


def test_a_checkpoint_of_another_size_is_refused(spec, fg, tmp_path):
    up = FastGANPretrained(spec, Context(weights={"fastgan-checkpoint.pth":
                                                  fg.fixtures / "all_0.pth"}))
    with pytest.raises(InputRefused, match="generates 256² images, the run asks for 512²"):
        up.fit([], 512, tmp_path / "fit")


def test_weights_add_and_the_validator(spec, fg, tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from srarena.cli import weights as weights_cli
    from srarena.weights import folder, status

    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    app = typer.Typer()
    weights_cli.register(app)
    runner = CliRunner()
    foreign = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, foreign)
    refused = runner.invoke(app, ["weights", "add", "fastgan-pretrained", str(foreign)])
    assert refused.exit_code == 1 and "not a FastGAN generator checkpoint" in refused.output
    added = runner.invoke(app, ["weights", "add", "fastgan-pretrained",
                                str(fg.fixtures / "all_0.pth")])
    assert added.exit_code == 0, added.output
    assert [st.state for st in status(spec.weights)] == ["recorded"]
    up = FastGANPretrained(spec, Context())  # from the cache this time
    up.fit([], 256, tmp_path / "fit")
    up.load(tmp_path / "fit")
    assert up.generate(0, 256).image.shape == (256, 256, 3)
    assert (folder(spec.weights) / "fastgan-checkpoint.pth").is_file()
