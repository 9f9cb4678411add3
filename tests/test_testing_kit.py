"""The conformance kit: the built-ins pass it, and broken plugins fail it with clear words."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from srarena import testing
from srarena.components import Metric, Upscaler, UpscaleResult
from srarena.specs import MetricSpec, UpscalerSpec


@pytest.mark.parametrize("name", ["nearest", "bilinear", "bicubic", "lanczos"])
def test_builtin_upscalers_conform(name):
    spec = testing.registered("upscaler", name)
    testing.check_spec(spec)
    testing.check_upscaler(spec)


@pytest.mark.parametrize("name", ["psnr", "ssim"])
def test_builtin_metrics_conform(name):
    spec = testing.registered("metric", name)
    testing.check_spec(spec)

    def pair():
        rng = np.random.default_rng(0)
        clean = rng.random((32, 32, 3), dtype=np.float32)
        noisy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1).astype(np.float32)
        return clean, noisy

    testing.check_metric(spec, better=pair)


def test_builtin_plugin_modules_register_without_torch():
    for module in ("srarena.builtins.upscalers", "srarena.builtins.metrics",
                   "srarena.builtins.datasets"):
        testing.check_registration_without_torch(module)


def test_fresh_imports_reports_watched_modules_and_output_and_fails_clearly():
    assert testing.fresh_imports("import json; print('hi')", ("json", "torch")) == (["json"],
                                                                                     "hi")
    with pytest.raises(testing.ConformanceError, match="(?s)probe broke:.*ZeroDivisionError"):
        testing.fresh_imports("1 / 0", failure="probe broke")
    with pytest.raises(testing.ConformanceError, match="fails to import or register"):
        testing.check_registration_without_torch("srarena_no_such_plugin")
    with pytest.raises(testing.ConformanceError, match="registers nothing"):
        testing.check_registration_without_torch("srarena.imageio")


class WrongSize(Upscaler):
    def upscale(self, image):
        return UpscaleResult(image)


class Noisy(Upscaler):
    def upscale(self, image):
        big = np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)
        noise = np.random.default_rng().normal(0, 0.01, big.shape)
        return np.clip(big * 0.9 + 0.05 + noise, 0, 1).astype(np.float32)


class Seamy(Upscaler):
    """Depends on the whole input (its mean), so tiles differ from the whole."""

    def upscale(self, image):
        big = np.repeat(np.repeat(image, self.scale, 0), self.scale, 1)
        return np.clip(big * 0 + image.mean(), 0, 1).astype(np.float32)


class Lenient(Metric):
    def score(self, images, references=None):
        return [float(i.mean()) for i in images]


def spec_for(cls, **kw):
    return UpscalerSpec(name="t", factory=f"{__name__}:{cls.__name__}", scales=(2,),
                        licence="MIT", **kw)


@pytest.mark.parametrize(
    ("cls", "kw", "message"),
    [
        (WrongSize, {}, "returned 19x17, expected 38x34"),
        (Noisy, {}, "not deterministic"),
        (Seamy, {"tiling": "supported"}, "declares tiling='supported'"),
    ],
)
def test_broken_upscalers_are_explained(cls, kw, message):
    with pytest.raises(testing.ConformanceError, match=message):
        testing.check_upscaler(spec_for(cls, **kw))


def test_spec_problems_are_explained():
    with pytest.raises(testing.ConformanceError, match="licence is not stated"):
        testing.check_spec(replace(spec_for(WrongSize), licence="unknown"))
    with pytest.raises(testing.ConformanceError, match="cannot be imported"):
        testing.check_spec(replace(spec_for(WrongSize), factory="nowhere.module:X"))
    with pytest.raises(testing.ConformanceError, match="subclass"):
        testing.check_spec(replace(spec_for(WrongSize), factory="numpy:ndarray"))


def test_a_drive_folder_source_must_name_its_file():
    from srarena.specs import Source, WeightFile, WeightSet

    def with_source(source):
        weights = WeightSet("w", (WeightFile("a.pth", (source,)),), licence="MIT")
        return replace(spec_for(WrongSize), weights=weights)

    folder = "https://drive.google.com/drive/folders/1aOaxXFfMAM6GvvPz56lzUwVmg7BMM_mR"
    with pytest.raises(testing.ConformanceError, match="must name the file in it"):
        testing.check_spec(with_source(Source("gdrive", url=folder)))
    with pytest.raises(testing.ConformanceError, match="not a Google Drive folder or file"):
        testing.check_spec(with_source(Source("gdrive", url="https://drive.google.com/x")))
    testing.check_spec(with_source(Source("gdrive", url=folder, filename="a.pth")))


def test_metric_that_accepts_too_small_inputs_is_explained():
    spec = MetricSpec(name="lenient", factory=f"{__name__}:Lenient", min_size=8,
                      licence="MIT")
    with pytest.raises(testing.ConformanceError, match="raise InputRefused"):
        testing.check_metric(spec)


def test_wrong_direction_is_explained():
    spec = MetricSpec(name="lenient", factory=f"{__name__}:Lenient", licence="MIT",
                      higher_is_better=False)
    bright, dark = np.ones((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32)
    with pytest.raises(testing.ConformanceError, match="higher_is_better=False"):
        testing.check_metric(spec, better=lambda: (bright, dark))


def test_generative_fake_conforms(fake_plugin):
    spec = replace(fake_plugin.upscalers["fake-gen"], licence="MIT")
    testing.check_generative(spec, size=8)
