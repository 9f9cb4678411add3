"""An input's own channels kept around every upscaler: grey in gives grey out, alpha in gives
alpha out (upscaled by the model or by a named filter), while the metrics score RGB over black
as before, and an RGB input keys and computes exactly as before."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

import srarena
from srarena.cli import _install_commands, app
from srarena.components import Context, Upscaler, UpscaleResult
from srarena.engine.chain import Chain
from srarena.engine.single import OutputError, run_chain, run_image, run_image_batch
from srarena.imageio import (
    from_uint8,
    load_channels,
    load_image,
    luma,
    resize,
    save_png,
    to_rgb,
    to_uint8,
    to_uint8_float32,
)
from srarena.specs import UpscalerSpec
from srarena.store import array_hash

_install_commands()
RNG = np.random.default_rng(27)


def u8(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


# --- reading and writing ------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "shape", "channels"), [
    ("L", (7, 9), 1), ("LA", (7, 9, 2), 2), ("RGB", (7, 9, 3), 3), ("RGBA", (7, 9, 4), 4)])
def test_load_channels_keeps_the_files_channels_straight(tmp_path, mode, shape, channels):
    data = u8(*shape)
    Image.fromarray(data, mode=mode).save(tmp_path / "a.png")
    got = load_channels(tmp_path / "a.png")
    assert got.dtype == np.float32 and got.shape == (7, 9, channels)
    np.testing.assert_array_equal(got, (data.reshape(7, 9, channels) / 255).astype(np.float32))
    # load_image is unchanged: grey replicated, alpha composited over black
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), to_rgb(got), atol=1e-7)


def test_rgb_inputs_read_and_hash_as_before(tmp_path):
    """An RGB file's array (and so its input hash, the key of its results) is the same
    whichever reader the engine uses."""
    Image.fromarray(u8(11, 13, 3)).save(tmp_path / "rgb.png")
    assert np.array_equal(load_channels(tmp_path / "rgb.png"), load_image(tmp_path / "rgb.png"))
    assert array_hash(load_channels(tmp_path / "rgb.png")) == array_hash(
        load_image(tmp_path / "rgb.png"))


def test_palette_transparency_and_tiff_associated_alpha_become_straight_rgba(tmp_path):
    index = np.array([[0, 1, 2]], dtype=np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (253 * 3))
    img.save(tmp_path / "p.png", transparency=1)
    got = load_channels(tmp_path / "p.png")
    assert got.shape == (1, 3, 4)
    np.testing.assert_array_equal(got[0, :, 3], [1, 0, 1])
    np.testing.assert_array_equal(got[0, 1, :3], [0, 1, 0])  # the colour kept under alpha 0
    straight = np.array([[[0.5, 0.25, 1.0, 0.5]]], dtype=np.float32)
    premultiplied = straight.copy()
    premultiplied[..., :3] *= straight[..., 3:]
    tifffile.imwrite(tmp_path / "a.tif", premultiplied, photometric="rgb",
                     extrasamples=["assocalpha"])
    np.testing.assert_allclose(load_channels(tmp_path / "a.tif"), straight, atol=1e-7)
    np.testing.assert_allclose(load_image(tmp_path / "a.tif"), premultiplied[..., :3], atol=1e-7)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_save_png_writes_the_images_channels(tmp_path, channels):
    data = u8(5, 6, channels)
    save_png(tmp_path / "a.png", data)
    with Image.open(tmp_path / "a.png") as written:
        assert written.mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    np.testing.assert_array_equal(to_uint8(load_channels(tmp_path / "a.png")),
                                  data.reshape(5, 6, channels))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_to_rgb_of_8_bits_is_what_load_image_reads_back(tmp_path, channels):
    """The bench scores an output it holds in memory as the metrics would see its PNG."""
    data = u8(5, 6, channels)
    save_png(tmp_path / "a.png", data)
    assert np.array_equal(to_rgb(data), load_image(tmp_path / "a.png"))


def _exact_fma_luma(r: np.float32, g: np.float32, b: np.float32) -> np.float32:
    """OpenCV's vectorised float luma, with exact rational arithmetic between roundings."""
    wr, wg, wb = (np.float32(w) for w in (0.299, 0.587, 0.114))
    green = np.float32(g * wg)  # a float32 product
    inner = np.float32(float(Fraction(float(b)) * Fraction(float(wb)) + Fraction(float(green))))
    return np.float32(float(Fraction(float(r)) * Fraction(float(wr)) + Fraction(float(inner))))


