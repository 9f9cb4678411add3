"""Golden tests: srarena's FastGAN against outputs of the official code (see README)."""

from __future__ import annotations

import contextlib
import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from srarena_fastgan import checkpoint as ckpt  # noqa: E402
from srarena_fastgan.arch import Discriminator, Generator, init_weights  # noqa: E402
from srarena_fastgan.diffaug import diff_augment  # noqa: E402

from srarena.weights.statedict import load_state  # noqa: E402

ATOL = 1e-5
SIZES = [256, pytest.param(512, marks=pytest.mark.slow), pytest.param(1024, marks=pytest.mark.slow)]


@pytest.fixture(scope="module")
def gold(fg):
    meta = json.loads((fg.fixtures / "golden_forward.json").read_text())
    return meta, dict(np.load(fg.fixtures / "golden_forward.npz"))


def build(size, meta):
    width = meta["width"][str(size)]
    torch.manual_seed(1000 + size)
    g = Generator(ngf=width, nz=meta["nz"], im_size=size)
    g.apply(init_weights)
    d = Discriminator(ndf=width, im_size=size)
    d.apply(init_weights)
    return g, d


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_keys_order_and_initialisation_match_official(gold, fg, size):
    meta, arrays = gold
    g, d = build(size, meta)
    assert list(g.state_dict()) == meta[f"keys_g_{size}"]
    assert list(d.state_dict()) == meta[f"keys_d_{size}"]
    assert [n for n, _ in g.named_parameters()] == meta[f"params_g_{size}"]  # g_ema order
    # same global-RNG consumption as official construction + weights_init: identical values
    fg.check(list(g.state_dict().values()), arrays[f"init_g_{size}"], 1e-7, "G init")
    fg.check(list(d.state_dict().values()), arrays[f"init_d_{size}"], 1e-7, "D init")


def networks(size, meta, fg):
    """The golden weights: the official all_0.pth fixture at 256, init + recipe otherwise."""
    g, d = build(size, meta)
    if size == 256:
        g, _ = ckpt.load_generator(fg.fixtures / "all_0.pth")  # EMA params applied
        state = load_state(fg.fixtures / "all_0.pth")
        d.load_state_dict(ckpt.strip_prefix(state["d"]), strict=True)
    else:
        fg.perturb(g, 1)
        fg.perturb(d, 2)
    return g, d


@pytest.mark.parametrize("size", SIZES)
def test_generator_matches_official(gold, fg, size):
    meta, arrays = gold
    g, _ = networks(size, meta, fg)
    state = copy.deepcopy(g.state_dict())
    z = torch.from_numpy(arrays[f"z_{size}"])
    with torch.no_grad():
        g.eval()
        torch.manual_seed(11)  # official noise: global CPU RNG
        big, small = g(z)
        np.testing.assert_allclose(fg.subsample(big), arrays[f"g_eval_big_{size}"], atol=ATOL)
        np.testing.assert_allclose(fg.subsample(small), arrays[f"g_eval_small_{size}"],
                                   atol=ATOL)
        fg.check([big, small], arrays[f"g_eval_fp_{size}"], 1e-6, "G eval")
        g.load_state_dict(state)
        g.train()  # the official eval.py mode; noise from a seeded generator this time
        big, small = g(z, torch.Generator().manual_seed(12))
        np.testing.assert_allclose(fg.subsample(big), arrays[f"g_train_big_{size}"], atol=ATOL)
        fg.check([big, small], arrays[f"g_train_fp_{size}"], 1e-6, "G train")
        # BN running statistics and spectral-norm vectors moved exactly as official
        fg.check(list(g.state_dict().values()), arrays[f"g_train_state_{size}"], 1e-6,
                 "G state after a training-mode forward")


