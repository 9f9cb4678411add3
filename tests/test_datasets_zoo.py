"""The dataset zoo: every entry fetched from a loopback HTTP server or a fake kagglehub,
serving small archives in the real layouts: layout mapping, counts, checksum refusal, resume,
offline use of the cache, safe extraction, and the ``srarena datasets`` commands."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import sys
import tarfile
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srarena.datasets import archives, open_dataset, zoo
from srarena.datasets.files import DatasetError
from srarena.plugins import build_registry

HERE = Path(__file__).parent


def _helpers():
    """The loopback server of the weights tests (reused, not copied)."""
    spec = importlib.util.spec_from_file_location("_weights_http", HERE / "test_weights_http.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server(monkeypatch, tmp_path):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SRARENA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = _helpers().Server()
    yield srv
    srv.close()


@pytest.fixture
def registry():
    return build_registry()


def _png(seed: int, size: tuple[int, int] = (16, 12)) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _mat(seed: int, size: int) -> bytes:
    from scipy.io import savemat

    k = np.random.default_rng(seed).random((size, size))
    buffer = io.BytesIO()
    savemat(buffer, {"Kernel": k / k.sum()})
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as handle:
        for name, data in members.items():
            handle.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as handle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            handle.addfile(info)
    return buffer.getvalue()


def div2krk_archive(n: int = 3) -> bytes:
    """``DIV2KRK_public.zip`` as KernelGAN publishes it, with ``n`` images."""
    members = {"DIV2KRK/README.txt": b"DIV2KRK"}
    for i in range(1, n + 1):
        members[f"DIV2KRK/gt/img_{i}_gt.png"] = _png(i, (34, 26))
        members[f"DIV2KRK/lr_x2/im_{i}.png"] = _png(100 + i, (17, 13))
        members[f"DIV2KRK/lr_x4/im_{i}.png"] = _png(200 + i, (8, 6))
        members[f"DIV2KRK/gt_k_x2/kernel_{i}.mat"] = _mat(i, 11)
        members[f"DIV2KRK/gt_k_x4/kernel_{i}.mat"] = _mat(i, 31)
    return _zip(members)


def benchmark_archive() -> bytes:
    """EDSR's ``benchmark.tar``: ``benchmark/<set>/HR`` and ``LR_bicubic/X<s>``."""
    members = {}
    for k, name in enumerate(zoo.BENCHMARK_SETS):
        members[f"benchmark/{name}/HR/img{k}.png"] = _png(k, (24, 20))
        members[f"benchmark/{name}/LR_bicubic/X4/img{k}x4.png"] = _png(50 + k, (6, 5))
    return _tar(members)


def _use(monkeypatch, entry: zoo.Entry, **changes) -> zoo.Entry:
    patched = dataclasses.replace(entry, **changes)
    monkeypatch.setitem(zoo.ENTRIES, entry.name, patched)
    return patched


def test_div2krk_fetch_maps_counts_and_opens(server, monkeypatch, registry):
    server.files["/DIV2KRK_public.zip"] = data = div2krk_archive()
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/DIV2KRK_public.zip",),
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    seen = []
    record = zoo.fetch(entry, lambda label, done, total: seen.append((label, done, total)))
    assert record["counts"] == dict.fromkeys(entry.counts, 3)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert seen[-1] == ("DIV2KRK_public.zip", len(data), len(data))
    assert zoo.state(entry) == "installed"
    assert not (entry.folder / "DIV2KRK_public.zip.part").exists()
    assert sorted(p.name for p in entry.data.iterdir()) == ["gt", "gt_k_x2", "gt_k_x4", "lr_x2",
                                                              "lr_x4"]
    dataset = open_dataset("div2krk-x4", registry)
    items = list(dataset.items())
    assert [i.image_id for i in items] == ["im_1", "im_2", "im_3"]
    assert {i.dataset for i in items} == {"DIV2KRK"} and items[0].domain == "natural"
    assert items[0].lr().shape == (6, 8, 3) and items[0].hr().shape == (24, 32, 3)
    assert dataset.kernel("im_2").weights.shape == (31, 31)
    assert dataset.describe()["scale"] == 4
    x2 = list(open_dataset("div2krk-x2", registry).items())
    assert x2[0].hr().shape == (26, 34, 3)


