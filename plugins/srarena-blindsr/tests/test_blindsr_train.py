"""Training: the official data pipeline and update steps (golden), and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from srarena_blindsr import checkpoint, kernels, train

FLOAT_TOL = 1e-5


def _official_kernel(features: np.ndarray) -> np.ndarray:
    return features.reshape(15, 15)


def _sample(gold: dict, i: int) -> dict:
    """Sample ``i`` of the official ValidDataset (crop 46) rebuilt by srarena."""
    name = str(gold["files"][i])  # "hr<k>.png", in the official os.walk order
    hr = gold[f"hr_{name[2:-4]}"]
    return train.make_pair(
        train.center_crop(hr, 46),
        _official_kernel(gold[f"kernel_features_{i}"]),
        _official_kernel(gold[f"random_kernel_features_{i}"]),
    )


def test_validation_pairs_match_official(blindsr_golden):
    gold = blindsr_golden("training")
    for i in range(2):
        ours = _sample(gold, i)
        np.testing.assert_allclose(ours["lowres_img"].numpy(), gold[f"lowres_img_{i}"],
                                   atol=1e-6, rtol=0)
        assert ours["lowres_img"].shape == (3, 16, 16)
        levels = np.abs(ours["bicubic_upsampling"].numpy() - gold[f"bicubic_upsampling_{i}"])
        assert levels.max() <= 1.0 / 255 + 1e-7
        np.testing.assert_array_equal(ours["ground_truth_img"].numpy(),
                                      gold[f"ground_truth_img_{i}"])


def test_official_kernel_distribution_through_core_module(blindsr_golden):
    """The official kernels equal srarena's degrade.gaussian with the angle negated."""
    gold = blindsr_golden("training")
    for i in range(2):
        sx, sy, theta, rx, ry, rtheta = gold[f"params_{i}"]
        for (a, b, t), key in (((sx, sy, theta), "kernel_features"),
                               ((rx, ry, rtheta), "random_kernel_features")):
            ours = train._gaussian(a, b, -t).reshape(225)
            np.testing.assert_allclose(ours, gold[f"{key}_{i}"], atol=1e-6)
            torch_kernel = kernels.kernel_from_values(a, b, t).reshape(225).numpy()
            np.testing.assert_allclose(ours, torch_kernel, atol=1e-6)
    rng = np.random.default_rng(3)
    for family in train.KERNEL_FAMILIES.values():
        k = family(rng)
        assert k.shape == (15, 15) and k.dtype == np.float32
        assert k.sum() == pytest.approx(1.0, abs=1e-5) and k.min() >= 0


def _batch(gold: dict, indices: list[int]) -> dict:
    samples = [_sample(gold, i) for i in indices]
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


def _checksums(module: torch.nn.Module) -> np.ndarray:
    return np.array([[p.double().sum().item(), p.double().abs().sum().item()]
                     for p in module.state_dict().values()])


