"""``srarena replicate dan-v1 --benchmark div2krk-x4`` and ``srarena replicate --study --only
DAN`` end to end on tiny data with the seeded official-layout checkpoints of the golden
fixtures (reduced width and depth, so the values are far from the published ones: the
verdict is "not reproduced" and the exit status 1).

The reduced networks are not the official architecture, so the weight sets' validator
(which checks the official shapes) is switched off here; ``-o`` gives the network settings.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import srarena
from srarena import plugins

ARCH = ("nf=16", "nb=2", "loop=4")


def _png(path: Path, seed: int, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    base = np.stack([0.5 + 0.4 * np.sin(xx / (3 + c) + seed) * np.cos(yy / 4) for c in range(3)],
                    -1)
    noise = np.random.default_rng(seed).normal(0, 0.05, base.shape)
    Image.fromarray((np.clip(base + noise, 0, 1) * 255).round().astype(np.uint8)).save(path)


def _mat(path: Path, size: int) -> None:
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"Kernel": np.full((size, size), 1.0 / size**2)})


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    monkeypatch.setattr("srarena_dan.checkpoint._validate", lambda *args: [])
    plugins.get_registry(refresh=True)
    return tmp_path


def _invoke(*args: str):
    from srarena.cli import _install_commands, app

    _install_commands()
    return CliRunner().invoke(app, ["replicate", *args], env={"COLUMNS": "250"})


def _options(name: str) -> list[str]:
    return [arg for pair in ARCH for arg in ("-o", f"{name}.{pair}")]


def test_dan_v1_on_div2krk_x4(env, golden):
    from srarena.analysis import replication
    from srarena.datasets import zoo

    folder = env / "DIV2KRK_public" / "DIV2KRK"
    for i in (1, 2):
        _png(folder / "gt" / f"img_{i}_gt.png", i, (40, 48))
        _png(folder / "lr_x2" / f"im_{i}.png", 10 + i, (20, 24))
        _png(folder / "lr_x4" / f"im_{i}.png", 20 + i, (10, 12))
        _mat(folder / "gt_k_x2" / f"kernel_{i}.mat", 11)
        _mat(folder / "gt_k_x4" / f"kernel_{i}.mat", 31)
    zoo.add(zoo.DIV2KRK, folder.parent)  # a folder downloaded by hand
    weights = golden("v1_s2_x4").write(env / "weights")
    runs = env / "runs"
    result = _invoke("dan-v1", "--benchmark", "div2krk-x4", "--out", str(runs), "--device", "cpu",
                     "--weights", str(next(iter(weights.values())).parent),
                     *_options("dan-v1-setting2"))
    assert result.exit_code == 1, result.output
    rows = {r["metric"]: r for r in replication.read(runs) if r["benchmark"] == "div2krk-x4"}
    assert set(rows) == {"psnr", "ssim"}
    run = runs / "dan-v1-setting2--div2krk-x4"
    scores = srarena.open_run(run).scores()
    for metric, row in rows.items():
        assert row["upscaler"] == "dan-v1-setting2" and row["ours_n"] == 2
        assert row["ours"] == pytest.approx(scores[scores["metric"] == metric]["value"].mean())
        assert row["verdict"] == "not reproduced"
    assert rows["psnr"]["value"] == 27.55 and "greatlog/DAN" in rows["psnr"]["source"]
    assert "not reproduced" in result.output and "missing" in result.output


def test_study_with_dan(env, golden, monkeypatch):
    from srarena.analysis import replication
    from srarena.datasets import zoo

    tree = env / "kaggle"
    for k, (dataset, domain) in enumerate(zoo.STUDY_DATASETS.items()):
        for i in range(2):
            _png(tree / domain / dataset / f"low_{i:03d}.png", k * 10 + i, (24, 24))
    monkeypatch.setitem(sys.modules, "kagglehub",
                        types.SimpleNamespace(dataset_download=lambda handle: str(tree)))
    monkeypatch.setitem(zoo.ENTRIES, "study", dataclasses.replace(
        zoo.STUDY, counts=dict.fromkeys(zoo.STUDY_DATASETS, 2)))
    monkeypatch.delenv("SRARENA_OFFLINE")  # the fake kagglehub is the only network
    weights = {**golden("v1_s1_x2").write(env / "weights"),
               **golden("v1_s1_x4").write(env / "weights")}
    runs = env / "runs"
    result = _invoke("--study", "--only", "DAN", "--out", str(runs), "--device", "cpu",
                     "--weights", str(next(iter(weights.values())).parent), *_options("dan-v1"))
    assert result.exit_code == 1, result.output
    rows = replication.read(runs)
    assert len(rows) == 14 * 2 and {r["technique"] for r in rows} == {"DAN"}
    niqe = [r for r in rows if r["metric"] == "niqe-study"]
    scores = srarena.open_run(runs / "study").scores()
    assert len(scores[scores["metric"] == "niqe-study"]) == 28
    for row in niqe:
        part = scores[(scores["metric"] == "niqe-study") & (scores["dataset"] == row["dataset"])]
        assert row["ours"] == pytest.approx(part["value"].mean()) and row["ours_n"] == 2
        assert row["published_n"] == 100 and row["tolerance"] > 0
        assert row["verdict"] in ("reproduced", "not reproduced")
    assert any(r["verdict"] == "not reproduced" for r in niqe)
    maniqa = [r for r in rows if r["metric"] == "maniqa"]
    if not {r["verdict"] for r in maniqa} <= {"not run"}:  # MANIQA's weights installed here
        assert all(r["ours_n"] == 2 for r in maniqa)
    assert (runs / "study" / "replication.json").is_file()
    study = replication.study_published(["DAN"])
    assert {r.dataset for r in study} == set(zoo.STUDY_DATASETS)
