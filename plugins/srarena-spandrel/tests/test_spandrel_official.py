"""Golden tests: every zoo architecture run by default as its authors' official inference runs
it, against outputs of the official code (tests/official/PROVENANCE.md).

The checkpoints are the release layouts (``params_ema``/``params``/plain, official keys) of
tiny seeded models, rebuilt here from the seeds the fixture generator used (parameters) and
the buffers it saved (index tables, masks). Inputs: three RGB images whose height and width
are 1, 2 and 3 mod 4, a grey one and an RGBA one; outputs are compared in 8 bits.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from srarena_spandrel import protocols

from srarena import testing
from srarena.components import Context, create
from srarena.engine.chain import Chain
from srarena.engine.plan import RunIdentity
from srarena.engine.single import run_chain
from srarena.kit import load_channels, luma, resize, to_uint8, to_uint8_float32

FIXTURES = Path(__file__).parent / "official"
MODELS = json.loads((FIXTURES / "models.json").read_text())
INPUTS = sorted(p.stem for p in (FIXTURES / "inputs").glob("*.png") if p.stem != "rgb-40x50")
RGB = [name for name in INPUTS if name.startswith("rgb-")]


def checkpoint(model_id: str, folder: Path, sp) -> Path:
    """The fixture's checkpoint in its release layout, under its official file name."""
    import torch

    model = MODELS[model_id]
    buffers = np.load(FIXTURES / "buffers.npz")
    layout = [[key, shape] for key, shape, kind, _ in model["keys"] if kind == "param"]
    params = sp.seeded_state(layout, model["seed"], model["gain"], model["offsets"])
    state = {key: torch.from_numpy(params[key] if kind == "param"
                                   else buffers[f"{model_id}/{key}"].copy())
             for key, _, kind, _ in model["keys"]}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / model["filename"]
    torch.save({model["wrap"]: state} if model["wrap"] else state, path)
    return path


def expected(run_id: str, name: str) -> np.ndarray:
    return to_uint8(load_channels(FIXTURES / "expected" / run_id / f"{name}.png"))


def upscale(sp, model_id: str, folder: Path, out: Path, *extra: str) -> dict[str, np.ndarray]:
    """``srarena upscale -u spandrel:<zoo> --weights FOLDER`` on every input, 8-bit outputs."""
    spec = testing.registered("upscaler", f"spandrel:{MODELS[model_id]['zoo']}")
    scale = spec.scales[0]
    result = sp.cli("upscale", "-u", spec.name, "--weights", folder, "--scale", scale, *extra,
                    *(FIXTURES / "inputs" / f"{name}.png" for name in INPUTS), out)
    assert result.exit_code == 0, result.output
    return {name: to_uint8(load_channels(out / f"{name}_x{scale}.png")) for name in INPUTS}


def colour_run(model_id: str, path: Path, image: np.ndarray, protocol: str = "official"):
    """The plugin's upscaler on an RGB array through the engine's chain, as float."""
    spec = testing.registered("upscaler", f"spandrel:{MODELS[model_id]['zoo']}")
    scale = spec.scales[0]
    upscaler = create(spec, scale, Context(weights={path.name: path},
                                           options={"protocol": protocol}))
    return run_chain({scale: upscaler}, Chain((scale,), scale), image, None).image


@pytest.mark.parametrize("model_id", list(MODELS))
def test_default_protocol_gives_the_official_output(model_id, sp, tmp_path):
    path = checkpoint(model_id, tmp_path / "weights", sp)
    got = upscale(sp, model_id, path.parent, tmp_path / "out")
    protocol = protocols.BY_ZOO[MODELS[model_id]["zoo"]]
    for name in RGB:
        assert np.array_equal(got[name], expected(model_id, name)), name
    grey, rgba = expected(model_id, "grey-13x16"), expected(model_id, "rgba-11x12")
    assert got["grey-13x16"].shape[-1] == 1 and got["rgba-11x12"].shape[-1] == 4
    if protocol.grey == "one channel":  # Real-ESRGAN writes the luma of its output
        assert np.array_equal(got["grey-13x16"], grey)
    else:  # the script writes RGB: the plugin's RGB is the script's, srarena takes its luma
        source = np.repeat(load_channels(FIXTURES / "inputs" / "grey-13x16.png"), 3, axis=-1)
        colour = colour_run(model_id, path, source)
        assert np.array_equal(to_uint8_float32(colour), grey)
        assert np.array_equal(got["grey-13x16"], to_uint8_float32(luma(colour)))
    if protocol.alpha == "model":  # Real-ESRGAN: RGBA out, alpha upscaled by the model
        assert np.array_equal(got["rgba-11x12"], rgba)
    else:  # the script drops alpha: its RGB, and srarena's bilinear alpha
        assert np.array_equal(got["rgba-11x12"][..., :3], rgba)
        alpha = load_channels(FIXTURES / "inputs" / "rgba-11x12.png")[..., 3:]
        height, width = rgba.shape[:2]
        filtered = np.clip(resize(alpha, width, height, "bilinear"), 0, 1)
        assert np.array_equal(got["rgba-11x12"][..., 3:], to_uint8_float32(filtered))