def test_luma_is_the_fused_float32_bt601_formula():
    rgb = RNG.random((6, 7, 3), dtype=np.float32)
    got = luma(rgb)
    assert got.shape == (6, 7, 1) and got.dtype == np.float32
    expected = [[_exact_fma_luma(*px) for px in row] for row in rgb]
    np.testing.assert_array_equal(got[..., 0], np.array(expected, dtype=np.float32))
    np.testing.assert_allclose(got[..., 0], rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-6)


# --- the engine -----------------------------------------------------------------------------


class Tinted(Upscaler):
    """Nearest x2 that tints its output (so that a grey output must be brought back to one
    channel); alpha and rounding from the context's options."""

    def __init__(self, spec, scale, context):
        super().__init__(spec, scale, context)
        self.alpha = context.options.get("alpha", "bilinear")
        self.rounding = context.options.get("rounding", "float64")
        self.seen: list[tuple[int, ...]] = []

    def upscale(self, image):
        self.seen.append(image.shape)
        out = np.repeat(np.repeat(image, 2, 0), 2, 1) * np.array([1.0, 0.9, 0.8], np.float32)
        return UpscaleResult(out.astype(np.float32), info={"step": "tinted"})


def tinted(**options) -> dict[int, Upscaler]:
    spec = UpscalerSpec(name="tinted", factory="x:y", scales=(2,))
    return {2: Tinted(spec, 2, Context(options=options))}


X2 = Chain((2,), 2)


def test_rgb_images_take_the_chains_own_path():
    image = RNG.random((5, 7, 3), dtype=np.float32)
    instances = tinted()
    assert np.array_equal(run_image(instances, X2, image, None).image,
                          run_chain(instances, X2, image, None).image)


def test_grey_in_grey_out_through_the_luma_of_the_rgb_output():
    grey = RNG.random((5, 7, 1), dtype=np.float32)
    instances = tinted()
    out = run_image(instances, X2, grey, None)
    assert instances[2].seen == [(5, 7, 3)]  # the upscaler saw RGB
    rgb = run_chain(instances, X2, np.repeat(grey, 3, axis=-1), None).image
    assert out.image.shape == (10, 14, 1)
    np.testing.assert_array_equal(out.image, luma(rgb))
    assert out.info["grey"] == "bt601-luma" and "alpha" not in out.info


def test_alpha_by_a_filter_or_by_the_model():
    rgba = RNG.random((5, 7, 4), dtype=np.float32)
    by_filter = run_image(tinted(), X2, rgba, None)
    assert by_filter.image.shape == (10, 14, 4) and by_filter.info["alpha"] == "filter:bilinear"
    np.testing.assert_array_equal(by_filter.image[..., 3:],
                                  np.clip(resize(rgba[..., 3:], 14, 10, "bilinear"), 0, 1))
    np.testing.assert_array_equal(by_filter.image[..., :3],
                                  run_chain(tinted(), X2, rgba[..., :3].copy(), None).image)
    model = tinted(alpha="model")
    by_model = run_image(model, X2, rgba, None)
    assert model[2].seen == [(5, 7, 3), (5, 7, 3)] and by_model.info["alpha"] == "model"
    alpha_rgb = run_chain(tinted(), X2, np.repeat(rgba[..., 3:], 3, axis=-1), None).image
    np.testing.assert_array_equal(by_model.image[..., 3:], luma(alpha_rgb))
    grey_alpha = run_image(tinted(alpha="bicubic"), X2, rgba[..., 2:], None)
    assert grey_alpha.image.shape == (10, 14, 2) and grey_alpha.info["alpha"] == "filter:bicubic"


