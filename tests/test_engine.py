"""The engine: chains, tiling, a run with failures, resume, generative fitting, safe paths."""

from __future__ import annotations

import numpy as np
import pytest

from srarena.engine.chain import ScaleError, plan_chain
from srarena.engine.config import BenchConfig
from srarena.engine.pinned import RunConflict
from srarena.engine.runner import Bench
from srarena.engine.tiling import upscale_tiled, upscale_with_backoff
from srarena.store import Run, Store


def nearest(scale):
    return lambda a: np.repeat(np.repeat(a, scale, 0), scale, 1)


@pytest.mark.parametrize(
    ("native", "target", "steps", "label"),
    [
        ((2, 4), 8, (2, 4), "x2_x4"),
        ((2,), 8, (2, 2, 2), "x2_x2_x2"),
        ((2, 3, 4), 8, (2, 4), "x2_x4"),
        ((3,), 8, (3, 3), "x3_x3_resize8"),
        (None, 8, (8,), "x8"),
        ((4,), 4, (4,), "x4"),
    ],
)
def test_plan_chain(native, target, steps, label):
    chain = plan_chain(native, target)
    assert chain.steps == steps
    assert chain.label() == label


def test_plan_chain_unreachable():
    with pytest.raises(ScaleError):
        plan_chain((2,), 1000, max_steps=3)


def test_tiled_equals_whole_for_local_operator():
    image = np.random.default_rng(0).random((37, 53, 3), dtype=np.float32)
    tiled = upscale_tiled(nearest(3), image, 3, tile=16, overlap=4)
    np.testing.assert_allclose(tiled, nearest(3)(image), atol=1e-6)


def test_backoff_halves_tile_on_out_of_memory():
    calls = []

    def fragile(patch):
        calls.append(patch.shape[0])
        if max(patch.shape[:2]) > 20:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return nearest(2)(patch)

    image = np.random.default_rng(1).random((64, 64, 3), dtype=np.float32)
    backoffs = []
    out, used = upscale_with_backoff(fragile, image, 2, None, min_tile=8,
                                     on_backoff=backoffs.append)
    assert used == 16 and backoffs == [32, 16]
    np.testing.assert_allclose(out, nearest(2)(image), atol=1e-6)


def test_backoff_gives_up_with_advice():
    def always(patch):
        raise RuntimeError("out of memory")

    with pytest.raises(MemoryError, match="smaller --tile"):
        upscale_with_backoff(always, np.zeros((64, 64, 3), np.float32), 2, None, min_tile=32)


def test_other_errors_are_not_retried():
    def bad(patch):
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        upscale_with_backoff(bad, np.zeros((8, 8, 3), np.float32), 2, 4)


def _config(**kw):
    defaults = dict(upscalers=["fake-x2"], datasets=["noise:4"], metrics=["fake-mean"], scale=2)
    defaults.update(kw)
    return BenchConfig(**defaults)


def test_run_records_outputs_scores_and_failures(fake_plugin, tmp_path):
    config = _config(upscalers=["fake-x2", "fake-broken", "bicubic"],
                     metrics=["fake-mean", "fake-picky", "psnr"])
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    run = Run.open(tmp_path / "run")
    outputs = run.outputs()
    ok = outputs[outputs.status == "ok"]
    assert set(ok.upscaler) == {"fake-x2", "bicubic"} and len(ok) == 8
    broken = outputs[outputs.upscaler == "fake-broken"]
    assert len(broken) == 4 and (broken.status == "failed").all()
    assert broken.reason.str.contains("always fails").all()
    for path in ok.path:
        assert (tmp_path / "run" / path).is_file()
    scores = run.scores(all_rows=True)
    assert set(scores.metric) == {"fake-mean", "fake-picky", "psnr"}
    psnr = scores[(scores.metric == "psnr") & (scores.upscaler == "fake-x2")]
    assert (psnr.value > 0).all()
    refused = scores[scores.status == "refused"]
    assert refused.reason.str.contains("too bright").all()
    assert summary.exit_code == 1
    kinds = {f["kind"] for f in summary.failures}
    assert kinds == {"cell", "output", "score"}  # fake-broken failed on every image
    side = ok[ok.upscaler == "fake-x2"].side_outputs.iloc[0]
    assert "step1_x2_kernel" in side
    assert set(run.meta()) >= {"config", "environment", "metric_directions"}


