"""MANIQA: the study's protocol (224² PIL bicubic, one pass), pyiqa's, weights and batching.

Nothing is downloaded: networks are built with random weights. Most tests use a narrow
network (same code, embedding width 32) so that pyiqa's 20-crop protocol runs in seconds;
the full-size network is exercised by the tests marked slow.
"""

from __future__ import annotations

import dataclasses
import socket
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from srarena.components import Context
from srarena.imageio import to_uint8
from srarena.metrics import maniqa as M

torch = pytest.importorskip("torch", reason="MANIQA needs torch (srarena[iqa])")
pytest.importorskip("pyiqa", reason="MANIQA needs pyiqa (srarena[iqa])")

NARROW = {"embed_dim": 32, "dim_mlp": 32, "num_heads": [2, 2],
          "vit_embed_dim": 32, "vit_depth": 10, "vit_num_heads": 2}


def narrow_network(seed: int = 0) -> torch.nn.Module:
    """A narrow MANIQA with random weights whose scores are not stuck at ReLU's zero."""
    torch.manual_seed(seed)
    network = M.build_network("pipal", **NARROW)
    with torch.no_grad():
        network.fc_score[-2].bias.fill_(0.5)
    return network


@pytest.fixture(scope="module")
def network():
    return narrow_network()


def metric(name: str, network, **changes) -> M.Maniqa:
    from srarena.plugins import get_registry

    spec = dataclasses.replace(get_registry().metric(name), **changes)
    return M.Maniqa(spec, Context(options=dict(spec.options)), network=network)


def images(count: int, shape=(300, 260, 3), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(count)]


class BackboneInputs:
    """Records every batch the ViT backbone receives."""

    def __init__(self, network):
        self.batches: list[torch.Tensor] = []
        self.handle = network.vit.register_forward_pre_hook(self._record)

    def _record(self, module, args):
        self.batches.append(args[0].detach().clone())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


# --- the study's input -----------------------------------------------------------------------

def test_study_input_is_pillow_bicubic_of_the_8bit_image():
    image = images(1, (1024, 1024, 3))[0]
    expected = np.asarray(Image.fromarray(to_uint8(image)).resize((224, 224), Image.BICUBIC))
    out = M.study_input(image)
    assert out.dtype == np.uint8 and out.shape == (224, 224, 3)
    np.testing.assert_array_equal(out, expected)
    bilinear = np.asarray(Image.fromarray(to_uint8(image)).resize((224, 224), Image.BILINEAR))
    assert np.abs(out.astype(int) - bilinear).max() > 10  # the filter matters


def test_study_input_keeps_a_224_image_and_squashes_other_shapes():
    image = images(1, (224, 224, 3))[0]
    np.testing.assert_array_equal(M.study_input(image), to_uint8(image))
    assert M.study_input(images(1, (128, 300, 3))[0]).shape == (224, 224, 3)


# --- the study's protocol: one forward pass on the whole 224 image -------------------------

def test_study_protocol_is_one_pass_on_the_whole_224_image(network):
    batch = images(3)
    with BackboneInputs(network) as seen:
        scores = metric("maniqa", network).score(batch)
    assert len(seen.batches) == 1 and tuple(seen.batches[0].shape) == (3, 3, 224, 224)
    expected = np.stack([M.study_input(im) for im in batch]).astype(np.float32) / 255.0
    expected = (expected - 0.5) / 0.5  # MANIQA's normalisation
    np.testing.assert_allclose(seen.batches[0].permute(0, 2, 3, 1).numpy(), expected, atol=1e-6)
    assert all(np.isfinite(scores)) and len(set(scores)) == 3


def test_pyiqa_protocol_takes_20_crops_and_upsamples_a_224_input(network):
    image = images(1, (224, 224, 3))[0]
    with BackboneInputs(network) as seen:
        pyiqa_score = metric("maniqa-pyiqa", network).score([image])[0]
    assert [tuple(b.shape) for b in seen.batches] == [(20, 3, 224, 224)]
    # pyiqa upsamples a 224 input to 225, so its crops are not the input
    given = torch.from_numpy(image).permute(2, 0, 1) * 2 - 1
    assert (seen.batches[0][0] - given).abs().max() > 0.05
    study_score = metric("maniqa", network).score([image])[0]
    assert abs(pyiqa_score - study_score) > 1e-6


def test_pyiqa_protocol_groups_mixed_shapes_and_keeps_their_order(network):
    small = images(2, (64, 80, 3), seed=1)
    other = images(1, (100, 90, 3), seed=2)
    mixed = [small[0], other[0], small[1]]
    network.test_sample = 1  # one crop per image: grouping does not depend on the crop count
    try:
        together = metric("maniqa-pyiqa", network).score(mixed)
        alone = [metric("maniqa-pyiqa", network).score([im])[0] for im in mixed]
    finally:
        network.test_sample = 20
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    assert len(set(together)) == 3


def test_batches_give_the_scores_of_single_images(network):
    batch = images(3, seed=3)
    chunked = metric("maniqa", network, batch_size=2).score(batch)
    single = [metric("maniqa", network).score([im])[0] for im in batch]
    np.testing.assert_allclose(chunked, single, rtol=1e-5, atol=1e-6)


def test_protocol_does_not_leak_into_pyiqa_s_own_maniqa(network):
    from pyiqa.archs import maniqa_arch

    metric("maniqa", network).score(images(1))
    x = torch.rand(1, 3, 224, 224)
    assert tuple(maniqa_arch.uniform_crop(x, 224, 20).shape) == (20, 3, 224, 224)


# --- fp16 only where it agrees with fp32 -----------------------------------------------------

