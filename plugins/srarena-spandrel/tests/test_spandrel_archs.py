"""Eight architectures end to end: a tiny model of spandrel's own classes, saved in its
official layout, added through the CLI, run with `srarena upscale` and `srarena bench` with
``-o NAME.protocol=spandrel``: the 8-bit output equals direct spandrel inference on the same
input (the default, the official protocols, is checked against the official code in
test_spandrel_official.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import srarena
from srarena import SizeRequirements

ARCH_IDS = ("esrgan", "realesrgan-x2plus", "compact", "swinir", "hat", "span", "dat", "omnisr")


@pytest.mark.parametrize("arch_id", ARCH_IDS)
def test_add_upscale_bench_equal_direct_spandrel(arch_id, models, sp, tmp_path):
    arch = sp.ARCHS[arch_id]
    name = f"tiny-{arch_id}"
    added = sp.cli("weights", "add", "spandrel", models[arch_id], "--name", name)
    assert added.exit_code == 0, added.output
    assert f"spandrel:{name}: added {arch.architecture} x{arch.scale}" in added.output

    image = sp.make_image(16, 16, seed=3)
    source = sp.write_png(tmp_path / "in" / "tile.png", image)
    expected = sp.direct(models[arch_id], image)
    assert expected.shape == (16 * arch.scale, 16 * arch.scale, 3)

    spandrel_call = ("-o", f"spandrel:{name}.protocol=spandrel")
    result = sp.cli("upscale", "-u", f"spandrel:{name}", "--scale", arch.scale, *spandrel_call,
                    source, tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    assert np.array_equal(sp.read_png(tmp_path / "out.png"), expected)
    assert "protocol spandrel" in " ".join(result.output.split())

    out = tmp_path / "run"
    result = sp.cli("bench", "-u", f"spandrel:{name}", "-d", f"folder:{source.parent}",
                    "-m", "contrast", "--scale", arch.scale, *spandrel_call, "--out", out)
    assert result.exit_code == 0, result.output
    outputs = srarena.open_run(out).outputs()
    assert list(outputs.status) == ["ok"] and list(outputs.upscaler) == [f"spandrel:{name}"]
    assert list(outputs.chain) == [f"x{arch.scale}"]
    assert np.array_equal(sp.read_png(out / outputs.path.iloc[0]), expected)
    assert json.loads(outputs["info"].iloc[0])[f"step1_x{arch.scale}"]["protocol"] == "spandrel"


def test_registered_from_the_manifest_with_the_descriptor_facts(models, sp):
    assert sp.cli("weights", "add", "spandrel", models["realesrgan-x2plus"], "--name",
                  "x2plus").exit_code == 0
    assert sp.cli("weights", "add", "spandrel", models["swinir"]).exit_code == 0  # default name
    from srarena import testing

    spec = testing.registered("upscaler", "spandrel:x2plus")
    assert spec.scales == (2,)
    assert spec.size == SizeRequirements()  # each protocol pads as it says, not the engine
    assert spec.options == {"protocol": "official"}  # the default keys every output
    assert "runs as official:real-esrgan by default" in spec.description
    assert spec.tiling == "supported" and spec.weights.files[0].filename == "ESRGAN-x2.pth"
    assert spec.weights.files[0].sha256 and spec.weights.name == "spandrel-x2plus"
    swin = testing.registered("upscaler", "spandrel:swinir-0")
    assert swin.tiling == "discouraged" and not swin.fp16
    assert "official:swinir" in swin.description

    listed = sp.cli("plugins", "--json")
    registers = next(row for row in json.loads(listed.output)
                     if row["plugin"] == "spandrel")["registers"]
    assert "upscaler:spandrel:x2plus" in registers and "upscaler:spandrel:swinir-0" in registers
    rows = json.loads(sp.cli("weights", "list", "--json").output)
    mine = [row for row in rows if row["weights"] == "spandrel-x2plus"]
    assert [(row["file"], row["state"]) for row in mine] == [("ESRGAN-x2.pth", "verified")]
    table = sp.cli("spandrel", "list").output
    assert "spandrel:x2plus" in table and "ESRGAN x2" in table
    listed = {row["upscaler"]: row for row in json.loads(sp.cli("spandrel", "list",
                                                                "--json").output)}
    assert listed["spandrel:x2plus"]["protocols"] == ["official:real-esrgan"]
    assert listed["spandrel:bsrgan-x2"]["protocols"] == ["official:bsrgan"]  # the zoo's own


def test_x2_and_x4_under_one_name_make_8x_run_x2_then_x4(models, sp, tmp_path):
    x2 = sp.COMPACT_X2.write(tmp_path / "m")
    first = sp.cli("weights", "add", "spandrel", x2, models["esrgan"], "--name", "family")
    assert first.exit_code == 0, first.output
    assert "scales x2, x4" in first.output
    from srarena import testing

    spec = testing.registered("upscaler", "spandrel:family")
    assert spec.scales == (2, 4)
    assert [wf.scales for wf in spec.weights.files] == [(2,), (4,)]

    image = sp.make_image(12, 10, seed=5)
    source = sp.write_png(tmp_path / "in" / "a.png", image)
    import spandrel  # the same chain by hand: x2, then x4 on the float x2 output
    import torch

    from srarena.kit import from_uint8

    with torch.inference_mode():
        tensor = torch.from_numpy(from_uint8(image).transpose(2, 0, 1).copy())[None]
        step = spandrel.ModelLoader().load_from_file(x2)(tensor)
        final = spandrel.ModelLoader().load_from_file(models["esrgan"])(step)
    from srarena.kit import to_uint8

    expected = to_uint8(final[0].permute(1, 2, 0).numpy())
    out = tmp_path / "run"
    result = sp.cli("bench", "-u", "spandrel:family", "-d", f"folder:{source.parent}", "-m",
                    "contrast", "--scale", 8, "-o", "spandrel:family.protocol=spandrel",
                    "--out", out)
    assert result.exit_code == 0, result.output
    outputs = srarena.open_run(out).outputs()
    assert list(outputs.chain) == ["x2_x4"]
    assert np.array_equal(sp.read_png(out / outputs.path.iloc[0]), expected)


def test_an_x4_only_model_reaches_8x_by_the_overshoot_rule(models, sp, tmp_path):
    assert sp.cli("weights", "add", "spandrel", models["compact"], "--name", "c4").exit_code == 0
    source = sp.write_png(tmp_path / "in" / "a.png", sp.make_image(8, 8))
    out = tmp_path / "run"
    result = sp.cli("bench", "-u", "spandrel:c4", "-d", f"folder:{source.parent}", "-m",
                    "contrast", "--scale", 8, "--out", out)
    assert result.exit_code == 0, result.output
    outputs = srarena.open_run(out).outputs()
    assert list(outputs.chain) == ["x4_x4_resize8"]
    assert sp.read_png(out / outputs.path.iloc[0]).shape == (64, 64, 3)


@pytest.mark.parametrize("arch_id", ["swinir", "realesrgan-x2plus"])
def test_odd_sizes_meet_the_size_requirement(arch_id, models, sp, tmp_path):
    """13x17 to SwinIR (minimum 16) and to Real-ESRGAN x2plus (multiple of 4) with
    protocol=spandrel: the descriptor pads and crops back as direct inference does."""
    arch = sp.ARCHS[arch_id]
    assert sp.cli("weights", "add", "spandrel", models[arch_id], "--name", "odd").exit_code == 0
    image = sp.make_image(13, 17, seed=9)
    source = sp.write_png(tmp_path / "odd.png", image)
    result = sp.cli("upscale", "-u", "spandrel:odd", "--scale", arch.scale, "-o",
                    "spandrel:odd.protocol=spandrel", source, tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    out = sp.read_png(tmp_path / "out.png")
    assert out.shape == (13 * arch.scale, 17 * arch.scale, 3)
    assert np.array_equal(out, sp.direct(models[arch_id], image))


def test_one_off_weights_with_the_generic_upscaler(models, sp, tmp_path):
    image = sp.make_image(16, 16, seed=2)
    source = sp.write_png(tmp_path / "in" / "a.png", image)
    result = sp.cli("upscale", "-u", "spandrel", "--weights", models["span"], "--scale", 4,
                    source, tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    assert np.array_equal(sp.read_png(tmp_path / "out.png"), sp.direct(models["span"], image))
    # SPAN has no official protocol recorded: the default runs spandrel's call, and says so
    assert "spandrel (no official protocol recorded for SPAN)" in " ".join(result.output.split())
    out = tmp_path / "run"
    result = sp.cli("bench", "-u", "spandrel", "--weights", models["omnisr"], "-d",
                    f"folder:{source.parent}", "-m", "contrast", "--scale", 2, "--out", out)
    assert result.exit_code == 0, result.output
    outputs = srarena.open_run(out).outputs()
    assert np.array_equal(sp.read_png(out / outputs.path.iloc[0]),
                          sp.direct(models["omnisr"], image))
    # another scale than the file's: the engine's rule inside, recorded in the output's info
    result = sp.cli("upscale", "-u", "spandrel", "--weights", models["span"], "--scale", 8,
                    source, tmp_path / "out8.png")
    assert result.exit_code == 0, result.output
    assert sp.read_png(tmp_path / "out8.png").shape == (128, 128, 3)


def test_grey_models_get_grey_input_and_give_rgb(sp, tmp_path):
    path = sp.GREY_COMPACT.write(tmp_path / "m")
    assert sp.cli("weights", "add", "spandrel", path, "--name", "grey").exit_code == 0
    source = sp.write_png(tmp_path / "a.png", sp.make_image(10, 10))
    result = sp.cli("upscale", "-u", "spandrel:grey", "--scale", 2, source, tmp_path / "o.png")
    assert result.exit_code == 0, result.output
    out = sp.read_png(tmp_path / "o.png")
    assert out.shape == (20, 20, 3)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
