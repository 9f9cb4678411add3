"""The streaming bench: the same rows as the serial reference, batches equal to one-by-one
calls, inputs let go as they are done, fast PNGs with the same keys, Ctrl-C keeps the work."""

from __future__ import annotations

import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from srarena.engine import plan
from srarena.engine.config import BenchConfig
from srarena.engine.pipeline import InlinePool, StageClock, drain, read_ahead, worker_count
from srarena.engine.runner import Bench
from srarena.imageio import load_image
from srarena.specs import MetricSpec, UpscalerSpec
from srarena.store import content_key

SUPPORT = Path(__file__).parent / "support"
TIMING = {"created", "seconds", "peak_memory_mb"}


def table(folder: Path, name: str, without: tuple[str, ...] = ()) -> list[tuple]:
    """Every row of a table without its timings (and ``without``), in key order."""
    with sqlite3.connect(folder / "results.sqlite") as db:
        columns = [c[1] for c in db.execute(f"PRAGMA table_info({name})")]
        kept = [c for c in columns if c not in TIMING and c not in without]
        return db.execute(f"SELECT {', '.join(kept)} FROM {name} ORDER BY 1").fetchall()


def pixels(folder: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(folder).as_posix(): load_image(p)
            for p in sorted((folder / "images").rglob("*.png"))}


def run(registry, folder: Path, **config) -> object:
    defaults = dict(upscalers=["fake-x2"], datasets=["noise:6"], metrics=["fake-mean"],
                    scale=2)
    return Bench(registry, BenchConfig(**{**defaults, **config}), folder).run()


def test_streaming_gives_the_rows_of_the_serial_reference(fake_plugin, tmp_path):
    config = dict(upscalers=["fake-x2", "fake-broken", "fake-batch", "bicubic", "fake-gen"],
                  datasets=["noise:7", "samples"],
                  metrics=["fake-mean", "fake-picky", "psnr", "ssim", "niqe"], generate=3)
    serial = run(fake_plugin, tmp_path / "serial", workers=0, **config)
    streamed = run(fake_plugin, tmp_path / "streamed", workers=3, **config)
    for name in ("inputs", "cells", "outputs", "scores"):
        assert table(tmp_path / "streamed", name) == table(tmp_path / "serial", name), name
    serial_pixels, streamed_pixels = pixels(tmp_path / "serial"), pixels(tmp_path / "streamed")
    assert serial_pixels.keys() == streamed_pixels.keys()
    for key, image in serial_pixels.items():
        np.testing.assert_array_equal(streamed_pixels[key], image)
    assert (streamed.computed, streamed.scores) == (serial.computed, serial.scores)
    assert streamed.exit_code == serial.exit_code == 1  # fake-broken fails every item


def test_streaming_at_8x_through_a_chain_matches_serial(fake_plugin, tmp_path):
    config = dict(upscalers=["fake-x2", "bicubic"], datasets=["noise:5"], scale=8,
                  metrics=["fake-mean", "niqe"])
    run(fake_plugin, tmp_path / "serial", workers=0, **config)
    run(fake_plugin, tmp_path / "streamed", **config)
    assert table(tmp_path / "streamed", "outputs") == table(tmp_path / "serial", "outputs")
    assert table(tmp_path / "streamed", "scores") == table(tmp_path / "serial", "scores")


def test_rerun_of_a_streamed_run_recomputes_nothing(fake_plugin, tmp_path):
    config = dict(upscalers=["fake-x2", "fake-gen"], metrics=["fake-mean", "psnr"], generate=2)
    run(fake_plugin, tmp_path / "run", **config)
    before = table(tmp_path / "run", "outputs")
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        db.execute("DELETE FROM scores WHERE metric = 'psnr'")  # as if killed before scoring
    again = run(fake_plugin, tmp_path / "run", **config)
    assert again.computed == 0 and again.reused == 8
    assert again.scores == 6  # psnr again for the six single-image outputs with HR
    assert table(tmp_path / "run", "outputs") == before