def test_float32_rounding_gives_the_levels_numpy_rounds_in_float32():
    image = RNG.random((9, 8, 3), dtype=np.float32)
    plain = run_image(tinted(), X2, image, None).image
    rounded = run_image(tinted(rounding="float32"), X2, image, None).image
    assert np.array_equal(to_uint8(rounded), to_uint8_float32(plain))
    assert np.array_equal(rounded, from_uint8(to_uint8_float32(plain)))


def test_batches_keep_channels_like_single_images():
    images = [RNG.random((4, 6, 4), dtype=np.float32) for _ in range(3)]
    batch = run_image_batch(tinted(alpha="model"), X2, images)
    for image, out in zip(images, batch, strict=True):
        assert np.array_equal(out.image, run_image(tinted(alpha="model"), X2, image, None).image)


def test_an_unknown_alpha_method_is_a_clear_error():
    with pytest.raises(OutputError, match="neither 'model' nor one of"):
        run_image(tinted(alpha="sinc"), X2, RNG.random((4, 4, 4), dtype=np.float32), None)


# --- commands -------------------------------------------------------------------------------


def test_upscale_keeps_alpha_and_grey(tmp_path):
    rgba, grey = u8(6, 5, 4), u8(6, 5)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    printed = {}
    for name in ("a", "g"):
        result = CliRunner().invoke(app, ["upscale", "-u", "bicubic", "--scale", "2",
                                          str(tmp_path / f"{name}.png"),
                                          str(tmp_path / f"{name}2.png")])
        assert result.exit_code == 0, result.output
        printed[name] = " ".join(result.output.split())  # rich wraps long lines
    assert "alpha filter:bicubic" in printed["a"] and "grey bt601-luma" in printed["g"]
    with Image.open(tmp_path / "a2.png") as out:
        assert out.mode == "RGBA" and out.size == (10, 12)
    expected = resize(from_uint8(rgba), 10, 12, "bicubic")  # bicubic's alpha: bicubic too
    np.testing.assert_array_equal(to_uint8(load_channels(tmp_path / "a2.png")),
                                  to_uint8(np.clip(expected, 0, 1)))
    with Image.open(tmp_path / "g2.png") as out:
        assert out.mode == "L" and out.size == (10, 12)


def test_upscale_refuses_an_unknown_option(tmp_path):
    Image.fromarray(u8(6, 5, 3)).save(tmp_path / "a.png")
    result = CliRunner().invoke(app, ["upscale", "-u", "bicubic", "--scale", "2", "-o",
                                      "bicubic.colour=1", str(tmp_path / "a.png"),
                                      str(tmp_path / "b.png")])
    assert result.exit_code == 2 and "unknown option colour" in result.output


def test_bench_outputs_keep_channels_and_metrics_score_rgb_over_black(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(u8(8, 10, 4), "RGBA").save(folder / "alpha.png")
    Image.fromarray(u8(8, 10), "L").save(folder / "grey.png")
    Image.fromarray(u8(8, 10, 3)).save(folder / "rgb.png")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["bench", "-u", "bicubic", "-d", f"folder:{folder}",
                                      "-m", "contrast", "--scale", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = srarena.open_run(out)
    outputs = run.outputs().set_index("image_id")
    modes = {}
    for image_id, row in outputs.iterrows():
        with Image.open(out / row["path"]) as written:
            modes[image_id] = written.mode
    assert modes == {"alpha": "RGBA", "grey": "L", "rgb": "RGB"}
    from srarena.metrics.contrast import Contrast
    from srarena.plugins import get_registry

    metric = Contrast(get_registry().metric("contrast"), Context())
    scores = run.scores().set_index("image_id")["value"]
    for image_id, row in outputs.iterrows():
        rgb = load_image(out / row["path"])  # what the metric sees: RGB over black
        assert scores[image_id] == pytest.approx(metric.score([rgb])[0], abs=0, rel=1e-12)