def test_hat_tiles_as_its_real_sr_options_do(sp, tmp_path, monkeypatch):
    """HAT_GAN_Real_SRx4.yml tiles (512, pad 32): the same tiling code on a 40x50 image with
    a 32px tile and 16px pad equals HATModel.tile_process with those settings."""
    path = checkpoint("hat-real-x4", tmp_path / "weights", sp)
    source = load_channels(FIXTURES / "inputs" / "rgb-40x50.png")
    want = expected("hat-real-x4-tile32", "rgb-40x50")
    monkeypatch.setitem(protocols.BY_ZOO, "hat-real-x4",
                        replace(protocols.HAT_REAL, tile=(32, 16)))
    assert np.array_equal(to_uint8_float32(colour_run("hat-real-x4", path, source)), want)
    untiled = to_uint8(colour_run("hat-real-x4", path, source, "spandrel"))
    assert not np.array_equal(untiled, want)  # the tiles matter: the whole image differs


@pytest.mark.parametrize("model_id", ["realesrgan-x2plus", "swinir-m-x4-real", "dat-x4"])
def test_protocol_spandrel_is_direct_spandrel_inference_not_the_official(model_id, sp,
                                                                         tmp_path):
    """protocol=spandrel is today's behaviour (direct spandrel inference); on these odd
    sizes it is not what the official scripts give, which the default is."""
    path = checkpoint(model_id, tmp_path / "weights", sp)
    spec = testing.registered("upscaler", f"spandrel:{MODELS[model_id]['zoo']}")
    got = upscale(sp, model_id, path.parent, tmp_path / "out", "-o",
                  f"{spec.name}.protocol=spandrel")
    for name in RGB:
        image = to_uint8(load_channels(FIXTURES / "inputs" / f"{name}.png"))
        assert np.array_equal(got[name], sp.direct(path, image)), name
        assert not np.array_equal(got[name], expected(model_id, name)), name


def test_the_protocol_keys_outputs_and_is_recorded(sp, tmp_path):
    spec = testing.registered("upscaler", "spandrel:swinir-m-x4-real")
    assert spec.options == {"protocol": "official"}
    keys = {RunIdentity("fp32", None, 0, options).output_key(spec, "w", "input")
            for options in ({}, {spec.name: {"protocol": "official"}},
                            {spec.name: {"protocol": "spandrel"}})}
    assert len(keys) == 2  # the default is the official protocol; spandrel's is another key
    path = checkpoint("swinir-m-x4-real", tmp_path / "weights", sp)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.png").write_bytes((FIXTURES / "inputs" / "rgb-9x14.png").read_bytes())
    out = tmp_path / "run"
    result = sp.cli("bench", "-u", spec.name, "--weights", path.parent, "-d", f"folder:{folder}",
                    "-m", "contrast", "--scale", 4, "--out", out)
    assert result.exit_code == 0, result.output
    import srarena

    outputs = srarena.open_run(out).outputs()
    assert json.loads(outputs["info"].iloc[0])["step1_x4"]["protocol"] == "official:swinir"
    assert np.array_equal(to_uint8(load_channels(out / outputs["path"].iloc[0])),
                          expected("swinir-m-x4-real", "rgb-9x14"))
    report = sp.cli("report", out)
    assert report.exit_code == 0, report.output
    assert "official:swinir" in (out / "report" / "index.md").read_text()
    assert "official:swinir" in (out / "report" / "index.html").read_text()


def test_an_unknown_protocol_is_refused_with_the_choices(sp, tmp_path):
    path = checkpoint("realesrgan-x4plus", tmp_path / "weights", sp)
    result = sp.cli("upscale", "-u", "spandrel:realesrgan-x4plus", "--weights", path.parent,
                    "--scale", 4, "-o", "spandrel:realesrgan-x4plus.protocol=chainner",
                    FIXTURES / "inputs" / "rgb-9x14.png", tmp_path / "o.png")
    text = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "protocol='chainner' is not one of 'official', 'spandrel'" in text


def test_images_too_small_for_an_official_padding_are_refused_clearly(sp, tmp_path):
    path = checkpoint("hat-real-x4", tmp_path / "weights", sp)
    tiny = np.full((5, 20, 3), 0.5, np.float32)  # reflect-padding 5 rows to 16 cannot be done
    with pytest.raises(Exception, match="too small for official:hat-real") as caught:
        colour_run("hat-real-x4", path, tiny)
    assert "protocol=spandrel" in str(caught.value)