def test_wrong_counts_install_nothing(server, monkeypatch):
    server.files["/a.zip"] = div2krk_archive(2)
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",),
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    with pytest.raises(zoo.FetchError, match=r"gt: 2 \(expected 3\)"):
        zoo.fetch(entry)
    assert zoo.state(entry) == "missing" and not entry.data.exists()


def test_published_sha256_refuses_other_bytes(server, monkeypatch):
    server.files["/a.zip"] = div2krk_archive()
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",), sha256="0" * 64,
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    with pytest.raises(zoo.FetchError, match="published 0000"):
        zoo.fetch(entry)
    assert zoo.state(entry) == "missing"
    assert not (entry.folder / "DIV2KRK_public.zip.part").exists()


def test_first_download_is_recorded_and_later_ones_checked(server, monkeypatch):
    server.files["/a.zip"] = first = div2krk_archive()
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",),
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    zoo.fetch(entry)
    assert zoo.reference_sha256(entry) == (hashlib.sha256(first).hexdigest(),
                                           "recorded at this machine's first download")
    server.files["/a.zip"] = _zip({"DIV2KRK/README.txt": b"changed"})
    with pytest.raises(zoo.FetchError, match="recorded at this machine's first download"):
        zoo.fetch(entry, force=True)
    assert zoo.state(entry) == "installed"  # the first copy is kept
    assert len(list((entry.data / "gt").iterdir())) == 3


def test_shipped_record_is_the_reference(server, monkeypatch):
    server.files["/a.zip"] = div2krk_archive()
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",),
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    monkeypatch.setattr(zoo, "shipped_records", lambda: {"div2krk": {"sha256": "f" * 64}})
    with pytest.raises(zoo.FetchError, match="recorded \\(shipped with srarena\\) ffff"):
        zoo.fetch(entry)


def test_interrupted_download_resumes(server, monkeypatch):
    server.files["/a.zip"] = data = div2krk_archive()
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",),
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    entry.folder.mkdir(parents=True)
    (entry.folder / "DIV2KRK_public.zip.part").write_bytes(data[:1000])
    assert zoo.state(entry) == "partial"
    server.cuts["/a.zip"] = [2000]  # the connection is cut once more mid-file
    zoo.fetch(entry)
    ranges = [r for path, r in server.requests if path == "/a.zip"]
    assert ranges[0] == "bytes=1000-" and ranges[1] == "bytes=3000-"
    assert zoo.marker(entry)["sha256"] == hashlib.sha256(data).hexdigest()


def test_offline_fetch_refuses_and_the_cache_still_serves(server, monkeypatch, registry):
    server.files["/a.zip"] = div2krk_archive()
    entry = _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",),
                 counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    with pytest.raises(zoo.FetchError, match="offline"):
        zoo.fetch(entry)
    with pytest.raises(DatasetError, match="srarena datasets fetch div2krk.*offline"):
        open_dataset("div2krk-x4", registry)
    monkeypatch.delenv("SRARENA_OFFLINE")
    zoo.fetch(entry)
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    requests = len(server.requests)
    assert zoo.fetch(entry)["counts"]["gt"] == 3  # installed: nothing is downloaded
    assert len(list(open_dataset("div2krk-x4", registry).items())) == 3
    assert len(server.requests) == requests


