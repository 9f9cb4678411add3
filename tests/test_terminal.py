"""What the terminal shows, rendered for real at 80 and 60 columns: the listings (plugins,
metrics, spandrel list) and the bench's closing summary keep every component name whole and
no line wider than the terminal; what could not run is said once; failures are grouped by
(component, reason) with a fix read from the data; the progress rate is a moving window;
pyiqa's metrics say honestly whether their files are here."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from srarena.cli import _install_commands, app, notices
from srarena.cli.console import MovingRate, pace_text
from srarena.plugins import get_registry

_install_commands()
runner = CliRunner()
WIDTHS = [80, 60]


def render(width: int, *args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": str(width)})
    return result


def check_fits(text: str, width: int, names: list[str]) -> None:
    """No line wider than the terminal; every name a whole word of the render."""
    lines = text.splitlines()
    assert lines and max(len(line) for line in lines) <= width, "\n".join(
        line for line in lines if len(line) > width)
    words = set(re.split(r"[\s,()]+", text))
    cut = [name for name in names if name not in words]
    assert cut == [], f"cut or missing at {width} columns: {cut}\n{text}"


def json_of(*args: str):
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- the listings ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_plugins_fits_and_keeps_names_whole(width):
    from srarena.cli.plugins_cmd import LISTED

    rows = json_of("plugins")
    names = [row["plugin"] for row in rows] + [row["distribution"] for row in rows]
    for row in rows:  # the names the table lists (the ready ones first, LISTED per kind)
        ready_first = sorted(row["components"], key=lambda c: c["status"] != "ok")
        for kind in ("upscaler", "metric", "dataset", "importer"):
            names += [c["name"] for c in ready_first if c["kind"] == kind][:LISTED]
    result = render(width, "plugins")
    assert result.exit_code == 0, result.output
    check_fits(result.output, width, names)
    assert "…" not in result.output.replace("… and", "")
    assert result.output.count("srarena weights fetch --all") <= 1


@pytest.mark.parametrize("width", WIDTHS)
def test_metrics_fits_and_keeps_names_whole(width):
    names = [row["name"] for row in json_of("metrics")]
    result = render(width, "metrics")
    assert result.exit_code == 0, result.output
    check_fits(result.output, width, names)


@pytest.mark.parametrize("width", WIDTHS)
def test_spandrel_list_fits_and_keeps_names_whole(width):
    if "spandrel" not in {p.name for p in get_registry().plugins}:
        pytest.skip("srarena-spandrel is not installed in this environment")
    rows = json_of("spandrel", "list")
    result = render(width, "spandrel", "list")
    assert result.exit_code == 0, result.output
    check_fits(result.output, width, [row["upscaler"] for row in rows])
    if width == 80:  # sources shortened to their host; the full URL is in the JSON
        assert "github.com" in result.output and "https://" not in result.output
        assert any(s.startswith("https://github.com/") for row in rows for s in row["sources"])


@pytest.mark.parametrize("width", WIDTHS)
def test_datasets_list_fits_and_keeps_names_whole(width):
    rows = json_of("datasets", "list")
    result = render(width, "datasets", "list")
    assert result.exit_code == 0, result.output
    names = [row["name"] for row in rows] + [d for row in rows for d in row["provides"]]
    check_fits(result.output, width, names)
    assert "https://" not in result.output  # hosts only; the URLs are in the JSON
    assert all(row["sources"][0].startswith("http") for row in rows)


def test_json_format_and_its_short_form_agree():
    assert json_of("plugins") == json.loads(runner.invoke(app, ["plugins", "--json"]).output)
    refused = runner.invoke(app, ["metrics", "--format", "xml"])
    assert refused.exit_code == 2


# --- the default bench ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_bench(tmp_path_factory):
    """`srarena bench` as scripts/bench.sh runs it (every upscaler, the default metrics, the
    samples, an empty home: the deep techniques lack weights), then rerun at 60 columns."""
    out = tmp_path_factory.mktemp("bench") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SRARENA_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("SRARENA_OFFLINE", "1")
        patch.setenv("CUDA_VISIBLE_DEVICES", "")
        wide = render(80, "bench", "--out", str(out), "--device", "cpu")
        narrow = render(60, "bench", "--out", str(out), "--device", "cpu")
        verbose = render(80, "bench", "--out", str(out), "--device", "cpu", "--verbose")
    return out, wide, narrow, verbose


def _summary(output: str) -> list[str]:
    """The lines from "run folder" to "results" without the progress lines."""
    return [line for line in output.splitlines() if "━" not in line and " · " not in line]


def test_default_bench_says_once_what_it_could_not_run(default_bench):
    from srarena.store import Run

    out, wide, narrow, verbose = default_bench
    assert wide.exit_code == 0, wide.output
    skipped = Run.open(out).meta()["skipped"]
    assert len(skipped) > 5  # the study's techniques, the spandrel zoo, MANIQA
    names = {row["name"] for row in skipped}
    for result, width in ((wide, 80), (narrow, 60)):
        summary = _summary(result.output)
        assert summary[0].startswith("run folder:") and summary[-1].startswith("results:")
        assert len(summary) <= 50, "\n".join(summary)
        text = "\n".join(summary)
        assert text.count("Not run here") == 1
        block = text[text.index("Not run here"):text.index("results:")]
        assert len(block.splitlines()) <= (6 if width == 80 else 8), block
        assert "srarena weights fetch --all" in " ".join(block.split())
        words = re.split(r"[\s,()]+", text)  # whole names: apa is not apa-pretrained
        named_twice = [n for n in names if words.count(n) > 1]
        assert named_twice == [], named_twice
        check_fits(result.output, width, ["lanczos", "bicubic", "bilinear", "nearest"])
    every = " ".join(verbose.output.split())
    assert all(name in every for name in names)  # --verbose lists each with its fix
    assert "run `srarena weights fetch" in every and "maniqa-pipal`" in every


def test_the_report_of_the_default_bench_shows_nothing_failed(default_bench, tmp_path):
    from srarena.report import ReportOptions, VisualOptions, build_report

    out = default_bench[0]
    written = build_report(out, tmp_path / "report", ReportOptions(
        plots=False, n_resamples=0, visuals=VisualOptions(gallery=False, extremes=0)))
    summary = written.report.summary
    assert summary["failed"] == 0 and summary["not_run"] >= 5
    page = written.html.read_text()
    assert f'<b>{summary["not_run"]}</b> <a href="#problems">not run here</a>' in page
    assert '<span class="chip"><b>0</b> <a href="#problems">failed</a>' in page
    header = written.markdown.read_text().split("\n\n")[1]
    assert f"{summary['not_run']} components not run here" in header
    assert header.rstrip().endswith("0 failed.")


# --- failures, grouped ----------------------------------------------------------------------


def test_failures_are_grouped_by_component_and_reason_with_the_fix_from_the_sizes(tmp_path):
    out = tmp_path / "run"
    result = render(80, "bench", "-u", "bicubic", "-m", "psnr", "-m", "ssim", "--scale", "4",
                    "--out", str(out))
    assert result.exit_code == 1, result.output
    text = result.output
    live = [line for line in text.splitlines() if line.startswith("failed ")]
    assert len(live) == 2  # the first of each (metric, reason); 12 items failed
    summary = text[text.index("Failed: 12 items"):]
    for metric in ("psnr", "ssim"):
        assert summary.count(f"{metric}: 6 scores refused: SR size") == 1
    assert summary.count("fix: the HR is 8x the LR: use --scale 8") == 2


def test_failure_groups_ignore_numbers_and_derive_the_scale():
    rows = [{"kind": "score", "metric": "psnr", "upscaler": "bicubic", "dataset": "d",
             "image_id": f"i{n}", "status": "refused",
             "reason": f"SR size ({n}, {2 * n}) differs from HR size ({2 * n}, {4 * n})"}
            for n in (10, 20, 30)]
    rows.append({"kind": "output", "metric": "", "upscaler": "bicubic", "dataset": "d",
                 "image_id": "i1", "status": "failed", "reason": "RuntimeError: boom"})
    groups = notices.failure_groups(rows, scale=2)
    assert [(g.component, g.count) for g in groups] == [("psnr", 3), ("bicubic", 1)]
    assert groups[0].fix == "the HR is 4x the LR: use --scale 4"
    assert groups[0].headline().startswith("psnr: 3 scores refused: SR size (10, 20)")
    assert groups[0].detail() == "e.g. d/i10; fix: the HR is 4x the LR: use --scale 4"
    assert groups[1].headline() == "bicubic: 1 output failed at d/i1: RuntimeError: boom"
    assert notices.scale_fix("SR size (10, 10) differs from HR size (20, 30)", 2) == ""
    assert notices.scale_fix("SR size (10, 10) differs from HR size (10, 10)", 2) == ""


def test_causes_are_counted_with_the_one_command_that_fixes_them():
    rows = [{"kind": "upscaler", "name": f"zoo-{i}", "reason": "weights missing: x.pth",
             "fix": f"srarena weights fetch zoo-{i}"} for i in range(5)]
    rows += [{"kind": "metric", "name": "maniqa", "reason": "weights missing",
              "fix": "srarena weights fetch maniqa-pipal"},
             {"kind": "upscaler", "name": "dan-v1", "reason": "weights missing",
              "fix": "srarena weights add dan-v1 FILE..."},
             {"kind": "upscaler", "name": "apa", "reason": "needs a CUDA GPU",
              "fix": "run with --device cuda on a machine with a GPU"},
             {"kind": "dataset", "name": "folder:x", "reason": "no image files", "fix": ""}]
    causes, alone = notices.not_run(rows)
    assert [c.line() for c in causes] == [
        "5 upscalers, 1 metric need weights: srarena weights fetch --all",
        "1 upscaler (dan-v1) needs weights added by hand: see srarena weights list",
        "1 upscaler (apa) needs a CUDA GPU: --device cuda on a machine with one"]
    assert [row["name"] for row in alone] == ["folder:x"]
    assert notices.fix_hint("srarena weights fetch x") == "run `srarena weights fetch x`"
    assert notices.fix_hint("use --precision fp32") == "use --precision fp32"


# --- progress -------------------------------------------------------------------------------


def test_the_rate_is_over_the_last_items_not_since_the_start():
    rate = MovingRate(window=10.0)
    assert rate.rate() is None
    for t in (0.0, 1.0, 2.0):  # one item a second
        rate.add(t)
    assert rate.rate() == pytest.approx(1.0)
    for t in (100.0, 100.5, 101.0, 101.5):  # after a pause, two a second: the window forgets
        rate.add(t)
    assert rate.rate() == pytest.approx(2.0)
    slow = MovingRate(window=10.0)
    for t in (0.0, 30.0, 90.0):  # slower than the window: the last two items
        slow.add(t)
    assert slow.rate() == pytest.approx(1 / 60)
    assert pace_text(2.0, 14) == "2.00/s eta 0:07"
    assert pace_text(2.0, 0) == "2.00/s done" and pace_text(None, 3) == ""
    assert pace_text(0.01, 90) == "0.01/s eta 2:30:00"


# --- honest metric status -------------------------------------------------------------------


def _first_use_spec():
    """A metric whose library fetches its own files on first use (pyiqa's are such)."""
    return replace(get_registry().metric("psnr"), name="probe-first-use",
                   downloads_on_first_use=True)


def test_a_first_use_metric_is_not_ready_until_built_here(monkeypatch):
    from srarena.availability import (
        FIRST_USE_FIX,
        availability,
        first_use_done,
        record_first_use,
    )
    from srarena.cli.metrics import weights_state
    from srarena.status import Status

    spec = _first_use_spec()
    found = availability(spec)  # the tests run offline
    assert found.status is Status.NEEDS_WEIGHTS and found.fix == FIRST_USE_FIX
    assert "downloads them on first use" in found.reason
    assert weights_state(spec) == "on first use"
    monkeypatch.delenv("SRARENA_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert availability(spec).ok  # online it can run: it downloads on first use
    record_first_use(spec)
    assert first_use_done(spec) and weights_state(spec) == "cached"
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    assert availability(spec).ok  # offline too, now that its files are cached
    assert not first_use_done(replace(spec, version="other"))  # a new version: again


def test_opening_a_first_use_metric_notes_it_ready(monkeypatch):
    from srarena.availability import first_use_done
    from srarena.engine.instances import metric_context, open_metric

    spec = _first_use_spec()
    assert not first_use_done(spec)
    open_metric(spec, metric_context(spec, "cpu", 2))
    assert first_use_done(spec)


def test_offline_a_first_use_metric_is_skipped_up_front_not_failed_per_item(
        fake_plugin, tmp_path):
    from srarena.availability import FIRST_USE_FIX
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench

    fake_plugin.metrics["fake-mean"] = replace(fake_plugin.metrics["fake-mean"],
                                               downloads_on_first_use=True)
    summary = Bench(fake_plugin, BenchConfig(upscalers=["fake-x2"], datasets=["noise:3"],
                                             metrics=["fake-mean"], scale=2),
                    tmp_path / "run").run()
    assert summary.failures == [] and summary.scores == 0
    assert summary.skipped == [{"kind": "metric", "name": "fake-mean",
                                "reason": summary.skipped[0]["reason"], "fix": FIRST_USE_FIX,
                                "failed": False}]


def test_pyiqa_metrics_that_need_no_files_are_ready_offline():
    registry = get_registry()
    if "pyiqa:psnr" not in registry.metrics:
        pytest.skip("pyiqa's metrics are not registered here")
    rows = {row["name"]: row for row in json_of("metrics", "pyiqa:*")}
    assert rows["pyiqa:psnr"]["weights_state"] == "none"
    assert rows["pyiqa:musiq"]["weights_state"] == "on first use"
    assert not rows["pyiqa:musiq"]["ready"]
    table = " ".join(render(80, "metrics", "pyiqa:mus*").output.split())
    assert "pyiqa:musiq" in table and "needs weights" in table
