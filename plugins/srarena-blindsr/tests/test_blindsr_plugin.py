"""Registration, checkpoint loading and validation, the srarena interface of ``blindsr``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from srarena_blindsr import arch, checkpoint, patches
from srarena_blindsr.inference import prepare, to_uint8
from srarena_blindsr.plugin import SPEC, WEIGHTS
from srarena_blindsr.upscaler import BlindSRUpscaler

from srarena.components import Context
from srarena.specs import load_factory


def test_registration_imports_no_torch():
    code = (
        "import sys, srarena_blindsr.plugin as p; "
        "assert 'torch' not in sys.modules, 'torch imported'; print(p.SPEC.name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "blindsr"


def test_registered_through_entry_point():
    from srarena.plugins import get_registry

    registry = get_registry(refresh=True)
    spec = registry.upscaler("blindsr")
    assert spec.scales == (2,)
    assert spec.side_outputs == ("kernel",)
    assert spec.tiling == "internal"
    assert spec.precisions == ("fp32",)
    assert "GPL-3.0" in spec.licence
    assert [f.filename for f in spec.weights.files] == ["generator.pth", "discriminator.pth"]
    assert load_factory(spec.factory) is BlindSRUpscaler
    assert load_factory(WEIGHTS.validator) is checkpoint.validate


def test_parameter_counts_and_keys_are_official():
    generator, discriminator = arch.Generator(), arch.Discriminator()
    assert sum(p.numel() for p in generator.parameters()) == 538058
    assert sum(p.numel() for p in discriminator.parameters()) == 564620
    keys = list(generator.state_dict())
    assert len(keys) == 94 and len(discriminator.state_dict()) == 92
    assert keys[:4] == ["kernel_linear_mapping.weight", "kernel_linear_mapping.bias",
                        "initial_convolution.0.weight", "initial_convolution.0.bias"]
    assert "dense_blocks.3.conv_layers.4.2.weight" in keys
    assert "dense_blocks.0.final_conv_layer.0.bias" in keys
    assert keys[-1] == "final_convolution.0.bias"


def test_channel_order_is_offset_major():
    image = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    reduced = arch.space_to_depth(image)
    for i in range(2):
        for j in range(2):
            for c in range(3):
                assert torch.equal(reduced[:, c + 3 * (j + 2 * i)], image[:, c, i::2, j::2])
    assert torch.equal(arch.depth_to_space(reduced), image)


def test_validator_accepts_official_layout(blindsr_weights):
    for name, path in blindsr_weights.items():
        assert checkpoint.validate(name, path) == []


def test_validator_reports_wrong_files(blindsr_weights, tmp_path):
    swapped = checkpoint.validate("generator.pth", blindsr_weights["discriminator.pth"])
    assert swapped and "generator_state_dict" in swapped[0]
    assert checkpoint.validate("model.pth", blindsr_weights["generator.pth"])[0].startswith(
        "unknown file"
    )
    state = dict(arch.Generator().state_dict())
    state.pop("kernel_linear_mapping.bias")
    state["initial_convolution.0.weight"] = torch.zeros(64, 29, 3, 3)
    broken = tmp_path / "generator.pth"
    torch.save({"step": 3, "generator_state_dict": state}, broken)
    problems = checkpoint.validate("generator.pth", broken)
    assert any("missing keys (1): kernel_linear_mapping.bias" in p for p in problems)
    assert any("initial_convolution.0.weight: expected [64, 30, 3, 3]" in p for p in problems)
    with pytest.raises(ValueError, match="does not fit"):
        checkpoint.load_network(broken, "generator")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert checkpoint.validate("generator.pth", tmp_path / "junk.pth")


def test_bare_state_dict_and_both_containers_load(blindsr_weights, tmp_path):
    generator = checkpoint.load_network(blindsr_weights["generator.pth"], "generator")
    bare = tmp_path / "bare.pth"
    torch.save(generator.state_dict(), bare)
    again = checkpoint.load_network(bare, "generator")
    for key, value in generator.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])
    # the discriminator fixture is a zip container, the generator a legacy one
    assert checkpoint.load_network(blindsr_weights["discriminator.pth"], "discriminator")


def test_refuses_other_scales_and_precisions(blindsr_weights):
    with pytest.raises(ValueError, match="x2 only"):
        BlindSRUpscaler(SPEC, 4, Context(weights=blindsr_weights))
    with pytest.raises(ValueError, match="fp32"):
        BlindSRUpscaler(SPEC, 2, Context(weights=blindsr_weights, precision="bf16"))


def test_missing_weights_say_how_to_install(isolated_home_blindsr):
    from srarena.weights import WeightsMissing

    with pytest.raises(WeightsMissing, match="blindsr-x2"):
        BlindSRUpscaler(SPEC, 2, Context())


@pytest.fixture
def isolated_home_blindsr(tmp_path, monkeypatch):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    return tmp_path


def test_quantisation_follows_official_writer():
    values = np.array([0.0, 1.0, 0.5 / 255, 1.5 / 255, 2.5 / 255, 0.49, 1.2, -0.1], np.float64)
    assert to_uint8(values).tolist() == [0, 255, 0, 1, 2, 125, 255, 0]
    levels = np.arange(256, dtype=np.float32) / 255.0
    assert to_uint8(levels).tolist() == list(range(256))


def test_bicubic_input_is_pillow_on_8_bit():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    lowres, bicubic = prepare(image, "cpu")
    assert lowres.shape == (1, 3, 5, 7) and bicubic.shape == (1, 3, 10, 14)
    assert torch.equal(lowres[0].permute(1, 2, 0) * 255, torch.from_numpy(image).float())
    levels = bicubic * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4)


def test_blending_recomposes_a_constant_exactly():
    corners = patches.boxes(30, 44, 16, 4)
    tiles = torch.full((len(corners), 3, 16, 16), 0.25)
    image = patches.recompose(tiles, corners, 30, 44, 4)
    assert torch.allclose(image, torch.full_like(image, 0.25), atol=1e-7)
    assert patches.starts(44, 16, 4) == [0, 12, 24, 28]


def test_train_command_is_added_to_the_cli_without_torch():
    code = (
        "import sys, typer.main; from srarena.cli import _install_commands, app; "
        "_install_commands(); names = typer.main.get_command(app).commands; "
        "print('blindsr-train' in names, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.slow
def test_engine_chain_reaches_8x_with_three_passes(blindsr_weights, blindsr_one_thread):
    """8x = x2 three times through the core's chain, each pass with its own kernel search
    (shortened here: 1 refinement epoch, patch 6, batched grid)."""
    from srarena.engine.chain import plan_chain
    from srarena.engine.single import run_chain

    chain = plan_chain(SPEC.scales, 8)
    assert chain.steps == (2, 2, 2) and chain.label() == "x2_x2_x2"
    context = Context(weights=blindsr_weights, options={"patch_size": 6, "epochs": 1,
                                                        "batch": 64})
    upscaler = BlindSRUpscaler(SPEC, 2, context)
    image = np.random.default_rng(4).random((6, 6, 3), dtype=np.float32)
    result = run_chain({2: upscaler}, chain, image, tile=None)
    assert result.image.shape == (48, 48, 3)
    for step, patches_count in ((1, 4), (2, 9), (3, 25)):
        info = result.info[f"step{step}_x2"]
        assert info["patch_size"] == 6 and info["patches"] == patches_count
        kernel = result.side_outputs[f"step{step}_x2_kernel"]
        assert kernel.shape == (15, 15) and kernel.sum() == pytest.approx(1.0, abs=1e-5)
