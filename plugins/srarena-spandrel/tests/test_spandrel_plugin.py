"""The plugin's pieces: the zoo's facts against spandrel, the manifest, precisions, replacing
and removing models, batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from srarena_spandrel import facts, loading, manifest, zoo

from srarena import testing


def _official(name: str):
    """A randomly initialised network with the official hyperparameters of a zoo model; the
    transformers with one block per layer instead of six (no fact depends on it, and it
    spares seconds of weight initialisation)."""
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.DAT import DAT
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.SwinIR import SwinIR

    swinir = dict(img_size=64, in_chans=3, window_size=8, mlp_ratio=2.0, upscale=4,
                  upsampler="nearest+conv")
    hat = dict(img_size=64, in_chans=3, embed_dim=180, depths=[1] * 6, num_heads=[6] * 6,
               window_size=16, compress_ratio=3, squeeze_factor=30, overlap_ratio=0.5,
               mlp_ratio=2.0, upscale=4, upsampler="pixelshuffle", resi_connection="1conv")
    return {
        "realesrgan-x4plus": lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23,
                                            scale=4),
        "realesrgan-x2plus": lambda: ESRGAN(in_nc=12, out_nc=3, num_filters=64, num_blocks=23,
                                            scale=4, shuffle_factor=2),
        "realesr-general-x4v3": lambda: Compact(num_in_ch=3, num_out_ch=3, num_feat=64,
                                                num_conv=32, upscale=4),
        "bsrgan-x4": lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4),
        "bsrgan-x2": lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=2),
        "swinir-m-x4-real": lambda: SwinIR(embed_dim=180, depths=[1] * 6, num_heads=[6] * 6,
                                           resi_connection="1conv", **swinir),
        "swinir-l-x4-real": lambda: SwinIR(embed_dim=240, depths=[1] * 9, num_heads=[8] * 9,
                                           resi_connection="3conv", **swinir),
        "hat-real-x4": lambda: HAT(**hat),
        "hat-real-x4-sharper": lambda: HAT(**hat),
        "dat-x4": lambda: DAT(img_size=64, in_chans=3, embed_dim=180, split_size=[8, 32],
                              depth=[2] * 6, num_heads=[6] * 6, expansion_factor=4.0,
                              upscale=4),
    }[name]()


@pytest.mark.parametrize("name", [m.name for m in zoo.ZOO])
def test_zoo_facts_are_what_spandrel_reports(name, tmp_path):
    """The static facts of each zoo model equal spandrel's description of a network with
    the official hyperparameters (random weights: the facts depend on the shapes only)."""
    state = _official(name).state_dict()
    found = loading.describe(loading.load_descriptor(tmp_path / "official.pth", state=state))
    assert found == zoo.BY_NAME[name].facts


def test_zoo_declarations():
    for model in zoo.ZOO:
        spec = model.spec()
        (wf,) = spec.weights.files
        assert spec.name == f"spandrel:{model.name}" and wf.filename == model.filename
        assert wf.sha256 is None and wf.size is None  # none published: trust on first use
        assert not spec.fp16 and not spec.bf16  # never checked on the real weights here
        kinds = {source.kind for source in wf.sources}
        if model.name.startswith(("hat", "dat")):
            drive, baidu = wf.sources  # the authors' Drive folder, by name; Baidu by hand
            assert (drive.kind, drive.filename, baidu.kind) == ("gdrive", model.filename,
                                                                "manual")
            assert drive.url.startswith("https://drive.google.com/drive/folders/")
        else:
            assert kinds == {"https"}
            (source,) = wf.sources
            assert source.url.startswith("https://github.com/") and source.url.endswith(
                "/" + model.filename)
        assert model.licence and "Apache-2.0" in model.licence or "BSD-3-Clause" in model.licence


def test_zoo_is_listed_and_fetch_stays_offline(sp):
    rows = json.loads(sp.cli("weights", "list", "--json").output)
    x4plus = next(row for row in rows if row["weights"] == "spandrel-realesrgan-x4plus")
    assert x4plus["state"] == "missing"
    assert x4plus["fix"] == "srarena weights fetch spandrel-realesrgan-x4plus"
    result = sp.cli("weights", "fetch", "spandrel:realesrgan-x4plus")  # SRARENA_OFFLINE=1
    assert result.exit_code == 1 and "offline" in result.output


def test_a_broken_manifest_registers_nothing_and_breaks_nothing(sp):
    target = manifest.path()
    target.parent.mkdir(parents=True)
    target.write_text("{not json")
    assert manifest.read() == {}
    target.write_text(json.dumps({"format": 1, "models": {"bad": {"files": [{"scale": 4}]}}}))
    assert manifest.specs() == []
    assert sp.cli("plugins", "--json").exit_code == 0
    assert testing.registered("upscaler", "spandrel").name == "spandrel"


def test_precisions_are_declared_only_after_the_check(models, sp, monkeypatch, tmp_path):
    monkeypatch.setenv("SRARENA_SPANDREL_CHECK_PRECISION", "1")
    result = sp.cli("weights", "add", "spandrel", models["compact"], "--name", "p")
    assert result.exit_code == 0, result.output
    (entry,) = manifest.read()["p"]["files"]
    for precision in ("fp16", "bf16"):
        check = entry["precision"][precision]
        assert check["device"] in ("cpu", "cuda")
        assert "ok" in check and ("max_diff" in check or "reason" in check)
    spec = testing.registered("upscaler", "spandrel:p")
    assert spec.fp16 == entry["precision"]["fp16"]["ok"]
    assert spec.bf16 == entry["precision"]["bf16"]["ok"]
    # an architecture spandrel says cannot run in fp16 is not even tried
    swin = loading.check_precisions(models["swinir"], loading.read_state(models["swinir"]),
                                    loading.describe_file(models["swinir"]))
    assert "does not support" in swin["fp16"]["reason"] and not swin["fp16"]["ok"]


def test_precision_rule():
    base = {"supports_half": True, "supports_bfloat16": False}
    assert facts.precision_ok({**base, "precision": {"fp16": {"ok": True}}}, "fp16")
    assert not facts.precision_ok({**base, "precision": {"fp16": {"ok": False}}}, "fp16")
    assert not facts.precision_ok({**base, "precision": {"bf16": {"ok": True}}}, "bf16")
    assert not facts.precision_ok(base, "fp16")  # never checked


def test_fp16_is_refused_where_spandrel_says_no(models):
    from srarena_spandrel.upscaler import SpandrelUpscaler

    spec = testing.registered("upscaler", "spandrel")
    with pytest.raises(ValueError, match="does not support fp16"):
        SpandrelUpscaler(spec, 2, testing.context(weights={"model": models["swinir"]},
                                                  precision="fp16"))


def test_helpers():
    assert facts.file_name("ESRGAN", 4, ".PTH") == "ESRGAN-x4.pth"
    assert facts.parse_filename("ESRGAN-x4.pth") == ("ESRGAN", 4)
    assert facts.parse_filename("RealESRGAN_x4plus.pth") is None
    assert facts.combined_tiling([{"tiling": "supported"}, {"tiling": "internal"}]) == "internal"
    assert loading.default_name(__import__("pathlib").Path("4x-Ultra Sharp.pth")) == (
        "4x-ultra-sharp")


def test_adding_a_scale_again_replaces_it_and_remove_forgets(models, sp):
    assert sp.cli("weights", "add", "spandrel", models["compact"], "--name", "r").exit_code == 0
    folder = testing.registered("upscaler", "spandrel:r")
    from srarena.kit import weights_folder

    base = weights_folder(folder.weights)
    assert (base / "Compact-x4.pth").is_file()
    result = sp.cli("weights", "add", "spandrel", models["span"], "--name", "r")
    assert result.exit_code == 0 and "replaced the x4 file" in result.output
    spec = testing.registered("upscaler", "spandrel:r")
    assert [wf.filename for wf in spec.weights.files] == ["SPAN-x4.safetensors"]
    assert not (base / "Compact-x4.pth").exists()
    assert sp.cli("weights", "add", "spandrel", models["hat"], "--name", "r").exit_code == 0
    assert sp.cli("spandrel", "remove", "r", "--scale", 4).exit_code == 0
    assert testing.registered("upscaler", "spandrel:r").scales == (2,)
    assert sp.cli("spandrel", "remove", "spandrel:r").exit_code == 0
    assert "r" not in manifest.read() and not base.exists()
    assert sp.cli("spandrel", "remove", "r").exit_code == 1


@pytest.mark.parametrize("arch_id", ["esrgan", "compact", "hat"])
def test_a_batch_equals_one_by_one(arch_id, models, sp):
    from srarena_spandrel.upscaler import SpandrelUpscaler

    spec = testing.registered("upscaler", "spandrel")
    scale = sp.ARCHS[arch_id].scale
    upscaler = SpandrelUpscaler(spec, scale, testing.context(weights={"model": models[arch_id]}))
    images = [sp.make_image(16, 16, seed=s).astype(np.float32) / 255 for s in range(3)]
    batch = upscaler.upscale_batch(images)
    for image, result in zip(images, batch, strict=True):
        single = upscaler.upscale(image).image
        assert np.abs(result.image - single).max() < 1e-5
        from srarena.kit import to_uint8

        assert np.array_equal(to_uint8(result.image), to_uint8(single))
