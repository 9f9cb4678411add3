"""The Ray executor on a local two-CPU cluster: same rows as in process, resume, retries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'srarena[ray]'")

from srarena.engine.config import BenchConfig  # noqa: E402
from srarena.engine.ray_executor import RayExecutor  # noqa: E402
from srarena.engine.runner import Bench  # noqa: E402
from srarena.store import Run  # noqa: E402

SUPPORT = Path(__file__).parent / "support"
KEYS = ["output_key", "upscaler", "dataset", "image_id", "status", "path", "chain"]


@pytest.fixture(scope="module")
def cluster():
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])
    executor = RayExecutor(num_cpus=2, chunk_size=2, max_retries=1)
    yield executor
    ray.shutdown()


def rows(folder):
    run = Run.open(folder)
    outputs = run.outputs()[KEYS].sort_values("output_key").reset_index(drop=True)
    scores = run.scores()[["output_key", "metric", "value"]]
    return outputs, scores.sort_values(["output_key", "metric"]).reset_index(drop=True)


def config(*upscalers, **kw):
    return BenchConfig(upscalers=list(upscalers), datasets=["samples"],
                       metrics=["psnr", "ssim"], **kw)


def test_ray_gives_the_same_rows_as_in_process(cluster, fake_plugin, tmp_path):
    Bench(fake_plugin, config("bicubic", "nearest"), tmp_path / "local").run()
    summary = Bench(fake_plugin, config("bicubic", "nearest"), tmp_path / "ray",
                    executor=cluster).run()
    assert summary.computed == 12 and summary.exit_code == 0
    for local, remote in zip(rows(tmp_path / "local"), rows(tmp_path / "ray"), strict=True):
        assert local.equals(remote)


def test_resume_across_executors(cluster, fake_plugin, tmp_path):
    Bench(fake_plugin, config("bicubic"), tmp_path / "run", executor=cluster).run()
    summary = Bench(fake_plugin, config("bicubic", "lanczos"), tmp_path / "run").run()
    assert summary.reused == 6 and summary.computed == 6
    summary = Bench(fake_plugin, config("bicubic", "lanczos"), tmp_path / "run",
                    executor=cluster).run()
    assert summary.reused == 12 and summary.computed == 0
    Bench(fake_plugin, config("bicubic", "lanczos"), tmp_path / "clean").run()
    for resumed, clean in zip(rows(tmp_path / "run"), rows(tmp_path / "clean"), strict=True):
        assert resumed.equals(clean)


def test_generative_fit_then_generate_on_ray(cluster, fake_plugin, tmp_path):
    cfg = BenchConfig(upscalers=["fake-gen"], datasets=["noise:4"], metrics=["fake-mean"],
                      scale=2, generate=3)
    Bench(fake_plugin, cfg, tmp_path / "ray", executor=cluster).run()
    Bench(fake_plugin, cfg, tmp_path / "local").run()
    for remote, local in zip(rows(tmp_path / "ray"), rows(tmp_path / "local"), strict=True):
        assert remote.equals(local)


def crash_config(tmp_path, crashes):
    options = {"fake-crash": {"crash_file": str(tmp_path / f"crashes-{crashes}"),
                              "crashes": crashes}}
    return BenchConfig(upscalers=["fake-crash"], datasets=["noise:2"], metrics=[], scale=2,
                       options=options)


def test_crashed_worker_is_retried_then_recorded(cluster, fake_plugin, tmp_path):
    summary = Bench(fake_plugin, crash_config(tmp_path, 1), tmp_path / "once",
                    executor=cluster).run()
    assert summary.exit_code == 0 and summary.computed == 2  # one crash, retried, succeeded
    summary = Bench(fake_plugin, crash_config(tmp_path, 99), tmp_path / "always",
                    executor=cluster).run()
    assert summary.exit_code == 1
    failed = Run.open(tmp_path / "always").outputs()
    assert (failed.status == "failed").all()
    assert failed.reason.str.contains("failed after 1 retries").all()
