"""Training against the official code: configuration, augmentations, losses, loop."""

from __future__ import annotations

import copy
import gzip
import json

import numpy as np
import pytest
import torch
from srarena_apa.arch.augment import AugmentPipe
from srarena_apa.arch.networks import Discriminator, Generator
from srarena_apa.config import TrainConfig, resolve
from srarena_apa.training import ApaLoss, InfiniteSampler, Trainer, prepare_images

OFFICIAL_DEFAULTS = {"mirror": False, "with_dataaug": False, "kimg": 25000}


def _config_rows(apa):
    with gzip.open(apa.fixtures / "golden_config.json.gz", "rt") as handle:
        return json.load(handle)


def test_configuration_matches_train_py(apa):
    """Every preset x resolution x GPU count x option set train.py resolved (gzip JSON)."""
    checked = 0
    for row in _config_rows(apa):
        if row["cfg"] == "cifar" or "resume" in row["options"]:
            continue  # the 'orig' discriminator and transfer learning are not implemented
        options = {**OFFICIAL_DEFAULTS, "cfg": row["cfg"], "gpus": row["gpus"],
                   **row["options"]}
        cfg = resolve(row["res"], options)
        synthesis = cfg.G_kwargs["synthesis_kwargs"]
        got = dict(
            batch_size=cfg.batch_size, batch_gpu=cfg.batch_gpu, total_kimg=cfg.total_kimg,
            ema_kimg=cfg.ema_kimg, ema_rampup=cfg.ema_rampup, r1_gamma=cfg.r1_gamma,
            pl_weight=cfg.pl_weight, style_mixing_prob=cfg.style_mixing_prob, lr=cfg.lr,
            betas=list(cfg.betas), channel_base=synthesis["channel_base"],
            channel_max=synthesis["channel_max"], map=cfg.G_kwargs["mapping_kwargs"]["num_layers"],
            num_fp16_res=synthesis["num_fp16_res"], conv_clamp=synthesis["conv_clamp"],
            mbstd=cfg.D_kwargs["epilogue_kwargs"]["mbstd_group_size"], d_architecture="resnet",
            xflip=cfg.xflip, apa_target=cfg.apa_target, augment_p=cfg.augment_p,
            with_dataaug=cfg.with_dataaug,
            augment=cfg.augpipe is not None and (cfg.augment_p > 0 or cfg.apa_target is not None),
            apa_kimg=cfg.apa_kimg,
        )
        expected = {k: v for k, v in row.items() if k not in ("res", "cfg", "gpus", "options")}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12), (key, row)
            else:
                assert got[key] == value, (key, row)
        assert cfg.D_kwargs["num_fp16_res"] == synthesis["num_fp16_res"]
        checked += 1
    assert checked == 8 * 3 * 2 * 6  # resolutions x presets x GPU counts x option sets


def test_study_configuration():
    """1024², one GPU, the README's APA command: batch 4, gamma 52.4288, lr 0.002."""
    cfg = resolve(1024, {})
    assert (cfg.batch_size, cfg.batch_gpu, cfg.lr, cfg.ema_kimg) == (4, 4, 0.002, 1.25)
    assert cfg.r1_gamma == pytest.approx(52.4288)
    assert cfg.apa_target == 0.6 and cfg.with_dataaug and cfg.xflip and cfg.augpipe == "bgc"
    assert cfg.G_kwargs["synthesis_kwargs"] == dict(channel_base=32768, channel_max=512,
                                                    num_fp16_res=4, conv_clamp=256)
    assert TrainConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("options, message", [
    ({"cfg": "cifar"}, "cfg"), ({"aug": "fixed"}, "needs p"), ({"p": 0.3}, "aug=fixed"),
    ({"aug": "noaug"}, "with_dataaug"), ({"gpus": 3}, "power of two"),
    ({"batch": 6}, "multiple"), ({"target": 2}, "target"), ({"kimg": 0}, "kimg"),
])
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        resolve(256, options)


def test_augment_pipe_matches_official(apa):
    official = apa.golden("augment")
    x = torch.from_numpy(official["input"])
    for p in (1.0, 0.3, 0.0):
        pipe = AugmentPipe.pipeline("bgc")
        pipe.p.fill_(p)
        torch.manual_seed(5)
        np.testing.assert_allclose(pipe(x).numpy(), official[f"p{p}"], atol=1e-5)
        assert np.array_equal(torch.rand(3).numpy(), official[f"p{p}_next"]), "RNG order"
    for name in ("blit", "geom", "color"):
        pipe = AugmentPipe.pipeline(name)
        pipe.p.fill_(0.8)
        torch.manual_seed(9)
        np.testing.assert_allclose(pipe(x).numpy(), official[name], atol=1e-5, err_msg=name)
    with pytest.raises(ValueError, match="pipeline"):
        AugmentPipe.pipeline("bgcfnc")