def test_fp16_falls_back_to_fp32_when_it_disagrees(network, monkeypatch):
    m = metric("maniqa", network)
    m.half = True
    offsets = {True: 0.0}

    def fake_run(batch, half):
        return np.full(batch.shape[0], 0.5 + (offsets[True] if half else 0.0))

    monkeypatch.setattr(m, "_run", fake_run)
    batch = torch.zeros(4, 3, 224, 224)
    offsets[True] = 4e-4
    assert m._forward(batch)[0] == pytest.approx(0.5004) and m.half
    offsets[True] = 2e-3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert m._forward(batch)[0] == pytest.approx(0.5)
    assert not m.half and "fp16 differs" in str(caught[0].message)
    assert m.half_max_diff == pytest.approx(2e-3)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fp16_on_cuda_agrees_with_fp32(network):
    from srarena.plugins import get_registry

    spec = get_registry().metric("maniqa")
    net = narrow_network()
    fp32 = M.Maniqa(spec, Context(device="cuda", options={**spec.options, "precision": "fp32"}),
                    network=net).score(images(4))
    auto = M.Maniqa(spec, Context(device="cuda", options=dict(spec.options)), network=net)
    np.testing.assert_allclose(auto.score(images(4)), fp32, atol=M.FP16_TOLERANCE)


# --- weights ---------------------------------------------------------------------------------

def test_missing_checkpoint_is_reported_at_once_with_the_fix():
    from srarena import weights
    from srarena.plugins import get_registry

    spec = get_registry().metric("maniqa")
    start = time.perf_counter()
    with pytest.raises(weights.WeightsMissing) as caught:
        M.Maniqa(spec, Context(options=dict(spec.options)))
    assert time.perf_counter() - start < 2.0  # before any network is built
    message = str(caught.value)
    assert "MANIQA_PIPAL-ae6d356b.pth" in message
    assert "srarena weights fetch maniqa-pipal" in message
    assert "huggingface:chaofengc/IQA-PyTorch-Weights" in message


def test_building_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("MANIQA tried to open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert M.build_network("kadid", **NARROW).training is False


def test_checkpoint_layouts_load_strictly_and_misfits_are_named(tmp_path, network):
    from srarena.weights import WeightsInvalid

    state = network.state_dict()
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"params": {"module." + k: v for k, v in state.items()}}, wrapped)
    fresh = M.build_network("pipal", **NARROW)
    M.load_checkpoint(fresh, wrapped)
    batch = images(2, seed=4)
    np.testing.assert_allclose(metric("maniqa", fresh).score(batch),
                               metric("maniqa", network).score(batch), atol=1e-6)
    broken = tmp_path / "broken.pth"
    torch.save({k: v for k, v in state.items() if k != "conv1.weight"}, broken)
    with pytest.raises(WeightsInvalid, match="missing keys.*conv1.weight"):
        M.load_checkpoint(fresh, broken)


def test_checkpoints_match_pyiqa_s_configs():
    import inspect

    from pyiqa.archs.maniqa_arch import MANIQA
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    default_scale = inspect.signature(MANIQA).parameters["scale"].default
    for name, key in M.PYIQA_NAMES.items():
        options = DEFAULT_CONFIGS[name]["metric_opts"]
        assert options["train_dataset"] == key
        assert options.get("scale", default_scale) == M.CHECKPOINTS[key].scale
    names = {M.CHECKPOINTS[k].filename for k in M.CHECKPOINTS}
    assert names == {"MANIQA_PIPAL-ae6d356b.pth", "ckpt_koniq10k.pt", "ckpt_kadid10k.pt"}


# --- the full-size network -------------------------------------------------------------------

@pytest.mark.slow
def test_full_size_random_network_runs_the_study_protocol_once_per_batch():
    torch.manual_seed(0)
    full = M.build_network("pipal")
    assert sum(p.numel() for p in full.parameters()) > 135_000_000
    with BackboneInputs(full) as seen:
        scores = metric("maniqa", full).score(images(2, (1024, 1024, 3)))
    assert [tuple(b.shape) for b in seen.batches] == [(2, 3, 224, 224)]
    assert all(np.isfinite(scores))


@pytest.mark.slow
def test_score_command_with_a_locally_added_checkpoint(tmp_path):
    """`weights add` (validated against the full architecture), then `srarena score -m maniqa`."""
    from typer.testing import CliRunner

    from srarena.cli import _install_commands, app
    from srarena.imageio import save_png

    torch.manual_seed(1)
    checkpoint = tmp_path / "MANIQA_PIPAL-ae6d356b.pth"
    torch.save(M.build_network("pipal").state_dict(), checkpoint)
    narrow_file = tmp_path / "narrow.pth"
    torch.save(narrow_network().state_dict(), narrow_file)
    assert any("shape mismatches" in p for p in M.check_checkpoint("x.pth", narrow_file))
    picture = tmp_path / "sr.png"
    save_png(picture, images(1, (256, 256, 3))[0])
    if not any(command.name == "score" for command in app.registered_commands):
        _install_commands()
    runner = CliRunner()
    added = runner.invoke(app, ["weights", "add", "maniqa", str(checkpoint)])
    assert added.exit_code == 0, added.output
    scored = runner.invoke(app, ["score", "-m", "maniqa", "--device", "cpu",
                                 "--format", "json", str(picture)])
    assert scored.exit_code == 0, scored.output
    import json

    rows = json.loads(scored.stdout[scored.stdout.index("["):])
    assert rows[0]["metric"] == "maniqa" and rows[0]["status"] == "ok"
    assert np.isfinite(rows[0]["value"])