def test_rerun_reuses_everything(fake_plugin, tmp_path):
    config = _config(upscalers=["fake-x2", "fake-broken"])
    Bench(fake_plugin, config, tmp_path / "run").run()
    first = Run.open(tmp_path / "run").scores()
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    assert summary.computed == 0 and summary.reused == 4
    again = Run.open(tmp_path / "run").scores()
    assert first[["output_key", "metric", "value"]].equals(again[["output_key", "metric", "value"]])


def test_scale_chain_is_recorded(fake_plugin, tmp_path):
    Bench(fake_plugin, _config(upscalers=["fake-x2"], scale=8, metrics=[]),
          tmp_path / "run").run()
    outputs = Run.open(tmp_path / "run").outputs()
    assert set(outputs.chain) == {"x2_x2_x2"}
    side = outputs.side_outputs.iloc[0]
    assert all(f"step{i}_x2_kernel" in side for i in (1, 2, 3))


def test_generative_fits_once_and_generates(fake_plugin, tmp_path):
    config = _config(upscalers=["fake-gen"], generate=3)
    Bench(fake_plugin, config, tmp_path / "run").run()
    Bench(fake_plugin, config, tmp_path / "run").run()
    outputs = Run.open(tmp_path / "run").outputs()
    assert list(outputs.image_id) == ["seed1000", "seed1001", "seed1002"]
    assert (outputs.status == "ok").all()
    counters = list((tmp_path / "run" / "fits").rglob("fits.txt"))
    assert len(counters) == 1 and counters[0].read_text() == "1"


def test_weights_missing_skips_with_fix(fake_plugin, tmp_path):
    from dataclasses import replace

    from srarena.specs import Source, WeightFile, WeightSet

    spec = fake_plugin.upscalers["fake-x2"]
    ws = WeightSet(name="fake-weights", files=(WeightFile("w.pth", (Source("https", url="x"),)),))
    fake_plugin.upscalers["fake-x2"] = replace(spec, weights=ws)
    summary = Bench(fake_plugin, _config(), tmp_path / "run").run()
    assert summary.exit_code == 0
    (skip,) = summary.skipped
    assert "w.pth" in skip["reason"] and skip["fix"] == "srarena weights fetch fake-weights"
    cells = Run.open(tmp_path / "run").cells()
    assert (cells.status == "skipped").all()


def test_paths_cannot_leave_the_run_folder(tmp_path):
    store = Store(tmp_path / "run")
    path = store.path_for("images", "..", "../../etc", "passwd")
    assert tmp_path / "run" in path.parents
    assert store.path_for("..").parent == (tmp_path / "run").resolve()
    assert store.path_for("a/b", "c\\d").parent.parent == (tmp_path / "run").resolve()
    store.close()


def test_only_the_weights_of_the_chain_are_needed(fake_plugin, tmp_path):
    from dataclasses import replace

    from srarena import weights as service
    from srarena.specs import Source, WeightFile, WeightSet

    source = (Source("https", url="https://example.invalid/w"),)
    ws = WeightSet(name="fake-scaled", licence="MIT", files=(
        WeightFile("x2.bin", source, scales=(2,)),
        WeightFile("x3.bin", source, scales=(3,)),
        WeightFile("shared.bin", source),
    ))
    assert [f.filename for f in ws.for_scales((2, 2, 2)).files] == ["x2.bin", "shared.bin"]
    folder = service.folder(ws)
    folder.mkdir(parents=True)
    for name in ("x2.bin", "shared.bin"):
        (folder / name).write_bytes(b"weights")
    spec = replace(fake_plugin.upscalers["fake-x2"], weights=ws)
    fake_plugin.upscalers["fake-x2"] = spec
    summary = Bench(fake_plugin, _config(scale=8, metrics=[]), tmp_path / "run").run()
    assert summary.skipped == [] and summary.computed == 4