def _nets(snapshot, fp32: bool = True):
    """G and D of the snapshot in training mode, gradients off; with ``fp32`` the float16
    blocks are turned off. Also the init keyword arguments used."""
    g = snapshot.network("G", "Generator")
    d = snapshot.network("D", "Discriminator")
    g_kwargs, d_kwargs = copy.deepcopy(g.init_kwargs), dict(d.init_kwargs)
    if fp32:
        g_kwargs["synthesis_kwargs"]["num_fp16_res"] = 0
        d_kwargs["num_fp16_res"] = 0
    G = Generator(**g_kwargs).train().requires_grad_(False)
    G.load_state_dict(g.tensors())
    D = Discriminator(**d_kwargs).train().requires_grad_(False)
    D.load_state_dict(d.tensors())
    return G, D, g_kwargs, d_kwargs


PHASES = (("Gmain", 1), ("Greg", 4), ("Dmain", 1), ("Dreg", 16))
"""The official training phases and their gains (regularisation intervals)."""


def _phases(loss, G, D, real, gen_z):
    """Run each phase as the golden files were made (seed 100 + its index), yielding
    (phase, module) with that module's gradients accumulated."""
    for i, (phase, gain) in enumerate(PHASES):
        module = G if phase.startswith("G") else D
        torch.manual_seed(100 + i)
        module.requires_grad_(True)
        loss.accumulate_gradients(phase, real, gen_z, gain)
        module.requires_grad_(False)
        yield phase, module


@pytest.mark.parametrize("tag, with_dataaug, p", [("aug", True, 0.5), ("noaug", False, 1.0)])
def test_loss_gradients_match_official(apa, snapshot, tag, with_dataaug, p):
    """Each phase's gradients (official StyleGAN2Loss of DeceiveD, same seeds and inputs)."""
    official = apa.golden("loss")
    G, D, g_kwargs, d_kwargs = _nets(snapshot)
    pipe = AugmentPipe.pipeline("bgc").train()
    pipe.p.fill_(p)
    cfg = TrainConfig(resolution=32, G_kwargs=g_kwargs, D_kwargs=d_kwargs, r1_gamma=0.8,
                      with_dataaug=with_dataaug)
    loss = ApaLoss(G, D, pipe, cfg, torch.device("cpu"))
    loss.pl_mean.fill_(0.3)
    real, gen_z = torch.from_numpy(official["real"]), torch.from_numpy(official["gen_z"])
    compared = 0
    for phase, module in _phases(loss, G, D, real, gen_z):
        for name, param in module.named_parameters():
            key = f"{tag}/{phase}/{name}"
            if key in official:
                ref = official[key]
                np.testing.assert_allclose(param.grad.numpy(), ref,
                                           atol=1e-5 * max(np.abs(ref).max(), 1e-3),
                                           err_msg=key)
                compared += 1
            param.grad = None
    assert compared >= (80 if tag == "aug" else 40)
    assert float(loss.pl_mean) == pytest.approx(float(official["aug/pl_mean"]), rel=1e-6)
    assert float(loss.sign_sum) / loss.sign_count == float(official[f"{tag}/signs_real"])
    np.testing.assert_allclose(G.mapping.w_avg.numpy(), official[f"{tag}/w_avg"], atol=1e-6)


def test_pseudo_augmentation_extremes(snapshot):
    G, D, g_kwargs, d_kwargs = _nets(snapshot)
    pipe = AugmentPipe.pipeline("bgc")
    loss = ApaLoss(G, D, pipe, TrainConfig(32, g_kwargs, d_kwargs), torch.device("cpu"))
    real, fake = torch.zeros(4, 3, 32, 32), torch.ones(4, 3, 32, 32)
    loss.pseudo_data = fake
    pipe.p.fill_(0.0)
    assert loss.pseudo_augment(real) is real
    pipe.p.fill_(1.0)
    assert torch.equal(loss.pseudo_augment(real), fake)
    pipe.p.fill_(0.5)
    torch.manual_seed(0)
    mixed = loss.pseudo_augment(real)
    assert set(mixed.flatten(1).mean(1).tolist()) <= {0.0, 1.0}