def test_sr_benchmarks_and_gaussian8(server, monkeypatch, registry, tmp_path):
    server.files["/benchmark.tar"] = benchmark_archive()
    entry = _use(monkeypatch, zoo.SR_BENCHMARKS, urls=(server.base + "/benchmark.tar",),
                 counts=dict.fromkeys(zoo.BENCHMARK_SETS, 1))
    with pytest.raises(DatasetError, match="srarena datasets fetch sr-benchmarks"):
        open_dataset("gaussian8-x4", registry)
    zoo.fetch(entry)
    assert sorted(p.name for p in entry.data.iterdir()) == sorted(zoo.BENCHMARK_SETS)
    assert [p.name for p in (entry.data / "Set5").iterdir()] == ["img0.png"]  # HR only
    dataset = open_dataset("gaussian8-x4", registry)
    items = list(dataset.items())
    assert len(items) == 4 * 8
    assert {i.dataset for i in items} == set(zoo.BENCHMARK_SETS)
    assert {i.domain for i in items if i.dataset == "Urban100"} == {"urban"}
    assert items[0].image_id == "sigma1.8/img0" and items[0].lr().shape == (5, 6, 3)
    assert set(dataset.describe()["datasets"]) == set(zoo.BENCHMARK_SETS)
    manga = tmp_path / "Manga109"
    manga.mkdir()
    (manga / "AisazuNihaIrarenai.png").write_bytes(_png(9, (24, 20)))
    record = zoo.add(zoo.MANGA109, manga)
    assert record["counts"] == {"Manga109": 1}
    assert "Manga109" in {i.dataset for i in open_dataset("gaussian8-x4", registry).items()}


def _study_tree(root: Path, per_dataset: int = 2) -> Path:
    """The study's Kaggle dataset: LR inputs per domain/dataset, and the techniques' outputs."""
    tree = root / "kaggle" / "datasets" / "valdivinosantiago" / "dl-blindsr-datasets" / \
        "versions" / "3"
    for k, (dataset, domain) in enumerate(zoo.STUDY_DATASETS.items()):
        folder_name = "melanomaistic" if dataset == "melanomaisic" else dataset
        lr = tree / "LR" / domain / folder_name
        lr.mkdir(parents=True)
        for i in range(per_dataset):
            (lr / f"low_{i:03d}.png").write_bytes(_png(k * 10 + i, (8, 8)))
        out = tree / "HR" / domain / dataset / "DAN"
        out.mkdir(parents=True)
        (out / "low_000_x2_x4.png").write_bytes(_png(999, (8, 8)))
    return tree


def test_study_from_a_fake_kagglehub(monkeypatch, tmp_path, registry):
    monkeypatch.delenv("SRARENA_OFFLINE")
    tree = _study_tree(tmp_path)
    calls = []

    def dataset_download(handle, *args, **kwargs):
        calls.append(handle)
        return str(tree)

    monkeypatch.setitem(sys.modules, "kagglehub",
                        types.SimpleNamespace(dataset_download=dataset_download))
    entry = _use(monkeypatch, zoo.STUDY, counts=dict.fromkeys(zoo.STUDY_DATASETS, 2))
    with pytest.raises(DatasetError, match="srarena datasets fetch study"):
        open_dataset("study", registry)
    record = zoo.fetch(entry)
    assert calls == ["valdivinosantiago/dl-blindsr-datasets"]
    assert record["source"] == "kaggle:valdivinosantiago/dl-blindsr-datasets/versions/3"
    assert record["counts"] == dict.fromkeys(zoo.STUDY_DATASETS, 2)
    dataset = open_dataset("study", registry)
    items = list(dataset.items())
    assert len(items) == 28
    assert {(i.domain, i.dataset) for i in items} == {(d, s) for s, d in
                                                       zoo.STUDY_DATASETS.items()}
    assert {i.image_id for i in items} == {"low_000", "low_001"}
    assert open_dataset(f"study:{entry.data}", registry).describe()["root"] == str(entry.data)
    # a second download with other bytes is refused against the recorded tree sha256
    (tree / "LR" / "Aerial" / "ships" / "low_000.png").write_bytes(_png(12345, (8, 8)))
    with pytest.raises(zoo.FetchError, match="recorded at this machine's first download"):
        zoo.fetch(entry, force=True)


