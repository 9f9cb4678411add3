"""pyiqa's metrics as ``pyiqa:<name>``: the static table, registration, offline use, safety."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from srarena.components import Context, InputRefused
from srarena.metrics import pyiqa_metrics as P
from srarena.plugins import get_registry

HAS_PYIQA = importlib.util.find_spec("pyiqa") is not None
needs_pyiqa = pytest.mark.skipif(not HAS_PYIQA, reason="needs pyiqa (srarena[iqa])")


def cli() -> tuple[CliRunner, object]:
    from srarena.cli import _install_commands, app

    if not any(command.name == "metrics" for command in app.registered_commands):
        _install_commands()
    return CliRunner(), app


def build(name: str):
    spec = get_registry().metric(name)
    return spec, spec.load()(spec, Context(device="cpu", options=dict(spec.options)))


def pictures(count: int, shape=(64, 64, 3), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(count)]


# --- the table and registration ----------------------------------------------------------

@needs_pyiqa
def test_shipped_table_matches_the_installed_pyiqa():
    import pyiqa

    shipped = P.table()
    if shipped["pyiqa_version"] != pyiqa.__version__:
        pytest.skip(f"table made from pyiqa {shipped['pyiqa_version']}, pyiqa "
                    f"{pyiqa.__version__} is installed: regenerate with "
                    "`python -m srarena.metrics.pyiqa_metrics`")
    assert P.generate_table() == shipped


def test_every_per_image_pyiqa_metric_is_registered_with_its_mode_and_direction():
    registry = get_registry()
    rows = P.table()["metrics"]
    assert len(rows) > 100
    for row in rows:
        if not row["per_image"]:
            assert row["name"] not in registry.metrics, row
            continue
        spec = registry.metric(row["name"])
        assert spec.kind == ("full-reference" if row["mode"] == "FR" else "no-reference")
        assert spec.higher_is_better is not row["lower_better"]
        assert spec.install_hint == "pip install 'srarena[iqa]'" and "pyiqa" in spec.requires
    lpips, musiq, niqe = (registry.metric(f"pyiqa:{n}") for n in ("lpips", "musiq", "niqe"))
    assert (lpips.kind, lpips.direction) == ("full-reference", "lower")
    assert (musiq.kind, musiq.direction) == ("no-reference", "higher")
    assert niqe.direction == "lower"
    assert registry.metric("pyiqa:lpips-plus").options["pyiqa_name"] == "lpips+"
    assert "pyiqa:fid" not in registry.metrics


def test_pyiqa_maniqa_names_use_srarena_s_maniqa_and_its_weights():
    registry = get_registry()
    for name, set_name in (("pyiqa:maniqa", "maniqa-koniq"), ("pyiqa:maniqa-kadid", "maniqa-kadid"),
                           ("pyiqa:maniqa-pipal", "maniqa-pipal"), ("maniqa", "maniqa-pipal")):
        spec = registry.metric(name)
        assert spec.factory == "srarena.metrics.maniqa:Maniqa" and spec.weights.name == set_name
    assert registry.metric("maniqa").options["protocol"] == "study"
    assert registry.metric("pyiqa:maniqa").options["protocol"] == "pyiqa"


def test_listing_metrics_imports_neither_torch_nor_pyiqa():
    code = ("import sys\nfrom srarena.cli import main\n"
            "sys.argv = ['srarena', 'metrics', '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('torch', 'pyiqa', 'timm') if m in sys.modules], file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "SRARENA_PLUGINS": ""}, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    names = {row["name"] for row in json.loads(done.stdout)}
    assert {"maniqa", "maniqa-pyiqa", "pyiqa:lpips", "psnr"} <= names


# --- srarena metrics -------------------------------------------------------------------------

def test_metrics_command_lists_kind_direction_and_weights():
    runner, app = cli()
    result = runner.invoke(app, ["metrics", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    maniqa = rows["maniqa"]
    assert (maniqa["kind"], maniqa["direction"], maniqa["weights"]) == (
        "no-reference", "higher", "maniqa-pipal")
    if HAS_PYIQA:
        assert maniqa["status"] == "needs weights"
        assert maniqa["fix"] == "srarena weights fetch maniqa-pipal"
    dists = rows["pyiqa:dists"]  # nothing cached, offline (the tests' setting)
    assert (dists["weights_state"], dists["ready"]) == ("on first use", False)
    if HAS_PYIQA:
        assert dists["status"] == "needs weights" and "network allowed" in dists["fix"]
    assert rows["psnr"]["status"] == "ok" and rows["psnr"]["weights_state"] == "none"
    assert rows["psnr"]["ready"] and rows["pyiqa:psnr"]["weights_state"] == "none"
    table = runner.invoke(app, ["metrics", "maniqa*"])
    assert table.exit_code == 0 and "maniqa-koniq" in table.output and "psnr" not in table.output
    assert "srarena weights fetch maniqa-koniq" in table.output or not HAS_PYIQA
    assert runner.invoke(app, ["metrics", "nothing-like-this"]).exit_code == 1


def test_without_pyiqa_metrics_are_listed_as_needing_the_extra(monkeypatch):
    from srarena.availability import availability
    from srarena.cli.metrics import metric_rows

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("pyiqa", "timm") else real(name, *a))
    rows = {row["name"]: row for row in metric_rows()}
    for name in ("maniqa", "maniqa-pyiqa", "pyiqa:lpips", "pyiqa:musiq"):
        assert rows[name]["status"] == "needs extra"
        assert rows[name]["fix"] == "pip install 'srarena[iqa]'"
        assert "pyiqa" in rows[name]["missing_requirements"]
    assert rows["psnr"]["status"] == "ok"
    found = availability(get_registry().metric("maniqa"))  # what the bench checks
    assert "pyiqa" in found.reason and found.fix == "pip install 'srarena[iqa]'"


# --- using pyiqa metrics (no downloads) ------------------------------------------------------

@needs_pyiqa
def test_pyiqa_psnr_scores_batches_against_references():
    spec, metric = build("pyiqa:psnr")
    images, refs = pictures(3, seed=1), pictures(3, seed=2)
    refs[2] = np.clip(images[2] + 0.01, 0, 1)
    scores = metric.score(images, refs)
    expected = [10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))
                for a, b in zip(images, refs, strict=True)]
    np.testing.assert_allclose(scores, expected, rtol=1e-4)
    with pytest.raises(InputRefused, match="differs from HR size"):
        metric.score(images[:1], pictures(1, shape=(32, 64, 3)))


@needs_pyiqa
def test_pyiqa_no_reference_metric_runs_mixed_shapes_in_order():
    spec, metric = build("pyiqa:entropy")
    mixed = [pictures(1, (40, 48, 3), 1)[0], np.full((50, 50, 3), 0.5, np.float32),
             pictures(1, (40, 48, 3), 2)[0]]
    scores = metric.score(mixed)
    alone = [metric.score([image])[0] for image in mixed]
    np.testing.assert_allclose(scores, alone, rtol=1e-6)
    assert scores[1] == pytest.approx(0.0, abs=1e-6) and scores[0] > 5  # flat vs noise


@needs_pyiqa
def test_offline_a_missing_pyiqa_file_fails_at_once_with_its_name(tmp_path, monkeypatch,
                                                                   isolated_home):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    spec = get_registry().metric("pyiqa:niqe")
    start = time.perf_counter()
    from srarena.weights import WeightsMissing

    with pytest.raises(WeightsMissing) as caught:
        spec.load()(spec, Context(options=dict(spec.options)))
    assert time.perf_counter() - start < 10
    message = str(caught.value)
    assert "niqe_modelparameters.mat" in message and str(isolated_home / "pyiqa") in message
    assert "huggingface.co/chaofengc/IQA-PyTorch-Weights" in message


@needs_pyiqa
def test_torch_hub_downloads_are_blocked_offline_too(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    from srarena.weights import WeightsMissing

    spec = get_registry().metric("pyiqa:lpips")
    with pytest.raises(WeightsMissing, match=r"alexnet.*\.pth"):
        spec.load()(spec, Context(options=dict(spec.options)))


class Payload:
    """Stands for code a checkpoint could smuggle in: never to be unpickled."""


@needs_pyiqa
def test_pyiqa_checkpoints_are_loaded_weights_only(monkeypatch, isolated_home):
    import pickle

    import torch

    folder = isolated_home / "pyiqa"
    folder.mkdir(parents=True)
    torch.save((torch.zeros(3), Payload()), folder / "brisque_svm_weights.pth")
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # the guard overrides it
    spec = get_registry().metric("pyiqa:brisque")
    with pytest.raises(pickle.UnpicklingError, match="Payload"):
        spec.load()(spec, Context(options=dict(spec.options)))
    assert os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"  # restored afterwards


def test_offline_clip_and_hugging_face_misses_become_weights_missing():
    from srarena.weights import WeightsMissing

    url = "https://openaipublic.azureedge.net/clip/models/abc/ViT-B-32.pt"
    with pytest.raises(WeightsMissing, match="ViT-B-32.pt.*offline mode"):
        P._guarded_urllib("pyiqa:afine_fr").request.urlopen(url)

    class LocalEntryNotFoundError(Exception):
        """Named as huggingface_hub's error for a file absent from its cache."""

    converted = P._offline_hub_error("pyiqa:topiq_fr", LocalEntryNotFoundError("not cached"))
    assert isinstance(converted, WeightsMissing) and "not cached" in str(converted)
    assert P._offline_hub_error("pyiqa:topiq_fr", ValueError("other")) is None