def _loop_config(apa, iterations: int, **changes) -> TrainConfig:
    g_kwargs, d_kwargs = apa.tiny_kwargs(fp16=0, clamp=256, mbstd=4)
    base = dict(resolution=32, G_kwargs=g_kwargs, D_kwargs=d_kwargs, lr=0.0025, r1_gamma=1.0,
                batch_size=4, batch_gpu=4, ema_kimg=0.02, ema_rampup=None, apa_target=-1.0,
                apa_kimg=0.05, augpipe="bgc", with_dataaug=True,
                total_kimg=iterations * 4 / 1000, xflip=True, seed=0)
    return TrainConfig(**{**base, **changes})


def test_training_loop_matches_official(apa):
    """Nine iterations of DeceiveD's training_loop (patched to run on CPU) from seed 0:
    all phases, lazy R1 and path length, EMA, two APA updates (target -1 pushes p up)."""
    official = apa.golden("loop")
    images = official["images"].transpose(0, 3, 1, 2).copy()
    trainer = Trainer(_loop_config(apa, 9), images, "cpu")
    trainer.run()
    assert trainer.cur_nimg == 36 and trainer.batch_idx == 9
    assert trainer.p == pytest.approx(float(official["p"]))
    for name, net in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
        for key, value in net.state_dict().items():
            np.testing.assert_allclose(value.numpy(), official[f"{name}/{key}"], atol=1e-4,
                                       rtol=1e-4, err_msg=f"{name}/{key}")


