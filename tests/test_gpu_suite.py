"""benchmarks/gpu_suite.py: its --tiny CPU self-check runs every case green, and its JSON,
table and projection hold what a GPU run will report."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the GPU suite runs the techniques, which need torch")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SUITE = BENCHMARKS / "gpu_suite.py"


def load_suite():
    sys.path.insert(0, str(BENCHMARKS))  # the suite imports its sibling modules
    try:
        spec = importlib.util.spec_from_file_location("gpu_suite", SUITE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass resolves annotations through it
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpu-suite")
    env = {**os.environ, "SRARENA_HOME": str(folder / "home"), "SRARENA_OFFLINE": "1"}
    out = folder / "suite.json"
    done = subprocess.run([sys.executable, str(SUITE), "--tiny", "--device", "cpu",
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=900)
    return done, json.loads(out.read_text())


@pytest.mark.slow
def test_tiny_self_check_runs_every_case(tiny_run):
    done, report = tiny_run
    assert done.returncode == 0, done.stderr[-4000:]
    suite = load_suite()
    assert list(report["cases"]) == list(suite.CASES)
    assert report["tiny"] is True and report["environment"]["device"] == "cpu"
    for name, row in report["cases"].items():
        assert "error" not in row, (name, row.get("traceback"))
        assert row["seconds"] > 0 or name == "bench-dan-v1", name
        assert "peak_rss_mib_so_far" in row, name
        # on a CPU every half-precision comparison is skipped, each with its reason
        for precision in ("fp16", "bf16"):
            assert row["agreement"][precision]["skipped"], (name, precision)
        if row["unit"] == "images/s":
            assert row["images_per_s"] == pytest.approx(
                report["sizes"]["metric_images"] / row["seconds"])
    bench = report["cases"]["bench-dan-v1"]
    assert bench["bare_s_per_image"] > 0
    for label in ("no_metrics", "niqe"):
        assert len(bench[label]["walls_s"]) == 2 and all(w > 0 for w in bench[label]["walls_s"])
    parts = report["cases"]["moesr"]["parts_s"]
    assert {"x2_sweep", "x2_finetune", "x4_sweep", "x4_finetune"} <= set(parts)
    passes = report["cases"]["blindsr"]["parts_s"]
    assert len(passes) == 3 and sum(passes.values()) <= report["cases"]["blindsr"]["seconds"]
    for case in ("fastgan-train", "apa-train"):
        assert report["cases"][case]["iterations_per_fit"] > 1
    plan = report["projection"]
    assert plan["complete"] is True
    assert set(plan["hours"]) == {"dan", "moesr", "blindsr", "fastgan", "apa", "scoring"}
    assert plan["total_hours"] == pytest.approx(sum(plan["hours"].values()))
    # the table names every case and the projection
    for name in suite.CASES:
        assert name in done.stdout
    assert "tiny self-check" in done.stdout and "full study projected" in done.stdout


def test_projection_from_measured_rates():
    suite = load_suite()
    rows = {"dan-v1": {"seconds": 0.05}, "moesr": {"seconds": 30.0},
            "blindsr": {"seconds": 60.0},
            "fastgan-generate": {"seconds": 0.01},
            "fastgan-train": {"seconds": 0.2, "iterations_per_fit": 50001},
            "apa-generate": {"seconds": 0.02},
            "apa-train": {"seconds": 0.5, "iterations_per_fit": 15625},
            "niqe-study": {"images_per_s": 500.0}, "maniqa-study": {"images_per_s": 250.0}}
    plan = suite.projection(rows)
    images = 14 * 100
    assert plan["complete"] is True
    assert plan["hours"]["dan"] == pytest.approx(images * 0.05 / 3600)
    assert plan["hours"]["fastgan"] == pytest.approx((14 * 50001 * 0.2 + images * 0.01) / 3600)
    assert plan["hours"]["apa"] == pytest.approx((14 * 15625 * 0.5 + images * 0.02) / 3600)
    assert plan["hours"]["scoring"] == pytest.approx((5 * images / 500 + 5 * images / 250) / 3600)
    # a case that failed leaves its part unknown, and the projection says it is incomplete
    rows["moesr"] = {"error": "RuntimeError: out of memory"}
    partial = suite.projection(rows)
    assert partial["hours"]["moesr"] is None and partial["complete"] is False
    assert partial["total_hours"] == pytest.approx(plan["total_hours"] - plan["hours"]["moesr"])


def test_half_precision_comparison():
    import numpy as np

    suite = load_suite()
    reference = np.zeros((4, 4, 3), np.uint8)
    got = reference.copy()
    got[0, 0, 0], got[1, 1, 1] = 1, 3
    found = suite.compare(reference, got)
    assert found == {"max_grey_levels": 3, "pixels_differing": 2 / 48, "within_one_level": False}
    assert suite.compare(reference, reference)["within_one_level"] is True


def test_a_failing_case_is_recorded_and_the_others_go_on(tmp_path, monkeypatch, capsys):
    suite = load_suite()

    def broken(device, sizes):
        raise RuntimeError("CUDA out of memory")

    def fine(device, sizes):
        return {"what": "a stand-in", "unit": "s/image", "seconds": 0.5}

    monkeypatch.setattr(suite, "CASES", {"broken": broken, "fine": fine})
    out = tmp_path / "suite.json"
    assert suite.main(["--tiny", "--device", "cpu", "--out", str(out)]) == 1
    report = json.loads(out.read_text())
    assert report["cases"]["broken"]["error"] == "RuntimeError: CUDA out of memory"
    assert report["cases"]["fine"]["seconds"] == 0.5
    table = capsys.readouterr().out
    assert "broken" in table and "FAILED" in table and "0.500 s/image" in table
