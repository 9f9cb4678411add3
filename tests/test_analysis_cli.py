"""``srarena analyze`` and ``srarena import-scores``: outputs, formats, plots, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from srarena.cli import analyze as analyze_cmd


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    analyze_cmd.register(app)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def test_study_terminal_tables(cli):
    result = cli("analyze", "--study", "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("niqe-study", "maniqa", "Best and worst technique per dataset",
                 "Best and worst (dataset, technique) mean per domain",
                 "I% of APA over MoESR", "I% of MoESR over DAN", "I% of DAN over MoESR",
                 "|C_B|", "Kendall's τ", "-0.7342", "0.3069", "Friedman", "Verdict"):
        assert text in out, text
    assert "mean (8 datasets)" in out and "5.40" in out  # NIQE: APA over MoESR
    assert "mean (9 datasets)" in out and "3.25" in out  # MANIQA: MoESR over DAN


def test_study_json_is_complete(cli):
    result = cli("analyze", "--study", "--format", "json", "--metric", "maniqa",
                 "--bootstrap", "0", "--no-stats")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["directions"] == {"maniqa": "higher"}
    per_dataset = {r["dataset"]: r["best"] for r in doc["tables"]["maniqa/per_dataset"]}
    assert per_dataset["isaid"] == "DAN" and per_dataset["catsfaces"] == "MoESR"
    assert "maniqa/pairwise" not in doc["tables"]
    assert doc["tables"]["verdict"][0]["best"] == "MoESR"


def test_markdown_and_csv(cli, tmp_path):
    result = cli("analyze", "--study", "-m", "niqe-study", "-f", "markdown", "--bootstrap", "0")
    assert result.exit_code == 0
    assert "## niqe-study/per_dataset" in result.output
    assert "| dataset |" in result.output or "| domain | dataset |" in result.output
    result = cli("analyze", "--study", "-m", "niqe-study", "-f", "csv", "--bootstrap", "0",
                 "--out", str(tmp_path / "tables"))
    assert result.exit_code == 0
    table = pd.read_csv(tmp_path / "tables" / "niqe-study__improvement_means.csv")
    assert table.set_index("winner").loc["APA", "mean_improvement_pct"] == pytest.approx(
        5.402584, abs=1e-6)
    assert (tmp_path / "tables" / "niqe-study__nemenyi.csv").is_file()


def test_plots_are_written(cli, tmp_path):
    result = cli("analyze", "--study", "-m", "maniqa", "-f", "json", "--bootstrap", "0",
                 "--plots", str(tmp_path / "plots"))
    assert result.exit_code == 0, result.output
    for stem in ("maniqa-domains", "maniqa-cd", "maniqa-kendall"):
        png = tmp_path / "plots" / f"{stem}.png"
        svg = tmp_path / "plots" / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in svg.read_bytes()[:2000]


def test_import_csv_then_analyze(cli, tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for dataset in ("s1", "s2", "s3"):
        base = rng.normal(20, 1, 12)
        for technique, shift in (("fast", 0.0), ("slow", 1.0), ("gan", 2.0)):
            for i, v in enumerate(base + shift):
                rows.append({"domain": "Aerial", "dataset": dataset, "technique": technique,
                             "image": f"im{i}", "metric": "mylower", "value": v})
    csv = tmp_path / "scores.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    db = tmp_path / "imported.sqlite"
    result = cli("import-scores", str(csv), "--to", str(db), "--lower-better", "mylower")
    assert result.exit_code == 0, result.output
    assert "imported 108 scores" in result.output
    result = cli("analyze", str(db), "-f", "json", "--bootstrap", "100")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["directions"] == {"mylower": "lower"}  # recorded in the database at import
    assert {r["best"] for r in doc["tables"]["mylower/per_dataset"]} == {"fast"}
    friedman = doc["tables"]["mylower/friedman"][0]
    assert "only 3 datasets" in friedman["note"]
    # the same file analysed directly needs the direction on the command line
    result = cli("analyze", str(csv), "-f", "json", "--lower-better", "mylower")
    assert json.loads(result.output)["tables"]["mylower/ranking"][0]["upscaler"] == "fast"


def test_wide_csv(cli, tmp_path):
    frame = pd.DataFrame({"domain": "D", "dataset": "s", "technique": ["a", "a", "b", "b"],
                          "image": ["1", "2", "1", "2"], "maniqa": [0.5, 0.6, 0.4, 0.3],
                          "niqe-study": [10.0, 11.0, 12.0, 13.0]})
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    result = cli("analyze", str(path), "-f", "json", "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["directions"] == {"maniqa": "higher", "niqe-study": "lower"}
    pairwise = doc["tables"]["maniqa/pairwise"][0]
    assert "too little data" in pairwise["note"]


def test_errors_are_plain(cli, tmp_path):
    result = cli("analyze")
    assert result.exit_code == 2 and "--study" in result.output
    result = cli("analyze", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "error:" in result.output
    result = cli("analyze", "--study", "-m", "psnr")
    assert result.exit_code == 2 and "no scores for metric" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("dataset,value\ns,1\n", encoding="utf-8")
    result = cli("import-scores", str(bad), "--to", str(tmp_path / "x.sqlite"))
    assert result.exit_code == 2 and "lacks column" in result.output
    result = cli("analyze", "--study", "--pair", "MoESR")
    assert result.exit_code != 0


def test_pair_option(cli):
    result = cli("analyze", "--study", "-m", "maniqa", "-f", "json", "--bootstrap", "0",
                 "--no-stats", "--pair", "BlindSR,DAN")
    doc = json.loads(result.output)
    winners = {r["winner"] for r in doc["tables"]["maniqa/improvement_means"]}
    assert winners == {"BlindSR", "DAN"}


def test_command_module_is_light():
    code = ("import sys, srarena.cli.analyze; "
            "print(any(m in sys.modules for m in ('pandas', 'scipy', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_detail_lists_every_pair(cli):
    result = cli("analyze", "--study", "-m", "maniqa", "--detail", "--bootstrap", "0")
    assert result.exit_code == 0
    assert "All pairwise per-image tests" in result.output
    assert result.output.count("mann-whitney") >= 14 * 7  # 7 of 10 pairs involve a GAN
