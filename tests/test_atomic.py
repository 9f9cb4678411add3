"""Atomic writes: a reader sees the old file or the whole new one; failures leave nothing."""

from __future__ import annotations

import os
import stat

import pytest

from srarena.atomic import atomic_write, atomic_write_text


def test_writes_through_a_hidden_sibling_with_ordinary_permissions(tmp_path):
    target = tmp_path / "sub" / "index.html"
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert tmp.parent == target.parent and tmp.name.startswith(".tmp-index.html.")
        tmp.write_bytes(b"<p>new</p>")

    assert atomic_write(target, write) == target
    assert target.read_bytes() == b"<p>new</p>" and not seen[0].exists()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_sibling(tmp_path):
    target = tmp_path / "manifest.json"
    atomic_write_text(target, "old")

    def half_then_fail(tmp):
        tmp.write_text("ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