@pytest.mark.parametrize("size", SIZES)
def test_discriminator_matches_official(gold, fg, size):
    meta, arrays = gold
    _, d = networks(size, meta, fg)
    state = copy.deepcopy(d.state_dict())
    real = fg.seeded((2, 3, size, size), 21)
    fake_small = fg.seeded((2, 3, 128, 128), 22)
    with torch.no_grad():
        for part in range(4):
            d.load_state_dict(state)
            d.train()
            logits, recs = d(real, "real", part)
            np.testing.assert_allclose(logits.numpy(), arrays[f"d_real_logits_{size}_{part}"],
                                       atol=ATOL)
            fg.check(recs, arrays[f"d_real_recs_fp_{size}_{part}"], 1e-6, f"recs part {part}")
            np.testing.assert_allclose(fg.subsample(recs[2]),
                                       arrays[f"d_real_part_{size}_{part}"], atol=ATOL)
        np.testing.assert_allclose(fg.subsample(recs[0]), arrays[f"d_real_big_{size}"], atol=ATOL)
        np.testing.assert_allclose(fg.subsample(recs[1]), arrays[f"d_real_small_{size}"],
                                   atol=ATOL)
        fg.check(list(d.state_dict().values()), arrays[f"d_real_state_{size}"], 1e-6, "D state")
        d.load_state_dict(state)
        np.testing.assert_allclose(d([real, fake_small], "fake").numpy(),
                                   arrays[f"d_fake_logits_{size}"], atol=ATOL)
        d.load_state_dict(state)
        d.eval()
        np.testing.assert_allclose(d([real, fake_small], "fake").numpy(),
                                   arrays[f"d_eval_logits_{size}"], atol=ATOL)


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_diffaugment_matches_official(gold, fg, size):
    _, arrays = gold
    x = fg.seeded((2, 3, size, size), 31)
    y = diff_augment(x, "color,translation", torch.Generator().manual_seed(32))
    np.testing.assert_allclose(fg.subsample(y), arrays[f"diffaug_{size}"], atol=ATOL)
    fg.check([y], [arrays[f"diffaug_fp_{size}"]], 1e-6, "DiffAugment")


# ---------------------------------------------------------------- one training iteration
#
# The training golden compares the float32 results of two machines, and one iteration is not
# equally well conditioned everywhere. Measured against the fixture on an AVX-512 machine (and
# with 1-4 threads, and with MKL, oneDNN and ATen forced to other instruction sets):
#
# 1. The D-step forward and its five losses agree to a few ulps.
# 2. The D gradients agree only to ~1e-3 (relative L2): the LPIPS-VGG backward leaves them with
#    a float32 rounding error that large, and the error reaches every D tensor (a 2-entry BN
#    gradient that is 1e-6 from float64 can still be 1.5e-4 from the fixture).
# 3. Adam's first step, from the fixture's empty moments, moves a parameter by
#    lr * g / (|g| + eps), i.e. by +-lr wherever |g| >> eps. An entry whose gradient is within
#    its rounding error of 0 can therefore land up to 2 lr away from the official value.
# 4. Everything after the D step runs through such entries: the G loss and G gradients, the G
#    step and EMA, and the BN statistics and spectral-norm vectors of the third D forward.
#    Reversing the steps of the ~240 undetermined D trunk entries moves the G gradients by
#    4 % (median tensor) to 40 %.
#
# With the former fixed tolerance (1e-5) the first failure was a BN running mean of the third
# D forward (D state [80]); the D and G moments were further off (1e-3 and 2e-3).
#
# Each value is therefore compared with the tolerance its arithmetic allows, from three runs:
# the float32 step; the same step in float64 (same inputs and random numbers), whose
# difference is the float32 rounding error; and the float32 step with the D steps of the
# undetermined entries (point 3) reversed, whose difference is what they can do downstream.
# - TRAIN_RTOL, the former tolerance, is the floor everywhere and stays the bound where the
#   computation is well conditioned (the D-step losses, the G forward's buffers, ...).
# - A value may differ from official by ROUNDING_FACTOR times its difference in these runs:
#   the official value carries an error of the same kind, and allowing it 3 times ours gives
#   the factor 4. One tensor's difference is one draw and can be accidentally small, so each is
#   floored by its group's: by the largest for the D gradients (one error source, point 2), by
#   the median for the values downstream of the D step.
# - Parameters after a step are bounded entry by entry through Adam's normalisation
#   (``adam_bounds``), from the uncertainty of their gradients.
#
# The test still fails for a wrong implementation: a learning rate 10 % off in either step (and
# srarena's Adam hyperparameters must equal the official file's), a missing DiffAugment, a
# wrong EMA rate or a wrong Adam beta fail it, far outside these tolerances (tried by hand).

TRAIN_RTOL = 1e-5
ROUNDING_FACTOR = 4.0
EMA_RATE = 0.001  # official train.py: avg_p.mul_(0.999).add_(0.001 * p)
ADAM_KEYS = ("lr", "betas", "eps", "weight_decay", "amsgrad")  # what the step computes with


