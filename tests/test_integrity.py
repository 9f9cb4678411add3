"""One run folder, one truth: pinned settings, a lock, files checked by their sha256 before
they are reused, every input kept apart, and environment errors as one line with their exit
status (issue 28's reproductions, each as a test)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import srarena
from srarena.cli import main
from srarena.engine.config import BenchConfig
from srarena.engine.runner import Bench
from srarena.store import MAX_NAME, Store, safe_name

SAMPLES = Path(srarena.__file__).parent / "datasets" / "data" / "samples"


def srarena_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``srarena ARGS`` as the console script runs it: exit status and everything printed."""
    monkeypatch.setattr(sys, "argv", ["srarena", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    out = capsys.readouterr()
    return stopped.value.code or 0, out.out + out.err


def folder_of_images(root: Path, names: dict[str, int], size: int = 12) -> Path:
    """Images named as given, each filled with its own seed's noise."""
    root.mkdir(parents=True, exist_ok=True)
    for name, seed in names.items():
        rng = np.random.default_rng(seed)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / name)
    return root


@pytest.fixture
def small(tmp_path) -> Path:
    """Six 64x64 noise images: quick runs whose outputs NIQE can score (at x4 and up)."""
    return folder_of_images(tmp_path / "small", {f"img{i}.png": i for i in range(6)}, 64)


def ok_rows(folder: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(folder / "results.sqlite") as db:
        return db.execute("SELECT output_key, image_id, path, sha256 FROM outputs "
                          "WHERE status = 'ok' ORDER BY output_key").fetchall()


def assert_every_file_is_its_row(folder: Path) -> None:
    rows = ok_rows(folder)
    assert rows
    for _, image_id, path, sha in rows:
        data = (folder / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha, f"{image_id}: {path} is not its row's"
    assert len({path for _, _, path, _ in rows}) == len(rows), "two rows share one file"


def png_of(folder: Path, image_id: str) -> np.ndarray:
    ((path,),) = sqlite3.connect(folder / "results.sqlite").execute(
        "SELECT path FROM outputs WHERE image_id = ? AND status = 'ok'", (image_id,)).fetchall()
    return np.asarray(Image.open(folder / path))


# --- a folder holds one configuration ------------------------------------------------------
def test_a_folder_keeps_its_scale_the_three_step_sequence(monkeypatch, capsys, tmp_path,
                                                          small):
    out = str(tmp_path / "mix")
    base = ["bench", "-u", "bicubic", "-d", str(small), "-m", "niqe", "--out", out]
    code, _ = srarena_main(monkeypatch, capsys, *base, "--scale", "4")
    assert code == 0
    x4 = {i: png_of(tmp_path / "mix", i) for i in ("img0", "img3")}
    code, text = srarena_main(monkeypatch, capsys, *base, "--scale", "2")
    assert code == 2
    assert "scale is 4 in this folder, 2 now" in text and "--out" in text
    assert "Traceback" not in text
    code, text = srarena_main(monkeypatch, capsys, *base, "--scale", "4")
    assert code == 0 and "computed 0 outputs, reused 6" in text
    for image_id, image in x4.items():  # still the x4 pictures
        np.testing.assert_array_equal(png_of(tmp_path / "mix", image_id), image)
    assert_every_file_is_its_row(tmp_path / "mix")


def test_other_options_weights_or_metric_versions_are_refused(fake_plugin, tmp_path):
    from dataclasses import replace

    from srarena.engine.pinned import RunConflict

    config = BenchConfig(upscalers=["fake-x2"], datasets=["noise:2"], metrics=["fake-mean"],
                         scale=2)
    Bench(fake_plugin, config, tmp_path / "run").run()
    for change in ({"seed": 1}, {"precision": "fp16"}, {"tile": 4}):
        other = BenchConfig(**{**config.__dict__, **change})
        with pytest.raises(RunConflict, match=next(iter(change))):
            Bench(fake_plugin, other, tmp_path / "run").run()
    spec = fake_plugin.metrics["fake-mean"]
    fake_plugin.metrics["fake-mean"] = replace(spec, version="2")
    with pytest.raises(RunConflict, match="metric fake-mean: version"):
        Bench(fake_plugin, config, tmp_path / "run").run()
    fake_plugin.metrics["fake-mean"] = spec
    more = BenchConfig(**{**config.__dict__, "upscalers": ["fake-x2", "fake-slow"],
                          "datasets": ["noise:3"]})
    summary = Bench(fake_plugin, more, tmp_path / "run").run()  # extending is allowed
    assert summary.reused == 2 and summary.computed == 4
    assert_every_file_is_its_row(tmp_path / "run")


def test_a_folder_made_by_an_older_srarena_is_pinned_from_its_outputs(fake_plugin, tmp_path):
    from srarena.engine.pinned import RunConflict

    config = BenchConfig(upscalers=["fake-x2"], datasets=["noise:2"], metrics=[], scale=2)
    Bench(fake_plugin, config, tmp_path / "run").run()
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'pinned'")  # as before pins existed
        db.execute("UPDATE outputs SET sha256 = NULL")
    again = Bench(fake_plugin, config, tmp_path / "run").run()
    assert again.reused == 2 and again.computed == 0  # adopted, their sha256 recorded now
    assert all(sha for *_, sha in ok_rows(tmp_path / "run"))
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'pinned'")
        db.execute("UPDATE outputs SET scale = 4 WHERE image_id = 'img000'")  # a mixed folder
    with pytest.raises(RunConflict, match="several settings"):
        Bench(fake_plugin, config, tmp_path / "run").run()


# --- reuse trusts no file -------------------------------------------------------------------
def test_a_missing_or_changed_output_is_computed_again(fake_plugin, tmp_path):
    config = BenchConfig(upscalers=["fake-x2"], datasets=["noise:3"], metrics=["fake-mean"],
                         scale=2)
    Bench(fake_plugin, config, tmp_path / "run").run()
    before = {image_id: png for _, image_id, png, _ in ok_rows(tmp_path / "run")}
    original = (tmp_path / "run" / before["img001"]).read_bytes()
    (tmp_path / "run" / before["img000"]).unlink()
    Image.new("RGB", (16, 16), "red").save(tmp_path / "run" / before["img001"])
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    assert (summary.computed, summary.reused, summary.recomputed) == (2, 1, 2)
    assert summary.scores == 2  # the scores of the redone outputs, from the new files
    assert (tmp_path / "run" / before["img001"]).read_bytes() == original
    assert_every_file_is_its_row(tmp_path / "run")


def test_an_input_that_changed_replaces_its_old_output(tmp_path, monkeypatch, capsys):
    images = folder_of_images(tmp_path / "in", {"a.png": 1, "b.png": 2})
    args = ["bench", "-u", "nearest", "-d", str(images), "-m", "psnr", "--scale", "2",
            "--out", str(tmp_path / "run")]
    assert srarena_main(monkeypatch, capsys, *args)[0] == 0
    folder_of_images(images, {"a.png": 3})  # a.png edited by its owner
    assert srarena_main(monkeypatch, capsys, *args)[0] == 0
    rows = ok_rows(tmp_path / "run")
    assert sorted(image_id for _, image_id, _, _ in rows) == ["a", "b"]  # no stale twin
    assert_every_file_is_its_row(tmp_path / "run")


# --- one owner at a time ----------------------------------------------------------------------
HOLDER = """
import sys
from srarena import runlock
with runlock.hold(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def _hold(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_folder_in_use_is_refused_with_its_holder(tmp_path, monkeypatch, capsys, small):
    out = tmp_path / "run"
    holder = _hold(out)
    try:
        args = ["bench", "-u", "nearest", "-d", str(small), "-m", "niqe", "--out", str(out)]
        code, text = srarena_main(monkeypatch, capsys, *args)
        assert code == 2 and f"pid {holder.pid}" in text and "--wait" in text
        code, text = srarena_main(monkeypatch, capsys, *args[:-2], "--scale", "4", "--out",
                                  str(out))
        assert code == 2 and "in use" in text
    finally:
        holder.communicate("")
    assert not (out / "results.sqlite").exists()  # the refused runs wrote nothing
    code, _ = srarena_main(monkeypatch, capsys, *args)  # released: it runs
    assert code == 0


def test_two_identical_benches_at_once_share_the_work(tmp_path, small):
    """The second waits (--wait) while the first holds the folder, then reuses everything."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "srarena", "bench", "-u", "nearest", "-u", "bicubic",
               "-d", str(small), "-m", "niqe", "--scale", "4", "--out", str(out), "--wait"]
    holder = _hold(out)
    waiting = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    first = subprocess.run(command[:-1], capture_output=True, text=True)
    assert first.returncode == 2 and "in use" in first.stderr
    holder.communicate("")  # the holder ends: the waiting run goes on alone
    text, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, text
    assert "waiting for pid" in text and "computed 12 outputs" in text
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0 and "computed 0 outputs, reused 12" in again.stdout
    assert_every_file_is_its_row(out)


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    from srarena import runlock

    holder = _hold(tmp_path / "run")
    holder.kill()
    holder.wait()
    with runlock.hold(tmp_path / "run"):  # not busy
        pass


# --- every input has its own identity -------------------------------------------------------
def test_nfc_and_nfd_twins_are_two_inputs(tmp_path, monkeypatch, capsys):
    nfc, nfd = (unicodedata.normalize(form, "café.png") for form in ("NFC", "NFD"))
    images = folder_of_images(tmp_path / "in", {nfc: 1, nfd: 2})
    if len(os.listdir(images)) != 2:
        pytest.skip("this file system folds NFC and NFD names into one file")
    out = tmp_path / "run"
    code, text = srarena_main(monkeypatch, capsys, "bench", "-u", "nearest", "-d", str(images),
                              "-m", "psnr", "--scale", "2", "--out", str(out))
    assert code == 0, text
    assert "share the id" in text
    rows = ok_rows(out)
    assert len(rows) == 2 and len({image_id for _, image_id, _, _ in rows}) == 2
    assert all(image_id.startswith("café.png~") for _, image_id, _, _ in rows)
    first, second = (png_of(out, image_id) for _, image_id, _, _ in rows)
    assert not np.array_equal(first, second)
    assert_every_file_is_its_row(out)


def test_long_names_that_share_a_prefix_are_two_files(tmp_path, monkeypatch, capsys):
    stem = "L" * 130
    images = folder_of_images(tmp_path / "in", {f"{stem}_one.png": 1, f"{stem}_two.png": 2})
    out = tmp_path / "run"
    code, _ = srarena_main(monkeypatch, capsys, "bench", "-u", "nearest", "-d", str(images),
                           "-m", "psnr", "--scale", "2", "--out", str(out))
    assert code == 0
    rows = ok_rows(out)
    assert len(rows) == 2 and all(path.endswith(".png") for _, _, path, _ in rows)
    assert_every_file_is_its_row(out)


def test_a_plugins_repeated_id_is_kept_apart(fake_plugin, tmp_path):
    from srarena.specs import DatasetSpec

    fake_plugin.datasets["repeated"] = DatasetSpec(name="repeated",
                                                   factory="fake_plugin:Repeated")
    config = BenchConfig(upscalers=["fake-x2"], datasets=["repeated"], metrics=[], scale=2)
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    assert summary.computed == 2
    ids = sorted(image_id for _, image_id, _, _ in ok_rows(tmp_path / "run"))
    assert len(ids) == 2 and all(i.startswith("same~") for i in ids)
    again = Bench(fake_plugin, config, tmp_path / "run").run()  # stable ids: all reused
    assert again.reused == 2 and again.computed == 0


@settings(max_examples=300, deadline=None)
@given(st.sets(st.text(min_size=1, max_size=300), min_size=2, max_size=20))
def test_safe_names_of_distinct_names_are_distinct_and_safe(names):
    safe = {name: safe_name(name) for name in names}
    assert len(set(safe.values())) == len(names)
    for name, made in safe.items():
        assert made == safe_name(name)  # stable
        assert 0 < len(made) <= MAX_NAME and "/" not in made and made not in (".", "..")
        assert made.encode().isascii()
        if name.endswith(".png") and len(name) > 4:
            assert made.endswith(".png")


def test_safe_name_keeps_short_safe_names_and_hashes_the_rest():
    assert safe_name("astronaut.png") == "astronaut.png"
    long = safe_name("L" * 130 + "_one.png")
    assert long.endswith(".png") and len(long) <= MAX_NAME and long != safe_name(
        "L" * 130 + "_two.png")


# --- environment errors: one line, a documented status, an exact resume ---------------------
def _rows_and_pixels(folder: Path) -> tuple[list, dict]:
    with sqlite3.connect(folder / "results.sqlite") as db:
        outputs = db.execute("SELECT output_key, status, path, sha256 FROM outputs "
                             "ORDER BY 1").fetchall()
        scores = db.execute("SELECT score_key, status, value FROM scores ORDER BY 1").fetchall()
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted((folder / "images").rglob("*.png"))}
    return [outputs, scores], files


def test_a_full_disk_at_the_database_is_one_line_and_resumes_exactly(
        tmp_path, monkeypatch, capsys, small):
    from srarena.store import Store

    args = ["bench", "-u", "nearest", "-u", "bicubic", "-d", str(small), "-m", "niqe",
            "--scale", "4", "--workers", "0"]
    assert srarena_main(monkeypatch, capsys, *args, "--out", str(tmp_path / "clean"))[0] == 0
    put = Store._put
    calls = {"outputs": 0}

    def full_after_five(self, table, row, then=None):
        if table == "outputs":
            calls["outputs"] += 1
            if calls["outputs"] > 5:  # as SQLite answers on a full disk, inside the store
                with self._guard("write"):
                    raise sqlite3.OperationalError("database or disk is full")
        return put(self, table, row, then)

    monkeypatch.setattr(Store, "_put", full_after_five)
    code, text = srarena_main(monkeypatch, capsys, *args, "--out", str(tmp_path / "run"))
    assert code == 3, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "database or disk is full" in errors[0]
    assert "rerun the same command" in errors[0] and "Traceback" not in text
    monkeypatch.setattr(Store, "_put", put)  # space freed
    code, text = srarena_main(monkeypatch, capsys, *args, "--out", str(tmp_path / "run"))
    assert code == 0 and "computed 7 outputs, reused 5" in text
    assert _rows_and_pixels(tmp_path / "run")[1] == _rows_and_pixels(tmp_path / "clean")[1]
    run_rows, clean_rows = (_rows_and_pixels(tmp_path / f)[0] for f in ("run", "clean"))
    assert run_rows == clean_rows


def test_a_full_disk_at_an_image_stops_the_run_with_one_line(tmp_path, monkeypatch, capsys,
                                                             small):
    import errno

    from srarena.engine import work

    save = work.save_png
    written = []
    lock = threading.Lock()

    def full_after_three(path, image, level=1):
        with lock:  # outputs are written on the pool's threads: count them one at a time
            if len(written) >= 3:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            written.append(path)
        return save(path, image, level)

    monkeypatch.setattr(work, "save_png", full_after_three)
    args = ["bench", "-u", "nearest", "-d", str(small), "-m", "niqe", "--scale", "4", "--out",
            str(tmp_path / "run")]
    code, text = srarena_main(monkeypatch, capsys, *args)
    assert code == 3 and "No space left on device" in text and "Traceback" not in text
    assert "failed" not in text.lower()  # not a wall of per-item failures
    recorded = len(ok_rows(tmp_path / "run"))
    assert 1 <= recorded <= 3  # the outputs before the first refused write, in order
    monkeypatch.setattr(work, "save_png", save)
    code, text = srarena_main(monkeypatch, capsys, *args)
    assert code == 0 and f"computed {6 - recorded} outputs, reused {recorded}" in text
    assert_every_file_is_its_row(tmp_path / "run")


def test_a_file_size_limit_is_one_line(tmp_path):
    """``ulimit -f`` (RLIMIT_FSIZE): writes beyond it fail with EFBIG, as on a full disk."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    images = folder_of_images(tmp_path / "in", {f"img{i}.png": i for i in range(3)}, 64)
    command = [sys.executable, "-m", "srarena", "bench", "-u", "nearest", "-d", str(images),
               "-m", "niqe", "--scale", "4", "--out", str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=limited)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("error:") == 1
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0
    assert_every_file_is_its_row(tmp_path / "run")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 kB tmpfs, when this machine lets the test mount one (root, in its own mount
    rights); skipped otherwise, with the reason."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here ({done.stderr.strip() or 'mount failed'});"
                    " the injected faults cover the same paths")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_is_one_line_and_resumes(tiny_disk, tmp_path):
    images = folder_of_images(tmp_path / "in", {f"img{i}.png": i for i in range(4)}, 64)
    command = [sys.executable, "-m", "srarena", "bench", "-u", "nearest", "-d", str(images),
               "-m", "niqe", "--scale", "4", "--out", str(tiny_disk / "run")]
    full = subprocess.run(command, capture_output=True, text=True)
    assert full.returncode == 3, full.stdout + full.stderr
    assert "Traceback" not in full.stderr and full.stderr.count("error:") == 1
    db = tiny_disk / "run" / "results.sqlite"
    assert not db.exists() or db.stat().st_size > 0  # never an empty database left behind
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_every_file_is_its_row(tiny_disk / "run")


def test_a_fresh_folder_on_a_full_disk_leaves_no_empty_database(tmp_path, monkeypatch):
    from srarena.store import StoreError

    def refuse(*_):
        raise sqlite3.OperationalError("database or disk is full")

    class Full(sqlite3.Connection):
        execute = refuse

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: Full(*a, **k))
    with pytest.raises(StoreError, match="disk is full"):
        Store(tmp_path / "run")
    assert not list((tmp_path / "run").glob("results.sqlite*"))


# --- plain mistakes: a sentence and status 2 (or 3 for what this machine lacks) -------------
@pytest.mark.parametrize(("args", "status", "words"), [
    (["--precision", "fp8"], 2, "not a precision"),
    (["--device", "banana"], 2, "not a device"),
    (["--tile", "0"], 2, "--tile"),
    (["--tile", "-5"], 2, "--tile"),
    (["--weights", "/nonexistent"], 2, "takes no weights"),
    (["--scale", "1000"], 3, "needs about"),
    (["-o", "bicubic.filter=lanczos"], 2, "filter is what bicubic is"),
])
def test_bad_values_are_refused_before_any_work(monkeypatch, capsys, tmp_path, args, status,
                                                words):
    out = tmp_path / "run"
    code, text = srarena_main(monkeypatch, capsys, "bench", "-u", "bicubic", "-d", str(SAMPLES),
                              "-m", "niqe", "--out", str(out), *args)
    assert code == status and words in text and "Traceback" not in text
    assert not list(out.glob("images/**/*.png"))


def test_an_out_that_is_a_file_and_a_missing_gpu(monkeypatch, capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    code, text = srarena_main(monkeypatch, capsys, "bench", "-u", "bicubic", "--out",
                              str(tmp_path / "afile"))
    assert code == 2 and "is a file, not a folder" in text
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        return  # the machine has the GPU asked for: nothing to refuse
    code, text = srarena_main(monkeypatch, capsys, "bench", "-u", "bicubic", "--device", "cuda",
                              "--out", str(tmp_path / "run"))
    assert code == 3 and "no CUDA GPU" in text and "Traceback" not in text


def test_an_option_of_the_wrong_type_is_refused(fake_plugin):
    from dataclasses import replace

    from srarena.cli.bench import option_problems

    spec = replace(fake_plugin.upscalers["fake-gen"],
                   options={"steps": 1, "style": "a", "rate": 0.5, "exact": True},
                   option_choices={"style": ("a", "b")})
    specs = {"fake-gen": spec}
    assert option_problems({"fake-gen": {"steps": 2, "style": "b", "rate": 1}}, specs) == []
    problems = option_problems({"fake-gen": {"steps": "two", "style": "c", "exact": 1}}, specs)
    assert problems == ["-o fake-gen.steps: steps='two' is not a int (the default is 1)",
                        "-o fake-gen.style: style='c' is not one of 'a', 'b'",
                        "-o fake-gen.exact: exact=1 is not a bool (the default is True)"]


def test_a_refused_weights_file_is_a_usage_error(monkeypatch, capsys, tmp_path):
    bogus = tmp_path / "model.pth"
    bogus.write_bytes(b"not a checkpoint")
    code, text = srarena_main(monkeypatch, capsys, "bench", "-u", "spandrel", "--weights",
                              str(bogus), "--out", str(tmp_path / "run"))
    assert code == 2 and "Traceback" not in text
    assert "computed 0 outputs" not in text


# --- a defect of an upscaler is recorded, not hidden ------------------------------------------
def test_values_outside_the_unit_range_are_a_warning_in_the_row_and_the_summary(
        fake_plugin, tmp_path):
    import json

    from srarena.specs import UpscalerSpec

    fake_plugin.upscalers["overshoot"] = UpscalerSpec(
        name="overshoot", factory="fake_plugin:Overshoot", scales=(2,))
    config = BenchConfig(upscalers=["overshoot", "fake-x2"], datasets=["noise:2"], metrics=[],
                         scale=2)
    summary = Bench(fake_plugin, config, tmp_path / "run").run()
    assert summary.exit_code == 0 and summary.computed == 4
    assert {w["upscaler"] for w in summary.warnings} == {"overshoot"}
    assert "outside [0, 1]" in summary.warnings[0]["warning"]
    outputs = srarena.open_run(tmp_path / "run").outputs()
    info = {r.upscaler: json.loads(r.info) for r in outputs.itertuples() if r.image_id == "img000"}
    assert "clipped" in info["overshoot"]["warnings"][0] and "warnings" not in info["fake-x2"]


# --- the report: hostile names stay text, two builds are one file ------------------------------
def test_the_markdown_report_keeps_hostile_names_as_text_and_builds_reproducibly(
        tmp_path, monkeypatch, capsys):
    import re

    images = folder_of_images(tmp_path / "weird", {
        "<img src=x onerror=alert(1)>.png": 1, "line\nbreak.png": 2, "plain.png": 3}, 64)
    folder_of_images(images / "sub", {"deep.png": 4}, 64)
    out = tmp_path / "run"
    dataset = f"folder:{images}?domain=<script>alert(1)</script>"
    code, text = srarena_main(monkeypatch, capsys, "bench", "-u", "nearest", "-u", "bicubic",
                              "-d", dataset, "-m", "niqe", "--scale", "4", "--out", str(out))
    assert code == 0, text
    picks = ["weird/sub/deep", "<img src=x onerror=alert(1)>", "line\nbreak"]
    builds = []
    for _ in range(2):
        code, text = srarena_main(monkeypatch, capsys, "report", str(out), "--bootstrap", "50",
                                  *[arg for pick in picks for arg in ("-i", pick)])
        assert code == 0, text
        report = out / "report"
        builds.append({p.relative_to(report).as_posix(): p.read_bytes()
                       for p in sorted(report.rglob("*")) if p.is_file()})
    assert builds[0] == builds[1], "two builds of one run differ"
    assert any(name.endswith(".svg") for name in builds[0])
    markdown = builds[0]["index.md"].decode()
    assert "<img" not in markdown and "<script" not in markdown
    assert not re.findall(r"<(?!br>)[a-zA-Z/]", markdown), "a raw tag in index.md"
    assert "deep" in markdown  # the image in a subfolder was picked by DATASET/sub/ID
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert any("line break" in line for line in headings)  # one heading, not two lines
    assert not any(line.startswith("break") for line in markdown.splitlines())