def test_resume_is_exact(apa):
    """Stopping after 5 iterations and resuming from the saved state changes nothing."""
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, size=(3, 3, 32, 32)).astype(np.uint8)
    config = _loop_config(apa, 6, apa_kimg=0.02, apa_target=0.0)
    straight = Trainer(config, images, "cpu")
    straight.run()
    first = Trainer(config, images, "cpu")
    for _ in range(5):
        first.step()
    state = first.state_dict()
    torch.manual_seed(1234)  # whatever happens in between
    second = Trainer(config, images, "cpu")
    second.load_state_dict(state)
    second.run()
    assert second.cur_nimg == straight.cur_nimg and second.p == straight.p
    for a, b in zip(straight.G_ema.state_dict().values(), second.G_ema.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    other = TrainConfig(**{**config.__dict__, "r1_gamma": 2.0})
    with pytest.raises(ValueError, match="another configuration"):
        Trainer(other, images, "cpu").load_state_dict(state)


# The first 24 indices of DeceiveD's torch_utils.misc.InfiniteSampler (seed 0), recorded
# by running it on datasets of 6 and 16 items.
OFFICIAL_SAMPLES = {
    6: [5, 2, 1, 3, 0, 2, 4, 3, 1, 5, 0, 3, 4, 5, 0, 1, 2, 4, 5, 0, 1, 3, 4, 2],
    16: [1, 6, 8, 9, 13, 4, 2, 14, 10, 7, 15, 8, 9, 0, 13, 1, 12, 11, 14, 3, 7, 2, 4, 10],
}


@pytest.mark.parametrize("size", sorted(OFFICIAL_SAMPLES))
def test_sampler_stream(size):
    sampler = InfiniteSampler(size, seed=0)
    first = sampler.take(10)
    state = sampler.state_dict()
    rest = sampler.take(14)
    assert first.tolist() + rest.tolist() == OFFICIAL_SAMPLES[size]
    again = InfiniteSampler(size, seed=0)
    again.load_state_dict(state)
    assert again.take(14).tolist() == rest.tolist()


def test_prepare_images_lanczos_like_dataset_tool():
    from PIL import Image

    rng = np.random.RandomState(0)
    image = rng.randint(0, 256, size=(8, 8, 3)).astype(np.uint8)
    out = prepare_images([image.astype(np.float32) / 255], 32)
    expected = np.asarray(Image.fromarray(image).resize((32, 32), Image.Resampling.LANCZOS))
    assert out.shape == (1, 3, 32, 32) and np.array_equal(out[0].transpose(1, 2, 0), expected)
    same = prepare_images([image.astype(np.float32) / 255], 8)
    assert np.array_equal(same[0].transpose(1, 2, 0), image)


def _fingerprint(t: torch.Tensor) -> list[float]:
    """sum, sum of squares and a cosine-weighted sum of a tensor, in float64."""
    x = t.detach().double().flatten()
    w = torch.cos(torch.arange(x.numel(), dtype=torch.float64) * 0.7)
    return [float(x.sum()), float((x * x).sum()), float((x * w).sum())]


FLOAT16_RATIO = 0.5
"""How far srarena's float16 gradients may be from the official float16 ones, as a fraction
of the official float16 gradients' own distance from the official float32 ones."""


def check_float16_fingerprints(got, ref16, ref32, numel, phase: str) -> None:
    """Gradient fingerprints of srarena's float16 path (``got``) against the official float16
    ones (``ref16``), with the official float32 ones (``ref32``) of the same phase.

    Errors are measured in units of each tensor's norm (what a relative L2 error of 1 does to
    a fingerprint). The float16 effect, ``ref32 - ref16``, ranges from 1e-6 to several
    norms (near-zero gradients summed in float16). Two float16 computations agree but for
    rare float16 rounding flips, so: (a) over the phase, the error is under
    ``FLOAT16_RATIO`` of the float16 effect (Frobenius norms); (b) each tensor is within
    twice its own float16 effect plus the phase's median one (a tensor's effect is one draw
    and can be accidentally small), which a single wrong tensor fails where (a) would not see
    it among larger effects.

    Measured (phases Gmain, Greg, Dmain, Dreg): 0 in every phase (bit for bit) on a CPU
    without AVX512-FP16, like the fixtures'; on an AVX512-FP16 CPU under
    ``fixture_float16_kernels`` (oneDNN off), (a) 0.009, 0.018, 0.014, 0.26 and (b) at most
    0.53 of its bound. Failing: the float32 path, (a) 1.0 in every phase; oneDNN's native
    float16 kernels, 0.84, 0.84, 1.2, 1.7; r1_gamma 10 % off, Dreg 1.1; pl_weight 10 % off,
    Greg 3.1; pl_decay doubled, Greg 0.59; without ADA's augmentations, Gmain 137; without
    APA's pseudo augmentation, Dmain 32; one tensor's gradient 5 % off, (b) 2-14 times its
    bound, except for tensors whose float16 effect is larger than that.
    """
    scale = np.sqrt(numel * ref16[:, 1:2])
    scale = np.maximum(np.concatenate([scale, 2 * ref16[:, 1:2], scale], 1), 1e-30)
    err, effect = (got - ref16) / scale, (ref32 - ref16) / scale
    ratio = np.linalg.norm(err) / np.linalg.norm(effect)
    assert ratio < FLOAT16_RATIO, f"{phase}: {ratio:.3f} of the float16 effect"
    err, effect = np.linalg.norm(err, axis=1), np.linalg.norm(effect, axis=1)
    bound = 2 * (effect + np.median(effect))
    assert (err <= bound).all(), f"{phase}: tensors {np.flatnonzero(err > bound).tolist()}"


def test_mixed_precision_loss_matches_official(apa, snapshot):
    """The official mixed precision (float16 in the two highest-resolution blocks of G and
    D, as the snapshot was built), run on CPU in float16 by both: gradient fingerprints,
    against the official float32 gradients of the same phases (``golden_loss``'s aug run:
    same inputs, seeds and settings)."""
    official = apa.golden("loss_mixed")
    inputs = apa.golden("loss")
    G, D, g_kwargs, d_kwargs = _nets(snapshot, fp32=False)
    assert G.synthesis.b32.use_fp16 and D.b32.use_fp16 and not D.b8.use_fp16
    pipe = AugmentPipe.pipeline("bgc").train()
    pipe.p.fill_(0.5)
    cfg = TrainConfig(32, g_kwargs, d_kwargs, r1_gamma=0.8, with_dataaug=True)
    loss = ApaLoss(G, D, pipe, cfg, torch.device("cpu"), force_fp32=False)
    loss.pl_mean.fill_(0.3)
    real, gen_z = torch.from_numpy(inputs["real"]), torch.from_numpy(inputs["gen_z"])
    with apa.fixture_float16_kernels():  # the fixtures' float16 kernels (see conftest)
        for phase, module in _phases(loss, G, D, real, gen_z):
            grads = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
            assert list(grads) == official[f"{phase}/names"].tolist()
            got = np.array([_fingerprint(t) for t in grads.values()])
            ref32 = np.array([_fingerprint(torch.from_numpy(inputs[f"aug/{phase}/{name}"]))
                              for name in grads])
            numel = np.array([[t.numel()] for t in grads.values()])
            check_float16_fingerprints(got, official[f"{phase}/fingerprints"], ref32, numel,
                                       phase)
            for p in module.parameters():
                p.grad = None
    assert float(loss.pl_mean) == pytest.approx(float(official["pl_mean"]), rel=1e-4)