def test_study_counts_and_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("SRARENA_OFFLINE")
    tree = _study_tree(tmp_path, per_dataset=1)
    monkeypatch.setitem(sys.modules, "kagglehub",
                        types.SimpleNamespace(dataset_download=lambda handle: str(tree)))
    with pytest.raises(zoo.FetchError, match=r"condoaerial: 1 \(expected 100\)"):
        zoo.fetch(zoo.STUDY)

    def refuse(handle):
        raise RuntimeError("401 Client Error: Unauthorized")

    monkeypatch.setitem(sys.modules, "kagglehub", types.SimpleNamespace(dataset_download=refuse))
    with pytest.raises(zoo.FetchError, match="KAGGLE_USERNAME and KAGGLE_KEY"):
        zoo.fetch(zoo.STUDY)


def test_manual_entries_are_never_downloaded():
    with pytest.raises(zoo.FetchError, match="forbids automatic download"):
        zoo.fetch(zoo.MANGA109)
    assert zoo.fix_command(zoo.MANGA109) == "srarena datasets add manga109 FOLDER"


@pytest.mark.parametrize("members", [
    {"../evil.png": b"x"}, {"/abs/evil.png": b"x"}, {"C:/evil.png": b"x"},
])
def test_extraction_refuses_paths_outside(tmp_path, members):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip(members))
    with pytest.raises(archives.UnsafeArchive, match="outside"):
        archives.extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.png").exists()


def test_extraction_refuses_links_and_limits(tmp_path):
    archive = tmp_path / "a.tar"
    archive.write_bytes(_tar({"ok.png": b"x"}, links={"link": "/etc/passwd"}))
    with pytest.raises(archives.UnsafeArchive, match="links"):
        archives.extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    archive.write_bytes(_tar({f"f{i}": b"abc" for i in range(5)}))
    with pytest.raises(archives.UnsafeArchive, match="members"):
        archives.extract(archive, tmp_path / "out", max_members=4)
    with pytest.raises(archives.UnsafeArchive, match="bytes"):
        archives.extract(archive, tmp_path / "out", max_bytes=10)
    assert archives.extract(archive, tmp_path / "out") == 5


def test_cli_list_fetch_add_path(server, monkeypatch, tmp_path):
    from srarena.cli import _install_commands, app

    server.files["/a.zip"] = div2krk_archive()
    _use(monkeypatch, zoo.DIV2KRK, urls=(server.base + "/a.zip",),
         counts=dict.fromkeys(zoo.DIV2KRK.counts, 3))
    _install_commands()
    runner = CliRunner()
    listed = runner.invoke(app, ["datasets", "list", "--verbose"], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    for text in ("div2krk-x4", "gaussian8-x4", "valdivinosantiago/dl-blindsr-datasets",
                 "no automatic download", "Manga109", "missing"):
        assert text in listed.output
    fetched = runner.invoke(app, ["datasets", "fetch", "div2krk-x4"])
    assert fetched.exit_code == 0, fetched.output
    assert "installed" in fetched.output
    rows = {r["name"]: r for r in __import__("json").loads(
        runner.invoke(app, ["datasets", "list", "--json"]).output)}
    assert rows["div2krk"]["state"] == "installed" and rows["div2krk"]["size"] > 0
    assert rows["manga109"]["state"] == "manual"
    assert runner.invoke(app, ["datasets", "path", "div2krk"]).output.strip() == \
        str(zoo.ENTRIES["div2krk"].data)
    failed = runner.invoke(app, ["datasets", "fetch", "manga109"])
    assert failed.exit_code == 1 and "forbids automatic download" in failed.output
    unknown = runner.invoke(app, ["datasets", "fetch", "nope"])
    assert unknown.exit_code == 2 and "no dataset named 'nope'" in unknown.output
    manga = tmp_path / "m"
    manga.mkdir()
    (manga / "a.png").write_bytes(_png(1))
    added = runner.invoke(app, ["datasets", "add", "manga109", str(manga)])
    assert added.exit_code == 0 and "Manga109 1" in added.output