@pytest.fixture
def two_threads():
    """The training golden was made with 2 CPU threads. A training step's gradients depend on
    the order of floating-point reductions (see above), so the test keeps the fixture's thread
    count; its tolerances do not assume the same reduction order."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@contextlib.contextmanager
def float32_draws(dtype: torch.dtype):
    """``torch.rand``/``randn`` draw float32 numbers, as in the float32 run, returned as
    ``dtype``: a float64 rerun then uses the same random numbers (float64 draws differ)."""
    rand, randn, target = torch.rand, torch.randn, dtype

    def cast(draw):
        def drawn(*args, dtype=None, **kwargs):  # the requested dtype is ``target``
            return draw(*args, **kwargs).to(target)
        return drawn

    torch.rand, torch.randn = cast(rand), cast(randn)
    try:
        yield
    finally:
        torch.rand, torch.randn = rand, randn


def one_iteration(fg, gold, dtype: torch.dtype = torch.float32, reverse=None):
    """The official iteration from all_0.pth in ``dtype``; (trainer, losses). ``reverse``: one
    mask per D parameter whose entries' D steps are reversed."""
    from srarena_fastgan.perceptual import LPIPSVGG
    from srarena_fastgan.training import FitConfig, Trainer

    config = FitConfig(im_size=256, ngf=4, ndf=4, nz=16, batch_size=2, iterations=1)
    trainer = Trainer(config, "cpu", LPIPSVGG(fg.vgg_trunk()))
    official = load_state(fg.fixtures / "all_0.pth")
    for name in ("opt_g", "opt_d"):  # load() takes them from the file; srarena's own must agree
        mine, theirs = getattr(trainer, name).param_groups[0], official[name]["param_groups"][0]
        assert {k: mine[k] for k in ADAM_KEYS} == {k: theirs[k] for k in ADAM_KEYS}, name
    for net in (trainer.G, trainer.D, trainer.percept):
        net.to(dtype)
    trainer.ema = [t.to(dtype) for t in trainer.ema]
    trainer.load(fg.fixtures / "all_0.pth")
    assert not trainer.opt_g.state and not trainer.opt_d.state  # adam_bounds' premise
    if reverse is not None:
        step = trainer.opt_d.step

        def reversed_step():
            before = [p.detach().clone() for p in trainer.D.parameters()]
            step()
            with torch.no_grad():
                for p, p0, mask in zip(trainer.D.parameters(), before, reverse, strict=True):
                    p[mask] = (2 * p0 - p)[mask]

        trainer.opt_d.step = reversed_step
    trainer.rng.manual_seed(7)  # official: torch.manual_seed(7); random.seed(7)
    trainer.py_rng.seed(7)
    real = ((torch.from_numpy(gold["images"]).float() / 255 - 0.5) / 0.5).to(dtype)
    if dtype == torch.float32:
        losses = trainer.step(real)
    else:
        with float32_draws(dtype):
            losses = trainer.step(real)
    return trainer, np.array([float(v) for v in losses.values()])


def relative_error(ours: torch.Tensor, other: torch.Tensor) -> float:
    ours, other = ours.detach().double(), other.detach().double()
    return float((ours - other).norm()) / max(float(ours.norm()), 1e-30)


def group_rtols(ours, references, pool=np.median) -> np.ndarray:
    """Per tensor of a group: ROUNDING_FACTOR times its largest relative difference to the
    reference runs' tensors, floored by ``pool`` of the group's differences and by TRAIN_RTOL."""
    errors = np.array([max(relative_error(t, ref[i]) for ref in references)
                       for i, t in enumerate(ours)])
    return np.maximum(TRAIN_RTOL, ROUNDING_FACTOR * np.maximum(errors, pool(errors)))


def moments(opt, moment: str) -> list[torch.Tensor]:
    """``moment`` of every parameter, in parameter order."""
    return [opt.state[p][moment] for p in opt.param_groups[0]["params"]]


def adam_bounds(opt, references, pool=np.median):
    """Per parameter and entry, how far it may lie from the official value after Adam's first
    step; and the masks of the entries whose step direction is undetermined.

    From empty moments, m = (1 - b1) g and v = (1 - b2) g², so the bias-corrected step is
    -lr * u(g) with u(g) = g / (|g| + eps): never more than lr, whatever g. Against an official
    gradient within d of ours, the official entry lies
    - anywhere within 2 lr where |g| <= d (the direction of the step is undetermined), and
    - within lr * eps * d / ((|g| + eps)(|g| - d + eps)) otherwise (|u'(g)| = eps / (|g| + eps)²).
    d is ROUNDING_FACTOR times the largest entry difference of the tensor's gradient to the
    reference runs' (``references``: their optimisers), at least ``pool`` of the network's
    relative gradient differences times the tensor's rms gradient (as in ``group_rtols``).
    Rounding p + step itself costs a few ulps, within TRAIN_RTOL.
    """
    group = opt.param_groups[0]
    lr, eps, beta1 = group["lr"], group["eps"], group["betas"][0]
    ours = [m.detach().double() / (1 - beta1) for m in moments(opt, "exp_avg")]
    refs = [[m.detach().double() / (1 - beta1) for m in moments(r, "exp_avg")]
            for r in references]
    level = float(pool([max(relative_error(g, ref[i]) for ref in refs)
                        for i, g in enumerate(ours)]))
    bounds, undetermined = [], []
    for i, g in enumerate(ours):
        rms = float(g.norm()) / g.numel() ** 0.5
        d = ROUNDING_FACTOR * max(*(float((g - ref[i]).abs().max()) for ref in refs), level * rms)
        a = g.abs()
        near = lr * eps * d / ((a + eps) * ((a - d).clamp(min=0) + eps))
        bounds.append(torch.where(a <= d, torch.full_like(a, 2 * lr), near.clamp(max=2 * lr)))
        undetermined.append(a <= d)
    return bounds, undetermined


