"""The srarena component: fit, load and seeded generation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from srarena_fastgan import checkpoint as ckpt  # noqa: E402
from srarena_fastgan.upscaler import FastGANUpscaler  # noqa: E402

from srarena.components import Context, InputRefused  # noqa: E402
from srarena.plugins import build_registry  # noqa: E402


@pytest.fixture(scope="module")
def spec():
    return build_registry().upscaler("fastgan")


def make(spec, **options):
    return FastGANUpscaler(spec, Context(device="cpu", options=options))


def test_generate_is_seeded_from_the_ema_generator_in_eval_mode(spec, fg):
    up = make(spec)
    up.load(fg.fixtures)  # the folder: its newest all_<iter>.pth
    first = up.generate(1000, 256)
    assert first.image.shape == (256, 256, 3) and first.image.dtype == np.float32
    assert first.image.min() >= 0 and first.image.max() <= 1
    assert first.info["seed"] == 1000 and first.info["ema"] and first.info["iteration"] == 0
    np.testing.assert_array_equal(up.generate(1000, 256).image, first.image)
    assert np.abs(up.generate(1001, 256).image - first.image).mean() > 1e-3
    # the definition: z then every noise map from torch.Generator().manual_seed(seed)
    g, _ = ckpt.load_generator(fg.fixtures / "all_0.pth")
    rng = torch.Generator().manual_seed(1000)
    with torch.no_grad():
        out = g.eval()(torch.randn(1, 16, generator=rng), rng)[0][0]
    expected = out.add(1).mul(0.5).clamp(0, 1).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(first.image, expected)


def test_official_generation_mode_is_training_mode_batches(spec, fg):
    up = make(spec, generation="official", eval_batch=4)
    up.load(fg.fixtures / "all_0.pth")
    images = [up.generate(seed, 256).image for seed in (9, 8, 11)]
    g, _ = ckpt.load_generator(fg.fixtures / "all_0.pth")
    rng = torch.Generator().manual_seed(2)  # seeds 8..11 are batch 2
    with torch.no_grad():
        batch = g.train()(torch.randn(4, 16, generator=rng), rng)[0]
    for image, index in zip(images, (1, 0, 3), strict=True):
        np.testing.assert_array_equal(image, batch[index].add(1).mul(0.5).clamp(0, 1)
                                      .permute(1, 2, 0).numpy())
    up.generate(13, 256)  # another batch; the loaded state must not drift
    np.testing.assert_array_equal(up.generate(9, 256).image, images[0])
    assert up.generate(9, 256).info["eval_batch"] == 4
    eval_mode = make(spec)
    eval_mode.load(fg.fixtures)
    assert np.abs(eval_mode.generate(9, 256).image - images[0]).mean() > 1e-3


def test_refusals(spec, fg, tmp_path):
    up = make(spec)
    with pytest.raises(RuntimeError, match="load"):
        up.generate(0, 256)
    up.load(fg.fixtures)
    with pytest.raises(InputRefused, match="256"):
        up.generate(0, 1024)
    with pytest.raises(InputRefused, match="trains at"):
        up.fit([np.zeros((40, 40, 3), np.float32)], 320, tmp_path / "fit")
    with pytest.raises(ValueError, match="unknown options"):
        make(spec, learning_rate=1)
    with pytest.raises(ValueError, match="generation"):
        make(spec, generation="best")
    with pytest.raises(ValueError, match="fp32"):
        FastGANUpscaler(spec, Context(precision="bf16"))


def test_fit_needs_the_vgg_weights(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    from srarena.weights import WeightsMissing

    up = make(spec, iterations=0, ngf=4, ndf=4, nz=16, batch_size=1)
    with pytest.raises(WeightsMissing, match="vgg16-397923af.pth"):
        up.fit([np.zeros((32, 32, 3), np.float32)], 256, tmp_path / "fit")


@pytest.mark.slow
def test_fit_then_generate(spec, vgg_file, tmp_path):
    """Two iterations at 256 with the real LPIPS-VGG code path (random trunk), then samples."""
    calls = []
    context = Context(device="cpu", seed=4, weights={ckpt.VGG_FILENAME: vgg_file},
                      options={"iterations": 1, "ngf": 4, "ndf": 4, "nz": 16, "batch_size": 1,
                               "save_interval": 1},
                      progress=lambda done, total, what: calls.append((done, total)))
    up = FastGANUpscaler(spec, context)
    rng = np.random.default_rng(0)
    images = [rng.random((32, 32, 3), dtype=np.float32) for _ in range(3)]
    folder = tmp_path / "fitted"
    up.fit(images, 256, folder)
    assert calls == [(1, 2), (2, 2)]
    assert sorted(p.name for p in folder.iterdir()) == ["all_1.pth", "losses.csv"]
    stamp = (folder / "all_1.pth").stat().st_mtime_ns
    up.fit(images, 256, folder)  # complete: nothing is trained again
    assert (folder / "all_1.pth").stat().st_mtime_ns == stamp and len(calls) == 2
    up.load(folder)
    result = up.generate(1000, 256)
    assert result.image.shape == (256, 256, 3) and result.info["iteration"] == 1
    fresh = FastGANUpscaler(spec, dataclasses.replace(context, progress=lambda *a: None))
    fresh.load(folder / "all_1.pth")
    np.testing.assert_array_equal(fresh.generate(1000, 256).image, result.image)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_generation_matches_cpu(spec, fg):
    cpu, cuda = make(spec), FastGANUpscaler(spec, Context(device="cuda"))
    cpu.load(fg.fixtures)
    cuda.load(fg.fixtures)
    for seed in (0, 1):
        np.testing.assert_allclose(cuda.generate(seed, 256).image, cpu.generate(seed, 256).image,
                                   atol=1 / 255)
    cuda.close()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_step(fg):
    from srarena_fastgan.perceptual import LPIPSVGG
    from srarena_fastgan.training import FitConfig, Trainer

    gold = np.load(fg.fixtures / "golden_train.npz")
    config = FitConfig(im_size=256, ngf=4, ndf=4, nz=16, batch_size=2, iterations=1)
    trainer = Trainer(config, "cuda", LPIPSVGG(fg.vgg_trunk()).cuda())
    trainer.load(fg.fixtures / "all_0.pth")
    real = (torch.from_numpy(gold["images"]).float() / 255 - 0.5) / 0.5
    losses = trainer.step(real.cuda())
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(p.is_cuda for p in trainer.G.parameters())