def test_generator_steps_match_official(blindsr_golden, blindsr_weights, blindsr_one_thread):
    gold = blindsr_golden("training")
    generator = checkpoint.load_network(blindsr_weights["generator.pth"], "generator").train()
    optimizer = torch.optim.Adam(generator.parameters(), lr=train.LEARNING_RATE)
    batch = _batch(gold, [0, 1])
    losses = [train.generator_step(generator, optimizer, batch, torch.device("cpu"))
              for _ in range(3)]
    np.testing.assert_allclose(losses, gold["gen_losses"], rtol=1e-5)
    np.testing.assert_allclose(_checksums(generator), gold["gen_checksums"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(generator.kernel_linear_mapping.weight.detach().numpy(),
                               gold["gen_kernel_linear_weight"], atol=FLOAT_TOL)


def test_discriminator_steps_match_official(blindsr_golden, blindsr_weights, blindsr_one_thread):
    gold = blindsr_golden("training")
    generator, discriminator = checkpoint.load_networks(blindsr_weights)
    generator.requires_grad_(False)
    discriminator.train()
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=train.LEARNING_RATE)
    losses = [
        train.discriminator_step(generator, discriminator, optimizer, _batch(gold, [i]),
                                 torch.device("cpu"))
        for i in (0, 1, 0, 1)
    ]
    recorded = gold["dis_losses"].reshape(4, 2)  # (true-kernel loss, random-kernel loss)
    np.testing.assert_allclose(losses, 0.9 * recorded[:, 1] + 0.1 * recorded[:, 0], rtol=1e-5)
    np.testing.assert_allclose(_checksums(discriminator), gold["dis_checksums"], rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(discriminator.final_convolution[0].weight.detach().numpy(),
                               gold["dis_final_weight"], atol=FLOAT_TOL)


def test_crops_follow_torchvision_rules():
    image = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    # centre crop: offsets round half to even ((7 - 4) / 2 = 1.5 -> 2), (5 - 4) / 2 = 0.5 -> 0
    np.testing.assert_array_equal(train.center_crop(image, 4), image[0:4, 2:6])
    padded = train.center_crop(image, 8)
    assert padded.shape == (8, 8, 3)
    np.testing.assert_array_equal(padded[1:6, 0:7], image)  # pads (1 top, 2 bottom, 0, 1)
    crop = train.random_crop(image, 9, np.random.default_rng(0))
    assert crop.shape == (9, 9, 3)
    lowres = train.degrade(torch.rand(3, 30, 24), torch.full((15, 15), 1 / 225))
    assert lowres.shape == (3, 8, 5)


def _hr_folder(path, count=3, size=(40, 44)):
    path.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        data = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(data).save(path / f"img{i}.png")
    (path / "notes.txt").write_text("not an image")
    return path


def test_cli_trains_both_phases_and_resumes(tmp_path, blindsr_one_thread):
    import typer
    from srarena_blindsr.cli import register
    from typer.testing import CliRunner

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer from collapsing to a single one
        pass

    hr = _hr_folder(tmp_path / "hr")
    out = tmp_path / "ckpt"
    args = ["blindsr-train", str(hr), "--out", str(out), "--iterations", "2", "--crop", "24",
            "--valid", str(hr), "--batch-size", "2", "--log-every", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "generator step 2: L1 loss" in result.output
    assert "discriminator validation at step 2" in result.output
    for name in ("generator", "discriminator"):
        data = torch.load(out / f"{name}.pth", map_location="cpu", weights_only=True)
        assert set(data) == {"step", f"{name}_state_dict", "optimizer_state_dict"}
        assert data["step"] == 2
        assert checkpoint.validate(f"{name}.pth", out / f"{name}.pth") == []
    args[args.index("--iterations") + 1] = "3"
    result = CliRunner().invoke(app, [*args, "--network", "generator"])
    assert result.exit_code == 0, result.output
    assert "resumed generator at step 2" in result.output
    data = torch.load(out / "generator.pth", map_location="cpu", weights_only=True)
    assert data["step"] == 3


def test_discriminator_phase_needs_a_generator(tmp_path):
    hr = _hr_folder(tmp_path / "hr", count=1)
    config = train.TrainConfig(network="discriminator", train_folder=hr, out=tmp_path / "o",
                               iterations=1, crop=24)
    with pytest.raises(FileNotFoundError, match="train the generator first"):
        train.train(config)


def test_training_is_seeded(tmp_path, blindsr_one_thread):
    hr = _hr_folder(tmp_path / "hr", count=2)
    states = []
    for run in ("a", "b"):
        config = train.TrainConfig(network="generator", train_folder=hr, out=tmp_path / run,
                                   iterations=2, crop=24, batch_size=2, seed=5)
        path = train.train(config, log=lambda _: None)
        states.append(torch.load(path, weights_only=True)["generator_state_dict"])
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key])


def test_angle_convention_note():
    """kernels.py documents kernel(σx, σy, θ) == degrade.gaussian(1, σx, σy, -θ)."""
    k = kernels.kernel_from_values(0.8, 2.5, math.pi / 5).numpy()
    np.testing.assert_allclose(train._gaussian(0.8, 2.5, -math.pi / 5), k, atol=1e-6)
    assert not np.allclose(train._gaussian(0.8, 2.5, math.pi / 5), k, atol=1e-4)
