"""Generation against the official code (DeceiveD@042c5c4) on the fixture snapshot.

``generate/psi*/seed*.png`` are generate.py's files (run on CPU); ``golden_generate.npz``
holds the official generator's float outputs for the same seeds and variants.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from srarena_apa import checkpoint as ckpt
from srarena_apa.arch.networks import Discriminator
from srarena_apa.upscaler import seed_latent

from srarena.components import Context, InputRefused

SEEDS = (1000, 1039)
PSIS = (1.0, 0.7)


def assert_grey_levels(got: np.ndarray, expected: np.ndarray, what: object) -> None:
    """Within one grey level everywhere and equal almost everywhere (bit-equal on the
    machine that made the fixtures; float rounding of other CPUs may move a rare pixel
    across a quantisation step)."""
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1, f"{what}: {diff.max()} grey levels apart"
    assert (diff == 0).mean() >= 0.99, f"{what}: {(diff != 0).mean():.2%} pixels differ"


@pytest.fixture(scope="module")
def official(apa):
    return apa.golden("generate")


@pytest.fixture(scope="module")
def nets(snapshot):
    g_kwargs, g_state = ckpt.snapshot_generator(snapshot)
    d = snapshot.network("D", "Discriminator")
    D = Discriminator(**d.init_kwargs).eval()
    D.load_state_dict(d.tensors())
    return ckpt.build_generator(g_kwargs, g_state).eval(), D


def _spec():
    from srarena_apa import plugin

    specs = []
    plugin.srarena_register_upscalers(specs.append)
    return {s.name: s for s in specs}["apa-pretrained"]


def _generator(apa, tmp_path, precision="fp32", psi=1.0):
    spec = _spec()
    context = Context(precision=precision, weights={"network-snapshot.pkl": apa.snapshot_path},
                      options={"truncation_psi": psi})
    gen = spec.load()(spec, context)
    gen.fit([np.zeros((4, 4, 3), np.float32)], 32, tmp_path / "fitted")
    gen.load(tmp_path / "fitted")
    return gen


@pytest.mark.parametrize("psi", PSIS)
def test_generate_py_files_exactly(apa, tmp_path, psi):
    """precision fp16 runs the snapshot's float16 blocks as generate.py did: same bytes."""
    gen = _generator(apa, tmp_path, "fp16", psi)
    for seed in SEEDS:
        out = gen.generate(seed, 32)
        expected = np.asarray(Image.open(apa.fixtures / f"generate/psi{psi:g}/seed{seed}.png"))
        got = np.rint(out.image * 255).astype(np.int16)
        assert_grey_levels(got, expected, f"seed {seed} psi {psi}")
        assert out.info["seed"] == seed and out.info["truncation_psi"] == psi


@pytest.mark.parametrize("psi", PSIS)
def test_fp32_within_one_grey_level(apa, tmp_path, psi, official):
    gen = _generator(apa, tmp_path, "fp32", psi)
    for seed in SEEDS:
        got = np.rint(gen.generate(seed, 32).image * 255).astype(np.int16)
        png = np.asarray(Image.open(apa.fixtures / f"generate/psi{psi:g}/seed{seed}.png"))
        assert np.abs(got - png).max() <= 1
        fp32 = official[f"fp32_{seed}_psi{psi}"][0].transpose(1, 2, 0)
        assert_grey_levels(got, np.clip(fp32 * 127.5 + 128, 0, 255).astype(np.uint8), seed)


def test_network_outputs_match_official_floats(nets, official):
    G, D = nets
    with torch.no_grad():
        for seed in SEEDS:
            z = seed_latent(seed, G.z_dim)
            for psi in PSIS:
                tag = f"{seed}_psi{psi}"
                ws = G.mapping(z, None, truncation_psi=psi)
                np.testing.assert_allclose(ws.numpy(), official[f"ws_{tag}"], atol=1e-5)
                for mode, kwargs in (("mixed", {}), ("fp32", {"force_fp32": True})):
                    img = G(z, None, truncation_psi=psi, noise_mode="const", **kwargs)
                    np.testing.assert_allclose(img.numpy(), official[f"{mode}_{tag}"],
                                               atol=1e-5, err_msg=f"{mode} {tag}")
            variants = {
                "nonfused": dict(noise_mode="const", force_fp32=True, fused_modconv=False),
                "nonoise": dict(noise_mode="none", force_fp32=True),
                "cutoff": dict(truncation_psi=0.5, truncation_cutoff=3, noise_mode="const",
                               force_fp32=True),
            }
            for name, kwargs in variants.items():
                np.testing.assert_allclose(G(z, None, **kwargs).numpy(),
                                           official[f"{name}_{seed}"], atol=1e-5, err_msg=name)
        zb = torch.from_numpy(np.random.RandomState(5).randn(4, G.z_dim))
        np.testing.assert_allclose(G(zb, None, noise_mode="const", force_fp32=True).numpy(),
                                   official["batch_fp32"], atol=1e-5)
        # batched float16 blocks take the non-fused path (float16 rounding: 1e-3)
        np.testing.assert_allclose(G(zb, None, noise_mode="const").numpy(),
                                   official["batch_mixed"], atol=1e-3)
        x = torch.from_numpy(official["d_input"])
        np.testing.assert_allclose(D(x, force_fp32=True).numpy(), official["d_fp32"], atol=1e-5)
        np.testing.assert_allclose(D(x).numpy(), official["d_mixed"], atol=1e-4)


def test_noise_and_truncation_are_not_trivial(nets):
    """The fixture exercises noise and w_avg: switching them off changes the image."""
    G, _ = nets
    z = seed_latent(1000, G.z_dim)
    with torch.no_grad():
        base = G(z, None, noise_mode="const", force_fp32=True)
        assert (base - G(z, None, noise_mode="none", force_fp32=True)).abs().max() > 1e-2
        assert (base - G(z, None, truncation_psi=0.7, noise_mode="const",
                         force_fp32=True)).abs().max() > 1e-2


def test_wrong_size_is_refused(apa, tmp_path):
    gen = _generator(apa, tmp_path)
    with pytest.raises(InputRefused, match="32²"):
        gen.generate(1000, 64)
    spec = _spec()
    other = spec.load()(spec, Context(weights={"network-snapshot.pkl": apa.snapshot_path}))
    with pytest.raises(InputRefused, match="snapshot generates 32²"):
        other.fit([np.zeros((8, 8, 3), np.float32)], 64, tmp_path / "other")


def test_seed_latent_is_numpy_randomstate():
    z = seed_latent(1039, 512)
    assert z.dtype == torch.float64 and z.shape == (1, 512)
    assert np.array_equal(z.numpy(), np.random.RandomState(1039).randn(1, 512))
