"""Loading official checkpoints: strict keys, the official buffer semantics, validators."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from srarena.weights import WeightsInvalid, WeightsMissing

CHECKPOINTS = [
    f"dan{v}_x{s}_setting{n}.pth"
    for v in ("v1", "v2")
    for n, scales in ((1, (2, 3, 4)), (2, (2, 4)))
    for s in scales
]


@pytest.mark.parametrize("filename", CHECKPOINTS)
def test_full_size_keys_and_shapes_are_official(official_shapes, filename):
    """The architecture of every released configuration, key by key, as the official code."""
    from srarena_dan.checkpoint import expected_shapes
    from srarena_dan.config import parse_checkpoint_name

    variant = parse_checkpoint_name(filename)
    assert variant is not None and variant.checkpoint == filename and variant.loop == 4
    official = {key: tuple(shape) for key, shape in official_shapes[filename].items()}
    assert list(expected_shapes(variant).items()) == list(official.items())


def _upscale(case, weights):
    return case.upscaler(weights, quantize=False).upscale(case.lr).image


def test_missing_buffers_come_from_the_pca_file_as_officially(golden, tmp_path):
    """init_kernel/init_ker_map absent (reported for released files): rebuilt from the PCA
    file at construction, then the checkpoint's encoder loaded over it (official order)."""
    from srarena_dan.checkpoint import load_network

    case = golden("v2_s1_x2")
    reference = _upscale(case, case.write(tmp_path / "full"))
    state = case.state()
    del state["init_kernel"], state["init_ker_map"]
    weights = case.write(tmp_path / "partial", state)
    assert np.array_equal(_upscale(case, weights), reference)

    other = torch.linalg.qr(torch.randn(case.variant.kernel_size**2, case.variant.code_len))[0]
    pca = tmp_path / "other_pca.pth"
    torch.save(other, pca)
    net, from_pca = load_network(case.variant, weights[case.checkpoint_name], pca)
    assert from_pca == ["init_kernel", "init_ker_map"]
    centre = (case.variant.kernel_size**2) // 2
    assert torch.equal(net.init_ker_map[0], other[centre])  # Dirac code of the file's basis
    assert torch.equal(net.encoder, state["encoder"])  # the checkpoint's basis wins

    with pytest.raises(WeightsMissing, match="init_kernel, init_ker_map"):
        load_network(case.variant, weights[case.checkpoint_name], None)


def test_missing_encoder_comes_from_the_pca_file(golden, tmp_path):
    case = golden("v1_s2_x2")
    reference = _upscale(case, case.write(tmp_path / "full"))
    state = case.state()
    del state["encoder"]
    assert np.array_equal(_upscale(case, case.write(tmp_path / "partial", state)), reference)


def test_dataparallel_prefix_and_legacy_format_load(golden, tmp_path):
    case = golden("v1_s1_x2")
    reference = _upscale(case, case.write(tmp_path / "full"))
    weights = case.write(tmp_path / "prefixed")
    state = {f"module.{key}": value for key, value in case.state().items()}
    torch.save(state, weights[case.checkpoint_name], _use_new_zipfile_serialization=False)
    assert np.array_equal(_upscale(case, weights), reference)


def test_anything_else_is_a_readable_error(golden, tmp_path):
    from srarena_dan.checkpoint import load_network

    case = golden("v2_s2_x4")
    state = case.state()
    del state["Restorer.fusion.weight"]
    state["Restorer.extra.weight"] = torch.zeros(1)
    state["Estimator.tail.2.bias"] = torch.zeros(3)
    path = tmp_path / case.checkpoint_name
    torch.save(state, path)
    with pytest.raises(WeightsInvalid) as info:
        load_network(case.variant, path, None)
    message = str(info.value)
    assert "missing keys (1): Restorer.fusion.weight" in message
    assert "unexpected keys (1): Restorer.extra.weight" in message
    assert "Estimator.tail.2.bias: expected [961], file has [3]" in message

    torch.save({"model": case.state()}, path)
    with pytest.raises(WeightsInvalid, match="entry 'model' is a dict"):
        load_network(case.variant, path, None)


def test_validators(golden, tmp_path):
    """Reduced fixtures do not fit the official architecture; the diff says where."""
    from srarena_dan.checkpoint import validate_v1, validate_v2
    from srarena_dan.config import variant

    case = golden("v1_s1_x2")
    weights = case.write(tmp_path)
    ckpt = weights[case.checkpoint_name]
    problems = validate_v1(case.checkpoint_name, ckpt)
    assert problems and "Restorer.head.weight: expected [64, 3, 3, 3], file has [16, 3, 3, 3]" in (
        " ".join(problems)
    )
    assert "missing keys (" in " ".join(problems)  # 40 official blocks, 2 in the fixture
    assert validate_v2(case.checkpoint_name, ckpt) == [
        "danv1_x2_setting1.pth is not an official DANv2 checkpoint name"
    ]

    full = variant("v1", 1, 2)
    from srarena_dan.arch import build

    torch.save(build(full).state_dict(), tmp_path / "full.pth")
    assert validate_v1("danv1_x2_setting1.pth", tmp_path / "full.pth") == []
    assert validate_v1("danv1_x4_setting1.pth", tmp_path / "full.pth")  # wrong scale

    pca = weights["pca_matrix.pth"]
    assert validate_v1("pca_matrix.pth", pca) == []
    assert validate_v2("pca_matrix.pth", pca) == []
    assert "expected a PCA matrix of shape (961, 15)" in validate_v2(
        "pca_aniso_matrix_x4.pth", pca
    )[0]
    assert validate_v1("pca_aniso_matrix_x4.pth", pca) == []  # DANv1's is the 441x10 matrix


def test_arch_options_replace_official_settings(golden):
    from srarena_dan.plugin import SPECS
    from srarena_dan.upscaler import configured_variant

    case = golden("v2_s1_x4")
    spec = next(s for s in SPECS if s.name == "dan-v2")
    assert configured_variant(spec, 4, {}) == dataclasses.replace(case.variant, nf=64, nb=10,
                                                                    ng=5)
    assert configured_variant(spec, 4, dict(case.arch)) == case.variant
    with pytest.raises(ValueError, match="belongs to another upscaler"):
        configured_variant(spec, 4, {"setting": 2})
    setting2 = next(s for s in SPECS if s.name == "dan-v2-setting2")
    with pytest.raises(ValueError, match="has no x3 model"):
        configured_variant(setting2, 3, {})
