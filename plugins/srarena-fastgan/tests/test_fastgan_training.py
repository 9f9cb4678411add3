"""Training: data pipeline, checkpoints in the official layout, exact resumption."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402
from srarena_fastgan.arch import Discriminator, Generator  # noqa: E402
from srarena_fastgan.training import (  # noqa: E402
    FitConfig,
    ImageStream,
    Trainer,
    prepare_images,
    quadrant,
)

from srarena.weights.statedict import load_state  # noqa: E402

TINY = {"im_size": 256, "ngf": 4, "ndf": 4, "nz": 16, "batch_size": 1}


def l1(rec, target):
    """Cheap stand-in for LPIPS: per-sample mean absolute difference, shape (B, 1, 1, 1)."""
    return (rec - target).abs().mean(dim=(1, 2, 3), keepdim=True)


def stream(n=3, batch=1, seed=5):
    images = torch.randint(0, 256, (n, 3, 256, 256), generator=torch.Generator().manual_seed(1),
                           dtype=torch.uint8)
    return ImageStream(images, batch, seed, torch.device("cpu"))


def test_prepare_images_resizes_like_official_pil_bilinear():
    rng = np.random.default_rng(0)
    image = rng.random((48, 40, 3), dtype=np.float32)
    grey = rng.random((32, 32), dtype=np.float32)
    out = prepare_images([image, grey], 256)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 256, 256)
    u8 = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    expected = np.asarray(Image.fromarray(u8).resize((256, 256), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(out[0].permute(1, 2, 0).numpy(), expected)
    assert torch.equal(out[1][0], out[1][1]) and torch.equal(out[1][0], out[1][2])


def test_stream_shuffles_epochs_and_flips():
    s = stream(n=3, batch=2)
    batches = torch.cat([s.next() for _ in range(3)])  # 6 samples = two epochs
    assert batches.shape == (6, 3, 256, 256) and batches.min() >= -1 and batches.max() <= 1
    originals = (s.images.float() / 255 - 0.5) / 0.5

    def which(sample):
        for i, image in enumerate(originals):
            if torch.equal(sample, image) or torch.equal(sample, image.flip(2)):
                return i
        raise AssertionError("sample is neither an image nor its mirror")

    order = [which(x) for x in batches]
    assert sorted(order[:3]) == [0, 1, 2] and sorted(order[3:]) == [0, 1, 2]
    flips = [not torch.equal(x, originals[i]) for x, i in zip(batches, order, strict=True)]
    assert any(flips) and not all(flips)


def test_quadrants():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert quadrant(x, 0).flatten().tolist() == [0, 1, 4, 5]
    assert quadrant(x, 1).flatten().tolist() == [2, 3, 6, 7]
    assert quadrant(x, 2).flatten().tolist() == [8, 9, 12, 13]
    assert quadrant(x, 3).flatten().tolist() == [10, 11, 14, 15]


def test_step_updates_networks_and_ema():
    trainer = Trainer(FitConfig(**TINY, iterations=1), "cpu", l1, stream())
    before = [p.detach().clone() for p in trainer.G.parameters()]
    ema_before = [t.clone() for t in trainer.ema]
    d_before = trainer.D.state_dict()["rf_small.weight_orig"].clone()
    losses = trainer.step(trainer.stream.next())
    assert set(losses) == {"d_real", "lpips_all", "lpips_small", "lpips_part", "d_fake", "g"}
    assert all(torch.isfinite(v) for v in losses.values())
    after = list(trainer.G.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert not torch.equal(trainer.D.state_dict()["rf_small.weight_orig"], d_before)
    for ema, old, p in zip(trainer.ema, ema_before, after, strict=True):
        torch.testing.assert_close(ema, old * 0.999 + 0.001 * p.detach(), rtol=0, atol=1e-7)


class Interrupt(Exception):
    pass


def test_resume_continues_exactly(tmp_path):
    config = FitConfig(**TINY, iterations=1, save_interval=1, seed=3)
    straight = Trainer(config, "cpu", l1, stream())
    straight.run(tmp_path / "a", lambda done, total, what: None)

    def stop_after_first(done, total, what):
        if done == 1:
            raise Interrupt

    first = Trainer(config, "cpu", l1, stream())
    with pytest.raises(Interrupt):
        first.run(tmp_path / "b", stop_after_first)
    assert sorted(p.name for p in (tmp_path / "b").glob("all_*")) == ["all_0.pth"]
    resumed = Trainer(config, "cpu", l1, stream())
    resumed.load(tmp_path / "b" / "all_0.pth")
    assert resumed.next_iteration == 1
    resumed.run(tmp_path / "b", lambda done, total, what: None)
    assert sorted(p.name for p in (tmp_path / "b").glob("all_*")) == ["all_1.pth"]

    a = load_state(tmp_path / "a" / "all_1.pth")
    b = load_state(tmp_path / "b" / "all_1.pth")
    for net in ("g", "d"):
        assert a[net].keys() == b[net].keys()
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key)
    for x, y in zip(a["g_ema"], b["g_ema"], strict=True):
        assert torch.equal(x, y)
    for opt in ("opt_g", "opt_d"):
        for index, state in a[opt]["state"].items():
            assert torch.equal(state["exp_avg_sq"], b[opt]["state"][index]["exp_avg_sq"])
    log_a = (tmp_path / "a" / "losses.csv").read_text()
    assert log_a == (tmp_path / "b" / "losses.csv").read_text()
    assert log_a.splitlines()[0].startswith("iteration,d_real")
    assert [row.split(",")[0] for row in log_a.splitlines()[1:]] == ["0", "1"]


def test_checkpoint_is_official_layout(tmp_path):
    trainer = Trainer(FitConfig(**TINY, iterations=0), "cpu", l1, stream())
    trainer.run(tmp_path, lambda done, total, what: None)
    data = load_state(tmp_path / "all_0.pth")
    assert {"g", "d", "g_ema", "opt_g", "opt_d"} <= set(data)
    assert all(k.startswith("module.") for k in (*data["g"], *data["d"]))
    # what the official train.py / eval.py do with it: strip the prefix, load strictly
    g = Generator(ngf=4, nz=16, im_size=256)
    g.load_state_dict({k.replace("module.", ""): v for k, v in data["g"].items()})
    d = Discriminator(ndf=4, im_size=256)
    d.load_state_dict({k.replace("module.", ""): v for k, v in data["d"].items()})
    opt = torch.optim.Adam(g.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt.load_state_dict(data["opt_g"])
    assert [tuple(t.shape) for t in data["g_ema"]] == [tuple(p.shape) for p in g.parameters()]
    assert data["srarena"]["config"]["ngf"] == 4


def test_resume_from_official_file_and_architecture_check(tmp_path, fg):
    trainer = Trainer(FitConfig(**TINY, iterations=1), "cpu", l1, stream())
    trainer.load(fg.fixtures / "all_0.pth")  # official file: no srarena entry
    assert trainer.next_iteration == 1
    trainer.run(tmp_path, lambda done, total, what: None)
    assert [p.name for p in tmp_path.glob("all_*")] == ["all_1.pth"]
    wider = Trainer(FitConfig(**{**TINY, "ngf": 8}, iterations=1), "cpu", l1, stream())
    with pytest.raises(ValueError, match="different architecture"):
        wider.load(tmp_path / "all_1.pth")
    with pytest.raises(RuntimeError, match="size mismatch"):
        wider.load(fg.fixtures / "all_0.pth")


def test_config_is_checked():
    with pytest.raises(ValueError, match="trains at"):
        FitConfig(im_size=300)
    with pytest.raises(ValueError):
        FitConfig(batch_size=0)