def test_a_rerun_with_every_score_done_reads_no_output(fake_plugin, tmp_path, monkeypatch):
    run(fake_plugin, tmp_path / "run")
    from srarena.engine import runner

    def forbidden(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(runner, "load_image", forbidden)
    summary = run(fake_plugin, tmp_path / "run")
    assert summary.reused == 6 and summary.exit_code == 0


def test_batched_calls_equal_one_by_one_and_isolate_failures(fake_plugin, tmp_path):
    from fake_plugin import Fussy  # the module the fixture loads as a plugin

    Fussy.calls.clear()
    serial = run(fake_plugin, tmp_path / "serial", upscalers=["fake-batch"], datasets=["noise:9"],
                 workers=0)
    assert max(Fussy.calls) > 1, "the engine did not use the batched call"
    one = UpscalerSpec(name="fake-one", factory="fake_plugin:Fussy", scales=(2,))
    fake_plugin.upscalers["fake-one"] = one
    run(fake_plugin, tmp_path / "one", upscalers=["fake-one"], datasets=["noise:9"])
    batched = {row[1:] for row in _outputs_by_image(tmp_path / "serial")}
    single = {row[1:] for row in _outputs_by_image(tmp_path / "one")}
    assert batched == single
    failed = [row for row in _outputs_by_image(tmp_path / "serial") if row[1] == "failed"]
    assert failed and all("too bright" in row[2] for row in failed)
    assert len(failed) < 9 and serial.computed == 9 - len(failed)
    for path, image in pixels(tmp_path / "serial").items():
        other = pixels(tmp_path / "one")[path.replace("fake-batch", "fake-one")]
        np.testing.assert_array_equal(image, other)


def _outputs_by_image(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "results.sqlite") as db:
        return db.execute("SELECT image_id, status, reason FROM outputs ORDER BY image_id"
                          ).fetchall()


def test_classical_batch_equals_one_by_one(fake_plugin):
    from srarena.engine.instances import open_steps
    from srarena.testing import context

    spec = fake_plugin.upscaler("bicubic")
    upscaler = open_steps(spec, (4,), context())[4]
    rng = np.random.default_rng(0)
    images = [rng.random((12, 9, 3), dtype=np.float32) for _ in range(5)]
    batched = upscaler.upscale_batch(images)
    for image, result in zip(images, batched, strict=True):
        np.testing.assert_array_equal(result.image, upscaler.upscale(image).image)


def test_inputs_are_let_go_as_the_run_goes(fake_plugin, tmp_path):
    from fake_plugin import Tracked

    Tracked.ALIVE.clear()
    peak = []

    def alive() -> int:
        return sum(ref() is not None for ref in Tracked.ALIVE)

    original = Bench._handle

    def watching(self, job, event):
        gc.collect()
        peak.append(alive())
        original(self, job, event)

    Bench._handle = watching
    try:
        run(fake_plugin, tmp_path / "run", datasets=["tracked:60"], workers=2)
    finally:
        Bench._handle = original
    assert len(Tracked.ALIVE) == 120  # each input read twice: hashed, then upscaled
    assert max(peak) <= 12, f"{max(peak)} inputs held at once"  # what is in flight, not 60
    gc.collect()
    assert alive() == 0


def test_png_level_is_recorded_and_does_not_change_the_results(fake_plugin, tmp_path):
    run(fake_plugin, tmp_path / "fast", png_level=0)
    run(fake_plugin, tmp_path / "small", png_level=9)
    # the same rows but the files' sha256 (other encodings of the same pixels)
    assert table(tmp_path / "fast", "outputs", ("sha256",)) == table(
        tmp_path / "small", "outputs", ("sha256",))
    for key, image in pixels(tmp_path / "fast").items():
        np.testing.assert_array_equal(pixels(tmp_path / "small")[key], image)
    config = json.loads((tmp_path / "fast" / "config.json").read_text())
    assert config["png_level"] == 0 and "workers" in config
    size = sum(p.stat().st_size for p in (tmp_path / "fast" / "images").rglob("*.png"))
    assert size > sum(p.stat().st_size for p in (tmp_path / "small" / "images").rglob("*.png"))


def test_speed_settings_do_not_name_another_run():
    base = BenchConfig(upscalers=["bicubic"])
    fast = BenchConfig(upscalers=["bicubic"], workers=8, png_level=0)
    assert base.identity() == fast.identity() and base.to_json() != fast.to_json()


def test_keys_are_those_of_the_serial_runner():
    """The keys of results written before the streaming bench still name the same results."""
    spec = UpscalerSpec(name="up", factory="m:C", scales=(2,), options={"a": 1},
                        generation_options=("g",))
    identity = plan.RunIdentity("fp32", None, 0, {"up": {"g": 2}})
    assert identity.single_key(spec, "w", "h", "x2", "d", "i") == content_key(
        "up", "0", "w", "fp32", None, 0, {"a": 1, "g": 2}, "h", "x2", "d", "i")
    assert identity.fit_key(spec, "w", "dh", 1024, "d") == content_key(
        "up", "0", "w", "fp32", None, 0, {"a": 1}, "fit", "dh", 1024, "d")
    metric = MetricSpec(name="m", factory="m:M", options={"k": 1})
    assert plan.score_key("out", metric) == content_key("out", "m", "0", {"k": 1})
    assert plan.generation_size([(128, 96), (128, 128), (64, 64)], 8) == 1024
    assert plan.generated_id(1000) == "seed1000"


def test_scores_to_do_skip_done_and_full_reference_without_hr():
    nr = MetricSpec(name="nr", factory="m:M")
    fr = MetricSpec(name="fr", factory="m:M", kind="full-reference")
    done = {plan.score_key("o", nr)}
    assert plan.scores_to_do("o", [nr, fr], has_hr=False, done=done) == []
    assert plan.scores_to_do("o", [nr, fr], has_hr=True, done=set()) == [nr, fr]


def test_read_ahead_keeps_order_and_bounds_what_runs_ahead():
    running, most = [0], [0]
    lock = threading.Lock()

    def load(x):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return x * 2

    with ThreadPoolExecutor(8) as pool:
        got = [f.result() for _, f in read_ahead(pool, range(30), load, depth=3)]
    assert got == [x * 2 for x in range(30)] and most[0] <= 3


def test_drain_yields_in_order_and_waits_past_the_limit():
    from collections import deque

    gate = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        queue = deque([pool.submit(time.sleep, 0.02), pool.submit(lambda: None),
                       pool.submit(gate.wait)])
        clock = StageClock()
        assert list(drain(queue, 1, clock)) == [None, None] and len(queue) == 1
        assert "outputs" in clock.waits
        gate.set()


def test_inline_pool_and_worker_count():
    future = InlinePool().submit(lambda: 1 / 0)
    assert isinstance(future.exception(), ZeroDivisionError)
    assert worker_count(0) == 0 and worker_count(3) == 3 and worker_count(None) >= 1
    with pytest.raises(ValueError):
        worker_count(-1)


def test_clock_names_the_bottleneck():
    clock = StageClock(started=time.perf_counter() - 10, busy=4.0, waits={"metrics": 5.0})
    text = clock.describe()
    assert text.startswith("upscaler 40 % busy") and "waiting on metrics" in text
    assert "waiting" not in StageClock(started=time.perf_counter() - 1, busy=0.95).describe()


def test_clock_starts_with_the_cell_s_first_step_not_when_it_was_planned():
    clock = StageClock()
    assert clock.started is None and clock.describe() == "upscaler 0 % busy"
    with clock.computing():
        pass
    first = clock.started
    assert first is not None
    with clock.waiting("inputs"):
        pass
    assert clock.started == first


def test_ctrl_c_exits_130_keeps_the_work_and_resumes(tmp_path):
    env = {**os.environ, "SRARENA_PLUGIN_MODULES": "fake_plugin", "SRARENA_FAKE_DELAY": "0.3",
           "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "run"
    args = [sys.executable, "-m", "srarena", "bench", "-u", "fake-slow", "-d", "noise:40",
            "-m", "fake-mean", "--scale", "2", "--out", str(out)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while _count(out, "outputs") < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, output
    kept = _count(out, "outputs")
    assert 3 <= kept < 40, "the interrupt must land mid-run"
    assert _count(out, "scores") >= 1  # what was scored before the interrupt is kept
    env["SRARENA_FAKE_DELAY"] = "0"
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"reused {kept}" in " ".join(done.stdout.split())
    assert _count(out, "outputs") == 40 and _count(out, "scores") == 40


def _count(folder: Path, table_name: str) -> int:
    try:
        with sqlite3.connect(folder / "results.sqlite", timeout=1) as db:
            return db.execute(f"SELECT COUNT(*) FROM {table_name} WHERE status='ok'"
                              ).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_progress_tells_the_busy_stage_once_per_computed_item(fake_plugin, tmp_path):
    from srarena.engine.reporter import Reporter

    class Recording(Reporter):
        def __init__(self):
            self.stages = []

        def stage(self, label, text):
            self.stages.append((label, text))

    reporter = Recording()
    Bench(fake_plugin, BenchConfig(upscalers=["fake-x2"], datasets=["noise:4"],
                                   metrics=["fake-mean"], scale=2), tmp_path / "run",
          reporter).run()
    assert len(reporter.stages) == 4
    label, text = reporter.stages[-1]
    assert label == "fake-x2 · noise" and "% busy" in text


def test_rich_progress_shows_the_stage(tmp_path):
    import io

    from rich.console import Console

    from srarena.cli.console import RichReporter

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    with RichReporter(console) as reporter:
        reporter.cell_started("up · data", 3)
        for _ in range(2):
            reporter.item_done("up · data")
            reporter.stage("up · data", "upscaler 95 % busy")
    out = buffer.getvalue()
    assert "upscaler 95 % busy" in out and "/s eta " in out and "2/3" in out