def fingerprint_bound(bound: torch.Tensor, x: torch.Tensor) -> list[float]:
    """Bounds on the fingerprint differences (sum, sum of squares, cosine-weighted sum) of
    tensors within ``bound`` of ``x`` entry by entry (the cosine weights are at most 1)."""
    x = x.detach().double().abs()
    total = float(bound.sum())
    return [total, float((bound * (2 * x + bound)).sum()), total]


def state_tolerances(net, bounds, references):
    """rtol and atol rows for ``net.state_dict()`` after the step: parameters within their
    Adam bounds, buffers (BN statistics, spectral-norm vectors) by ``group_rtols``."""
    bounds = dict(zip((n for n, _ in net.named_parameters()), bounds, strict=True))
    state = net.state_dict()
    buffers = [name for name in state if name not in bounds]
    reference_buffers = [[ref.state_dict()[n] for n in buffers] for ref in references]
    rtols = group_rtols([state[n] for n in buffers], reference_buffers)
    buffer_rtol = dict(zip(buffers, rtols, strict=True))
    rtol = [TRAIN_RTOL if name in bounds else buffer_rtol[name] for name in state]
    atol = [fingerprint_bound(bounds[name], value) if name in bounds else [0.0] * 3
            for name, value in state.items()]
    return rtol, atol


def check_moments(fg, gold, name, opt, references, pool) -> None:
    """The Adam moments m = (1 - b1) g and v = (1 - b2) g², i.e. the gradients."""
    rtol = [group_rtols(moments(opt, moment), [moments(r, moment) for r in references], pool)
            for moment in ("exp_avg", "exp_avg_sq")]
    tensors = [t for pair in zip(moments(opt, "exp_avg"), moments(opt, "exp_avg_sq"),
                                 strict=True) for t in pair]  # the fixture's order
    fg.check(tensors, np.asarray(gold[name]).reshape(-1, 3), np.stack(rtol, axis=1).reshape(-1),
             name)


@pytest.mark.slow
def test_one_training_iteration_matches_official(fg, two_threads):
    """From the official all_0.pth: losses, weights, EMA and Adam moments after one step,
    within the tolerances derived above."""
    gold = np.load(fg.fixtures / "golden_train.npz")
    trainer, losses = one_iteration(fg, gold)
    shadow, losses64 = one_iteration(fg, gold, torch.float64)
    # the D step, from the D gradients (one error source: pooled by the largest)
    d_bounds, undetermined = adam_bounds(trainer.opt_d, [shadow.opt_d], np.max)
    check_moments(fg, gold, "opt_d", trainer.opt_d, [shadow.opt_d], np.max)
    # what the undetermined D entries can do downstream
    flipped, losses_flipped = one_iteration(fg, gold, reverse=undetermined)
    downstream = [shadow, flipped]

    official = gold["losses"][0]
    spread = np.maximum(np.abs(losses - losses64), np.abs(losses - losses_flipped))
    tol = np.maximum(1e-5 * np.abs(official) + 1e-6, ROUNDING_FACTOR * spread)
    assert (np.abs(losses - official) <= tol).all(), f"losses {losses} vs official {official}"

    rtol, atol = state_tolerances(trainer.D, d_bounds, [r.D for r in downstream])
    fg.check(list(trainer.D.state_dict().values()), gold["d_state"], rtol, "D after step", atol)

    check_moments(fg, gold, "opt_g", trainer.opt_g, [r.opt_g for r in downstream], np.median)
    g_bounds, _ = adam_bounds(trainer.opt_g, [r.opt_g for r in downstream])
    rtol, atol = state_tolerances(trainer.G, g_bounds, [r.G for r in downstream])
    fg.check(list(trainer.G.state_dict().values()), gold["g_state"], rtol, "G after step", atol)
    # EMA: avg = 0.999 avg + 0.001 p, so within EMA_RATE times the G parameter bounds
    atol = [fingerprint_bound(EMA_RATE * bound, e)
            for bound, e in zip(g_bounds, trainer.ema, strict=True)]
    fg.check(trainer.ema, gold["g_ema"], TRAIN_RTOL, "EMA after step", atol)
