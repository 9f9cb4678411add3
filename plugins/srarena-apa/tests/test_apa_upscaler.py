"""The GenerativeUpscaler contract end to end at a tiny size: fit, resume, load, generate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from srarena_apa import checkpoint as ckpt
from srarena_apa.training import Trainer, prepare_images

from srarena.components import Context, InputRefused

TINY = {"kimg": 0.032, "batch": 4, "channel_base": 128, "channel_max": 16, "z_dim": 32,
        "snap": 1}


def _spec(name: str = "apa"):
    from srarena_apa import plugin

    specs = []
    plugin.srarena_register_upscalers(specs.append)
    return {s.name: s for s in specs}[name]


def _images(count: int = 3, size: int = 8) -> list[np.ndarray]:
    rng = np.random.RandomState(0)
    return [rng.randint(0, 256, size=(size, size, 3)).astype(np.float32) / 255
            for _ in range(count)]


def _generator(**options):
    spec = _spec()
    calls: list[tuple[int, int, str]] = []
    context = Context(options={**TINY, **options}, seed=3,
                      progress=lambda d, t, w: calls.append((d, t, w)))
    return spec.load()(spec, context), calls


def test_fit_load_generate(tmp_path):
    gen, calls = _generator()
    folder = tmp_path / "fitted"
    gen.fit(_images(), 16, folder)
    assert ckpt.is_fitted(folder) and not (folder / ckpt.STATE_FILE).exists()
    assert calls[-1] == (32, 32, "training images")
    meta = ckpt.load_fitted(folder)[1]
    assert meta["source"] == "trained" and meta["kimg"] == 0.032 and meta["images"] == 3
    gen.load(folder)
    a, b, c = gen.generate(1000, 16), gen.generate(1000, 16), gen.generate(1001, 16)
    assert a.image.shape == (16, 16, 3) and a.image.dtype == np.float32
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    assert np.array_equal(np.rint(a.image * 255) / 255, a.image.astype(np.float64))
    calls.clear()
    gen.fit(_images(), 16, folder)  # already fitted: nothing is trained again
    assert calls == []


def test_fit_resumes_an_interrupted_run(tmp_path):
    images = _images()
    straight, _ = _generator()
    straight.fit(images, 16, tmp_path / "straight")
    resumed, calls = _generator()
    config = resumed.train_config(16)
    trainer = Trainer(config, prepare_images(images, 16), "cpu")
    for _ in range(3):
        trainer.step()
    ckpt.save_training_state(tmp_path / "resumed", trainer.state_dict())
    resumed.fit(images, 16, tmp_path / "resumed")
    assert calls[0][0] > 12  # it went on from 12 images, not from 0
    a = torch.load(tmp_path / "straight" / ckpt.GENERATOR_FILE, weights_only=True)
    b = torch.load(tmp_path / "resumed" / ckpt.GENERATOR_FILE, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cpu_refuses_real_training(tmp_path):
    gen, _ = _generator()
    with pytest.raises(InputRefused, match="CUDA"):
        gen.fit(_images(), 128, tmp_path / "fitted")


def test_random_noise_is_seeded(tmp_path, apa):
    spec = _spec("apa-pretrained")
    context = Context(weights={"network-snapshot.pkl": apa.snapshot_path},
                      options={"noise_mode": "random"})
    gen = spec.load()(spec, context)
    gen.fit([], 32, tmp_path / "fitted")
    gen.load(tmp_path / "fitted")
    torch.manual_seed(0)
    a = gen.generate(1000, 32).image
    state = torch.get_rng_state()
    b = gen.generate(1000, 32).image
    assert np.array_equal(a, b) and torch.equal(state, torch.get_rng_state())
    const = Context(weights=context.weights)
    plain = spec.load()(spec, const)
    plain.load(tmp_path / "fitted")
    assert not np.array_equal(a, plain.generate(1000, 32).image)


def test_bad_generation_options():
    spec = _spec("apa-pretrained")
    with pytest.raises(ValueError, match="noise_mode"):
        spec.load()(spec, Context(options={"noise_mode": "loud"}))
    with pytest.raises(ValueError, match="unknown options"):
        spec.load()(spec, Context(options={"kimg": 1}))
