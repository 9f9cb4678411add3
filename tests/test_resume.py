"""A bench killed with SIGKILL and run again ends with exactly the rows of a clean run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

SUPPORT = Path(__file__).parent / "support"


def bench(out: Path, delay: str, wait: bool = True) -> subprocess.Popen | int:
    env = {**os.environ, "SRARENA_PLUGIN_MODULES": "fake_plugin", "SRARENA_FAKE_DELAY": delay,
           "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "srarena", "bench", "-u", "fake-slow", "-u", "fake-x2",
            "-d", "noise:8", "-m", "fake-mean", "-m", "psnr", "--scale", "2", "--out", str(out)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not wait:
        return proc
    output = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, output
    return proc.returncode


def rows(folder: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(folder / "results.sqlite") as db:
        return {
            "outputs": db.execute("SELECT output_key, upscaler, image_id, status, path, chain "
                                  "FROM outputs ORDER BY output_key").fetchall(),
            "scores": db.execute("SELECT score_key, output_key, metric, value, status "
                                 "FROM scores ORDER BY score_key").fetchall(),
            "created": db.execute("SELECT output_key, created FROM outputs "
                                  "ORDER BY output_key").fetchall(),
        }


def count_outputs(folder: Path) -> int:
    try:
        with sqlite3.connect(folder / "results.sqlite", timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM outputs WHERE status='ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_then_rerun_matches_clean_run(tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    bench(clean, "0")
    proc = bench(killed, "0.4", wait=False)
    deadline = time.time() + 120
    while count_outputs(killed) < 3 and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = rows(killed)
    assert 3 <= len(before["outputs"]) < 16, "the kill must land mid-run"
    bench(killed, "0")
    after, reference = rows(killed), rows(clean)
    assert after["outputs"] == reference["outputs"]
    assert after["scores"] == reference["scores"]
    finished_before = dict(before["created"])
    created_after = dict(after["created"])
    # finished work was not recomputed: its rows keep their original timestamps
    assert all(created_after[k] == t for k, t in finished_before.items())
    images = sorted(p.relative_to(killed) for p in (killed / "images").rglob("*.png"))
    assert images == sorted(p.relative_to(clean) for p in (clean / "images").rglob("*.png"))
    assert not list(killed.rglob(".tmp-*"))
