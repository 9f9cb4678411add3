"""srarena's DAN against the official code's outputs, every official configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srarena.components import Context
from srarena.engine.cuda import exact_cuda

STORED = Path(__file__).parent / "fixtures" / "checkpoints"
CONFIGS = tuple(
    f"{version}_s{setting}_x{scale}"
    for version in ("v1", "v2")
    for setting, scale in ((1, 2), (1, 3), (1, 4), (2, 2), (2, 4))
)


def close(found: np.ndarray, reference: np.ndarray, tol: float = 1e-5) -> float:
    """Largest difference, relative to the reference's magnitude (DANv2 values grow)."""
    error = float(np.abs(found - reference).max() / max(1.0, float(np.abs(reference).max())))
    assert error <= tol, f"differs from the official output by {error:.3g} (relative)"
    return error


@pytest.mark.parametrize("name", CONFIGS)
def test_network_matches_official_every_loop(golden, name):
    """Keys and shapes as official; every loop's code (and DANv2 kernel) and the last SR."""
    from srarena_dan.arch import build
    from srarena_dan.checkpoint import expected_shapes

    case = golden(name)
    assert expected_shapes(case.variant) == case.shapes()
    net = build(case.variant)
    net.load_state_dict(case.state(), strict=True)
    lr = torch.from_numpy(case.lr.transpose(2, 0, 1).copy())[None]
    with torch.inference_mode():
        out = net.eval().unroll(lr, keep=True)
    assert len(out.srs) == len(out.codes) == 4
    close(out.sr[0].numpy(), case["sr_float"])
    close(torch.stack(out.codes)[:, 0].numpy(), case["codes"])
    if case.version == "v2":
        close(out.kernel[0].flatten().numpy(), case["kernels"][-1])


@pytest.mark.parametrize("name", CONFIGS)
def test_upscaler_matches_official_png(golden, name, tmp_path):
    """Through srarena's interface: the 8-bit output of the official inference.py."""
    case = golden(name)
    upscaler = case.upscaler(case.write(tmp_path))
    result = upscaler.upscale(case.lr)
    official = case["sr_u8"].astype(np.int16)
    assert result.image.dtype == np.float32
    assert result.image.shape == official.shape
    levels = np.rint(result.image * 255.0).astype(np.int16)
    assert np.array_equal(levels.astype(np.float32) / 255.0, result.image)  # on 8-bit levels
    diff = np.abs(levels - official)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3  # only float ties between torch versions may flip
    k = case.variant.kernel_size
    assert result.side_outputs["kernel"].shape == (k, k)
    assert result.side_outputs["kernel_code"].shape == (case.variant.code_len,)
    assert result.info["checkpoint"] == case.checkpoint_name
    assert result.info["buffers_from_pca_file"] == []


@pytest.mark.parametrize("name", ["v1_s1_x2", "v2_s2_x4"])
def test_unquantised_output_and_kernel(golden, name, tmp_path):
    """quantize=False gives the raw last-loop SR; the kernel is the official estimate."""
    case = golden(name)
    result = case.upscaler(case.write(tmp_path), quantize=False).upscale(case.lr)
    close(result.image, case["sr_float"].transpose(1, 2, 0))
    kernel = result.side_outputs["kernel"]
    if case.version == "v2":
        close(kernel.flatten(), case["kernels"][-1])
        assert abs(float(kernel.sum()) - 1.0) < 1e-5 and kernel.min() >= 0
    else:  # DANv1 estimates a code; the kernel is its reconstruction with the PCA basis
        basis = case["encoder"][0]
        close(kernel.flatten(), basis @ case["codes"][-1])
    close(result.side_outputs["kernel_code"], case["codes"][-1])


def test_progress_reports_each_loop(golden, tmp_path):
    case = golden("v2_s1_x2")
    upscaler = case.upscaler(case.write(tmp_path))
    seen: list[tuple[int, int, str]] = []
    upscaler.context.progress = lambda done, total, what: seen.append((done, total, what))
    upscaler.upscale(case.lr)
    assert [(d, t) for d, t, _ in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_stored_checkpoints_are_the_recipe(golden):
    """The checkpoints the official code read equal the weights rebuilt here from the seed."""
    from srarena_dan.checkpoint import read_state

    for name in ("v1_s1_x2", "v2_s1_x2"):
        case = golden(name)
        stored = read_state(STORED / case.checkpoint_name)
        rebuilt = case.state()
        assert stored.keys() == rebuilt.keys()
        assert all(torch.equal(stored[k], rebuilt[k]) for k in stored)


def test_loads_the_stored_official_layout_file(golden):
    """The fixture checkpoint written by the official side loads and reproduces its output."""
    case = golden("v1_s1_x2")
    upscaler = case.upscaler({case.checkpoint_name: STORED / case.checkpoint_name})
    levels = np.rint(upscaler.upscale(case.lr).image * 255.0).astype(np.int16)
    assert np.abs(levels - case["sr_u8"]).max() <= 1


def test_refuses_half_precision(golden, tmp_path):
    from srarena_dan.plugin import SPECS
    from srarena_dan.upscaler import DANUpscaler

    case = golden("v1_s1_x2")
    context = Context(precision="bf16", weights=case.write(tmp_path), options=dict(case.arch))
    with pytest.raises(ValueError, match="fp32 only"):
        DANUpscaler(SPECS[0], 2, context)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
@pytest.mark.parametrize("name", ["v1_s1_x4", "v2_s2_x4"])
def test_cuda_matches_official(golden, name, tmp_path):
    """On CUDA with TF32 off, the same numbers as the official CPU run."""
    case = golden(name)
    with exact_cuda("cuda"):
        upscaler = case.upscaler(case.write(tmp_path), device="cuda", quantize=False)
        assert next(upscaler.net.parameters()).is_cuda
        result = upscaler.upscale(case.lr)
    close(result.image, case["sr_float"].transpose(1, 2, 0))
