"""``srarena replicate`` end to end: a plugin ships a published-results table, the benchmark
is fetched from a loopback server, the run is an ordinary resumable run folder, and the
table is filled from it with a verdict per value; a far value is "not reproduced" (exit 1),
a missing value is shown as missing, a benchmark that cannot run here as "not run"."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from srarena import plugins
from srarena.analysis import replication
from srarena.datasets import zoo

HERE = Path(__file__).parent

PLUGIN = '''
import srarena
from srarena.specs import UpscalerSpec

SRARENA_API = 1


@srarena.hookimpl
def srarena_register_upscalers(register):
    register(UpscalerSpec(name="replica", factory="srarena.upscalers.classical:ClassicalUpscaler",
                          scales=None, licence="MIT", options={"filter": "bicubic"},
                          published_results="replica_pkg:published.json"))
'''


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(psnr: float, ssim: float) -> dict:
    source = "Table 9 of the replica paper (arXiv 0000.00000), read in its arXiv HTML"
    row = {"technique": "replica", "upscaler": "replica", "paper": "p", "benchmark": "div2krk-x4",
           "dataset": "DIV2KRK", "scale": 4, "kernel": "DIV2KRK", "table": "9", "source": source}
    return {
        "format": 1, "version": "1", "papers": {"p": {"title": "Replica", "arxiv": "0000.00000"}},
        "results": [
            {**row, "metric": "psnr", "value": psnr},
            {**row, "metric": "ssim", "value": ssim},
            {**row, "benchmark": "gaussian8-x2", "dataset": "Set5", "scale": 2, "metric": "psnr",
             "value": 30.0},
        ],
        "missing": [{"technique": "replica", "what": "Urban100 x4 PSNR",
                     "reason": "the paper's Table 9 is cut off in the arXiv HTML"}],
    }


@pytest.fixture
def setup(monkeypatch, tmp_path):
    helpers = _module("_zoo_tests", HERE / "test_datasets_zoo.py")
    server = _module("_weights_http", HERE / "test_weights_http.py").Server()
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SRARENA_OFFLINE", raising=False)
    server.files["/DIV2KRK_public.zip"] = helpers.div2krk_archive()
    monkeypatch.setitem(zoo.ENTRIES, "div2krk", dataclasses.replace(
        zoo.DIV2KRK, urls=(server.base + "/DIV2KRK_public.zip",),
        counts=dict.fromkeys(zoo.DIV2KRK.counts, 3)))
    package = tmp_path / "plugin" / "replica_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(PLUGIN)
    table = package / "published.json"
    table.write_text(json.dumps(_table(10.0, 0.5)))
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "replica_pkg.plugin")
    plugins.get_registry(refresh=True)
    yield table, tmp_path / "runs"
    sys.modules.pop("replica_pkg", None)
    sys.modules.pop("replica_pkg.plugin", None)
    monkeypatch.delenv("SRARENA_PLUGIN_MODULES")
    plugins.get_registry(refresh=True)
    server.close()


def _invoke(*args: str):
    from srarena.cli import _install_commands, app

    _install_commands()
    return CliRunner().invoke(app, ["replicate", *args], env={"COLUMNS": "250"})


def _expected_psnr() -> float:
    """Bicubic x4 on the fetched DIV2KRK, scored independently of the run."""
    from srarena.datasets import open_dataset
    from srarena.datasets.degrade import quantise
    from srarena.imageio import resize
    from srarena.metrics.fullref import psnr

    values = []
    for item in open_dataset("div2krk-x4", plugins.get_registry()).items():
        lr, hr = item.lr(), item.hr()
        sr = quantise(np.clip(resize(lr, hr.shape[1], hr.shape[0], "bicubic"), 0, 1))
        values.append(psnr(sr, hr, 4))
    return float(np.mean(values))


def test_replicate_fills_the_table_from_the_run(setup):
    table, runs = setup
    result = _invoke("replica", "--out", str(runs))
    assert result.exit_code == 1, result.output
    results = replication.read(runs)
    by = {(r["benchmark"], r["metric"]): r for r in results}
    psnr = by[("div2krk-x4", "psnr")]
    assert psnr["verdict"] == "not reproduced" and psnr["value"] == 10.0
    assert psnr["ours"] == pytest.approx(_expected_psnr(), abs=1e-9)
    assert psnr["difference"] == pytest.approx(psnr["ours"] - 10.0)
    assert psnr["tolerance"] == replication.TOLERANCES["psnr"]
    assert psnr["ours_n"] == 3 and psnr["table"] == "9"
    assert by[("gaussian8-x2", "psnr")]["verdict"] == "not run"
    assert "no dataset source 'gaussian8-x2'" in by[("gaussian8-x2", "psnr")]["reason"]
    missing = [r for r in results if r["verdict"] == "missing"]
    assert missing[0]["dataset"] == "Urban100 x4 PSNR"
    for text in ("not reproduced", "missing", "not run", "Table 9 of the replica paper"):
        assert text in result.output
    run = runs / "replica--div2krk-x4"
    scores = __import__("srarena").open_run(run).scores()
    assert psnr["ours"] == pytest.approx(scores[scores["metric"] == "psnr"]["value"].mean())
    assert {r["metric"] for r in replication.read(run)} == {"psnr", "ssim"}
    from srarena.report.build import build_report

    written = build_report(run, options=None)
    markdown, page = written.markdown.read_text(), written.html.read_text()
    assert "## Replication" in markdown and "not reproduced" in markdown
    assert f"| {psnr['ours']:.2f}" in markdown or f"{psnr['ours']:.2f}" in markdown
    assert 'id="replication"' in page and "Table 9 of the replica paper" in page

    # the published values now equal ours: the rerun resumes the run and reproduces them
    ssim = by[("div2krk-x4", "ssim")]["ours"]
    table.write_text(json.dumps(_table(round(psnr["ours"], 2), round(ssim, 4))))
    plugins.get_registry(refresh=True)
    again = _invoke("replica", "--benchmark", "div2krk-x4", "--out", str(runs))
    assert again.exit_code == 0, again.output
    verdicts = {r["metric"]: r["verdict"] for r in replication.read(runs) if r["benchmark"]}
    assert verdicts == {"psnr": "reproduced", "ssim": "reproduced"}
    strict = _invoke("replica", "--out", str(runs), "--strict")
    assert strict.exit_code == 1  # gaussian8-x2 cannot run here


def test_usage_errors(setup):
    assert _invoke("nope").exit_code == 2
    unknown = _invoke("replica", "--benchmark", "set5-x9")
    assert unknown.exit_code == 2 and "its benchmarks: div2krk-x4, gaussian8-x2" in unknown.output
    assert _invoke("replica", "--study").exit_code == 2
    assert _invoke("--study", "--only", "Nope").exit_code == 2
    executor = _invoke("replica", "-b", "div2krk-x4", "--executor", "nope")
    assert executor.exit_code == 2 and "unknown executor 'nope'" in executor.output


def test_offline_without_the_dataset_is_not_run(setup, monkeypatch):
    _, runs = setup
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    result = _invoke("replica", "-b", "div2krk-x4", "--out", str(runs))
    assert result.exit_code == 0, result.output
    rows = replication.read(runs)
    assert {r["verdict"] for r in rows if r["benchmark"]} == {"not run"}
    assert "offline" in rows[0]["reason"]


def test_tolerance_rule():
    row = replication.Published("t", "u", "b", "d", 8, "niqe-study", 5.0, "s", sd=1.0, n=100)
    assert replication.tolerance(row, 1.0, 100) == pytest.approx(1.96 * (2 / 100) ** 0.5,
                                                                 rel=1e-3)
    fixed = dataclasses.replace(row, metric="psnr", sd=None, n=None)
    assert replication.tolerance(fixed, None, 3) == 0.05
    assert replication.tolerance(fixed, None, 3, {"psnr": 0.2}) == 0.2
    assert replication.compare([fixed], {("u", "d", "psnr"): (5.04, 0.1, 3)})[0]["verdict"] == \
        "reproduced"


def test_tables_are_checked(tmp_path):
    assert replication.check_table({"format": 1, "version": "1", "results": [{"value": 1}]})
    bad = {"format": 1, "version": "1", "papers": {},
           "results": [{**_table(1, 1)["results"][0], "value": "high"}]}
    assert any("value must be a number" in p for p in replication.check_table(bad))
    with pytest.raises(replication.TableError, match="package:file.json"):
        replication.load_table("no-colon")