def test_generation_only_options_reuse_the_fit(fake_plugin, tmp_path):
    from dataclasses import replace

    spec = fake_plugin.upscalers["fake-gen"]
    fake_plugin.upscalers["fake-gen"] = replace(spec, options={"style": "a", "steps": 1},
                                                generation_options=("style",))
    config = _config(upscalers=["fake-gen"], generate=2)
    Bench(fake_plugin, config, tmp_path / "run").run()
    config.options = {"fake-gen": {"style": "b"}}  # generation only: same fit, new images
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    assert summary.computed == 2
    counters = list((tmp_path / "run" / "fits").rglob("fits.txt"))
    assert len(counters) == 1 and counters[0].read_text() == "1"
    # the style-a images were replaced, not kept beside the style-b ones
    assert len(Run.open(tmp_path / "run").outputs()) == 2
    config.options = {"fake-gen": {"steps": 2}}  # changes the fitted state: another folder
    with pytest.raises(RunConflict, match="steps"):
        Bench(fake_plugin, config, tmp_path / "run").run()
    Bench(fake_plugin, config, tmp_path / "other").run()
    assert len(list((tmp_path / "other" / "fits").rglob("fits.txt"))) == 1


def test_exact_cuda_sets_and_restores_the_flags():
    """Deterministic cuDNN, no autotuning, no TF32 inside; the previous flags afterwards
    (the flags can be set without a GPU); nothing on another device."""
    torch = pytest.importorskip("torch")
    from srarena.engine.cuda import exact_cuda

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul

    def flags():
        return cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32

    before = flags()
    cudnn.benchmark = matmul.allow_tf32 = True
    try:
        changed = flags()
        with exact_cuda("cpu"):
            assert flags() == changed
        with exact_cuda(torch.device("cuda:0")):
            assert flags() == (True, False, False, False)
        assert flags() == changed
    finally:
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = before


def test_identical_images_each_get_their_own_results(fake_plugin, tmp_path):
    """The same picture twice in a dataset, and two datasets with the same pictures: every
    item is upscaled, stored and scored under its own dataset and id (no crash, no merge)."""
    from PIL import Image

    picture = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    root = tmp_path / "study"
    for dataset, names in (("alpha", ("a", "twin")), ("beta", ("a", "twin"))):
        folder = root / "Domain" / dataset
        folder.mkdir(parents=True)
        for name in names:
            Image.fromarray(picture).save(folder / f"{name}.png")
    config = _config(upscalers=["fake-x2", "fake-gen"], datasets=[f"study:{root}"],
                     metrics=["fake-mean"], generate=2)
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    assert summary.exit_code == 0
    run = Run.open(tmp_path / "run")
    outputs = run.outputs()
    assert (outputs.status == "ok").all() and outputs.output_key.is_unique
    single = outputs[outputs.upscaler == "fake-x2"]
    assert sorted(zip(single.dataset, single.image_id, strict=True)) == [
        ("alpha", "a"), ("alpha", "twin"), ("beta", "a"), ("beta", "twin")]
    generated = outputs[outputs.upscaler == "fake-gen"]
    assert sorted(zip(generated.dataset, generated.image_id, strict=True)) == [
        ("alpha", "seed1000"), ("alpha", "seed1001"), ("beta", "seed1000"), ("beta", "seed1001")]
    for path in outputs.path:
        assert (tmp_path / "run" / path).is_file()
    scores = run.scores()
    assert len(scores) == 8 and set(scores.metric) == {"fake-mean"}
    upscaled = scores[scores.upscaler == "fake-x2"]
    assert upscaled.value.nunique() == 1  # the same picture, the same score
    again = Bench(fake_plugin, config, tmp_path / "run").run()
    assert again.computed == 0 and again.reused == 8


def test_a_skip_is_kept_for_the_closing_summary_not_announced_live():
    from srarena.engine.record import Recorder, Summary
    from srarena.engine.reporter import Reporter

    class Notes(Reporter):
        def __init__(self) -> None:
            self.lines: list[str] = []

        def note(self, text: str) -> None:
            self.lines.append(text)

    notes, summary = Notes(), Summary()
    recorder = Recorder(store=None, reporter=notes, summary=summary)
    recorder.skip("metric", "maniqa", "weights missing", "srarena weights fetch maniqa-pipal")
    recorder.skip("upscaler", "apa", "needs a CUDA GPU",
                  "run with --device cuda on a machine with a GPU")
    assert notes.lines == []
    assert summary.skipped == [
        {"kind": "metric", "name": "maniqa", "reason": "weights missing",
         "fix": "srarena weights fetch maniqa-pipal", "failed": False},
        {"kind": "upscaler", "name": "apa", "reason": "needs a CUDA GPU",
         "fix": "run with --device cuda on a machine with a GPU", "failed": False}]
