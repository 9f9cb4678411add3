"""The commands end to end: bench on a folder of good, awkward and broken files; upscale;
score; export; and the Python API."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import srarena
from srarena.cli import _install_commands, app

_install_commands()
runner = CliRunner()


def make_folder(root):
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)).save(root / "grey.png")
    Image.fromarray(rng.integers(0, 256, (24, 24, 4), dtype=np.uint8)).save(root / "alpha.png")
    sixteen = (rng.integers(0, 65536, (24, 24), dtype=np.uint16))
    Image.fromarray(sixteen).save(root / "deep.png")
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    data = (root / "rgb.png").read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / ".hidden.png").write_bytes(data)
    (root / "notes.txt").write_text("ignored")


def test_bench_on_a_folder_with_broken_and_awkward_images(tmp_path):
    make_folder(tmp_path / "mixed")
    out = tmp_path / "run"
    result = runner.invoke(app, ["bench", "-u", "bicubic", "-d", str(tmp_path / "mixed"),
                                 "-m", "psnr", "--scale", "2", "--out", str(out)])
    assert result.exit_code == 1, result.output  # broken inputs are failures
    run = srarena.open_run(out)
    inputs = run.inputs().set_index("image_id")
    assert set(inputs.index) == {"rgb", "grey", "alpha", "deep", "empty", "text", "truncated"}
    good = inputs[inputs.status == "ok"]
    assert set(good.index) == {"rgb", "grey", "alpha", "deep"}
    bad = inputs[inputs.status == "failed"]
    assert bad.reason.str.len().gt(0).all()
    outputs = run.outputs()
    assert set(outputs.image_id) == set(good.index) and (outputs.status == "ok").all()
    assert "Failed: 3 items" in result.output and "mixed/truncated" in result.output


def test_upscale_writes_png(tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(np.full((10, 12, 3), 128, np.uint8)).save(source)
    result = runner.invoke(app, ["upscale", "-u", "bicubic", "--scale", "4", str(source),
                                 str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out.png").size == (48, 40)
    result = runner.invoke(app, ["upscale", "-u", "nearest", "--scale", "2", str(source),
                                 str(source), str(tmp_path / "folder")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "folder" / "in_x2.png").is_file()


def test_score_json_and_refusal(tmp_path):
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(hr).save(tmp_path / "a.png")
    Image.fromarray(hr).save(tmp_path / "ref.png")
    Image.fromarray(hr[:8, :8]).save(tmp_path / "tiny.png")
    result = runner.invoke(app, ["score", "-m", "psnr", "-m", "ssim", str(tmp_path / "a.png"),
                                 "-r", str(tmp_path / "ref.png"), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["metric"]: r["value"] for r in rows} == {"psnr": float("inf"), "ssim": 1.0}
    result = runner.invoke(app, ["score", "-m", "ssim", str(tmp_path / "tiny.png"),
                                 "-r", str(tmp_path / "tiny.png"), "--format", "json"])
    assert result.exit_code == 1
    (row,) = json.loads(result.stdout)
    assert row["status"] == "refused" and "11" in row["reason"]


def test_export_csv_and_parquet_and_open_run(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["bench", "-u", "nearest", "-m", "psnr", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Leaderboard" in result.output
    import pandas as pd

    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        result = runner.invoke(app, ["export", str(out), "--format", fmt])
        assert result.exit_code == 0, result.output
        scores = reader(out / "export" / f"scores.{fmt}")
        assert len(scores) == 6 and set(scores.metric) == {"psnr"}
    frame = srarena.open_run(out).scores()
    # readers leave no SQLite -wal/-shm files beside the database
    assert not list(out.glob("results.sqlite-*"))
    assert list(frame.columns[:7]) == ["domain", "dataset", "upscaler", "mode", "image_id",
                                       "metric", "value"]
    assert frame.domain.nunique() >= 4


def test_unknown_names_are_usage_errors(tmp_path):
    result = runner.invoke(app, ["bench", "-u", "no-such", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no upscaler named 'no-such'" in result.output


def test_options_are_checked_against_the_spec_before_anything_runs(tmp_path):
    """A misspelt key or an upscaler the run leaves out is an error, not a silent default."""
    out = tmp_path / "r"
    typo = runner.invoke(app, ["bench", "-u", "bicubic", "-m", "psnr", "--out", str(out),
                               "-o", "bicubic.filtre=lanczos"])
    assert typo.exit_code == 2 and not out.exists()
    assert "unknown option filtre; bicubic accepts: none" in typo.output
    elsewhere = runner.invoke(app, ["bench", "-u", "bicubic", "-m", "psnr", "--out", str(out),
                                    "-o", "nearest.filter=box"])
    assert elsewhere.exit_code == 2 and "nearest is not among this run's upscalers" in (
        elsewhere.output)
    for value in ("lanczos", "nonsense"):  # the filter is what bicubic is: -u lanczos
        fixed = runner.invoke(app, ["bench", "-u", "bicubic", "-m", "psnr", "--out", str(out),
                                    "-o", f"bicubic.filter={value}"])
        assert fixed.exit_code == 2 and "filter is what bicubic is" in fixed.output
    assert not out.exists()
    good = runner.invoke(app, ["bench", "-u", "bicubic", "-m", "psnr", "--out", str(out)])
    assert good.exit_code == 0, good.output


def test_unreadable_datasets_are_reported_not_raised(tmp_path):
    """A missing folder is a usage error before the run; a folder without images is skipped
    with its reason while the other datasets run (not a failure: exit status 0)."""
    out = tmp_path / "run"
    missing = runner.invoke(app, ["bench", "-u", "nearest", "-m", "psnr", "--out", str(out),
                                  "-d", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nor an existing folder" in missing.output
    assert not out.exists()
    (tmp_path / "empty").mkdir()
    partly = runner.invoke(app, ["bench", "-u", "nearest", "-m", "psnr", "--out", str(out),
                                 "-d", str(tmp_path / "empty"), "-d", "samples"])
    assert partly.exit_code == 0, partly.output
    said = " ".join(partly.output.split())  # the summary wraps to the terminal's width
    assert "skipped dataset" in said and "no image files" in said
    scores = srarena.open_run(out).scores()
    assert len(scores) == 6 and set(scores.metric) == {"psnr"}


def test_wrong_names_and_scales_are_one_line_errors(tmp_path):
    """`srarena` itself turns a wrong name or an unreachable scale into `error: …`, exit 2."""
    import subprocess
    import sys

    picture = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(picture)
    cases = [
        (["upscale", "-u", "no-such", str(picture), str(tmp_path / "o.png")],
         "no upscaler named 'no-such'"),
        (["score", "-m", "no-such", str(picture)], "no metric named 'no-such'"),
        (["upscale", "-u", "bicubic", "--scale", "3", str(picture), str(tmp_path / "o.png")],
         None),
    ]
    for args, message in cases:
        done = subprocess.run([sys.executable, "-m", "srarena", *args], capture_output=True,
                              text=True, timeout=120)
        if message is None:
            assert done.returncode == 0, done.stderr
            continue
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"error: {message}")


def test_plugins_table_lists_what_works_first():
    """A plugin with a long list (a zoo needing weights) shows its ready components before
    the cut, so that a model the user added is not hidden behind "… and N more"."""
    from srarena.cli.plugins_cmd import LISTED, _registers_text

    components = [{"kind": "upscaler", "name": f"zoo-{i}", "status": "needs weights"}
                  for i in range(LISTED + 2)]
    components.append({"kind": "upscaler", "name": "mine", "status": "ok"})
    components.append({"kind": "importer", "name": "spandrel", "status": "ok"})
    text = _registers_text(components)
    assert text.splitlines() == [
        "upscalers: mine, " + ", ".join(f"zoo-{i}" for i in range(LISTED - 1))
        + " … and 3 more",
        "importers: spandrel"]


def test_version_answers_and_a_bare_call_still_shows_the_help():
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output == f"srarena {srarena.__version__}\n"
    bare = runner.invoke(app, [])
    assert "Usage: srarena" in bare.output and "Commands" in bare.output
