"""Google Drive downloads through gdown, against a fake Drive served on loopback.

The fake serves the pages gdown parses in their real shapes (folder listing, the large
file's confirmation form, the file with Content-Disposition and ranges); only gdown's HTTP
session is pointed at it (:func:`weights_server.route_gdown_to`), so srarena's code path
and gdown's run unchanged.
"""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
from weights_server import FakeDrive, Server, drive_route, route_gdown_to

from srarena.specs import Source, WeightFile, WeightSet
from srarena.weights import (
    ChecksumMismatch,
    DownloadError,
    WeightsMissing,
    folder,
    gdrive,
    resolve,
    shipped,
    status,
)
from srarena.weights import download as dl

pytest.importorskip("gdown")


@pytest.fixture
def drive(monkeypatch, tmp_path):
    monkeypatch.delenv("SRARENA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(gdrive, "_listings", {})
    monkeypatch.setattr(shipped, "MANIFEST", tmp_path / "checksums.json")
    server = Server(route=drive_route)
    route_gdown_to(monkeypatch, server)
    yield FakeDrive(server)
    server.close()


def payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 13 + seed) % 253 for i in range(n))


def folder_set(folder_id: str, path: str, data: bytes | None, name: str = "drive-set",
               filename: str = "net.pth") -> WeightSet:
    sha = hashlib.sha256(data).hexdigest() if data is not None else None
    source = Source("gdrive", url=f"https://drive.google.com/drive/folders/{folder_id}",
                    filename=path)
    return WeightSet(name=name, files=(WeightFile(filename, (source,), sha256=sha),))


def test_a_file_is_picked_by_name_from_a_subfolder(drive):
    wanted, other = payload(300_000), payload(1000, seed=5)
    root = drive.folder("DAN", {"README.txt": b"hi", "DANv1": {"danv1_x2.pth": wanted},
                                "DANv2": {"danv2_x2.pth": other}})
    ws = folder_set(root, "danv1_x2.pth", wanted, filename="danv1_x2.pth")
    calls = []
    dl.fetch(ws, lambda label, done, total: calls.append((label, done, total)))
    assert (folder(ws) / "danv1_x2.pth").read_bytes() == wanted
    assert [st.state for st in status(ws)] == ["verified"]
    assert calls[-1] == ("danv1_x2.pth", len(wanted), len(wanted))
    assert sorted(p.name for p in folder(ws).iterdir()) == [".srarena-manifest.json",
                                                            "danv1_x2.pth"]
    keys = [drive_route(path) for path, _ in drive.server.requests]
    assert keys[0] == f"folder:{root}" and keys[-1].startswith("download:")
    assert not any(key.startswith("download:") and key != keys[-1] for key in keys)


def test_a_path_ending_tells_apart_files_of_one_name(drive):
    x2, x4 = payload(5000, 1), payload(7000, 2)
    root = drive.folder("MoESR", {"checkpoints": {"x2": {"ISE.pt": x2}, "x4": {"ISE.pt": x4}},
                                  "datasets": {"DIV2KRK": {"a.png": b"png"}}})
    ws = folder_set(root, "x4/ISE.pt", x4, filename="x4_ISE.pt")
    dl.fetch(ws)
    assert (folder(ws) / "x4_ISE.pt").read_bytes() == x4
    ambiguous = folder_set(root, "ISE.pt", None, name="ambiguous")
    with pytest.raises(DownloadError, match="matches several files .*x2/ISE.pt"):
        dl.fetch(ambiguous)
    absent = folder_set(root, "x8/ISE.pt", None, name="absent")
    with pytest.raises(DownloadError, match="files of that name: checkpoints/x2/ISE.pt"):
        dl.fetch(absent)
    assert not folder(absent).exists()


def test_a_file_url_needs_no_listing(drive):
    data = payload(20_000)
    file_id = drive.file("single.pth", data)
    ws = WeightSet(name="one", files=(WeightFile("single.pth", (Source(
        "gdrive", url=f"https://drive.google.com/file/d/{file_id}/view"),),
        sha256=hashlib.sha256(data).hexdigest()),))
    dl.fetch(ws)
    assert (folder(ws) / "single.pth").read_bytes() == data
    assert not any(drive_route(p).startswith("folder:") for p, _ in drive.server.requests)


def test_an_interrupted_download_resumes_with_a_range_request(drive):
    data = payload(2_000_000)
    root = drive.folder("models", {"net.pth": data})
    ws = folder_set(root, "net.pth", data)

    def interrupt(label, done, total):
        if done >= 600_000:
            raise KeyboardInterrupt  # the user's Ctrl-C in the middle of the transfer

    with pytest.raises(KeyboardInterrupt):
        dl.fetch(ws, interrupt)
    (st,) = status(ws)
    assert st.state == "partial" and 600_000 <= st.size < len(data)
    assert not (folder(ws) / "net.pth").exists()
    kept = st.size
    drive.server.requests.clear()
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data
    ranges = [rng for path, rng in drive.server.requests if drive_route(path).startswith(
        "download:") and rng]
    assert ranges == [f"bytes={kept}-"]
    assert sorted(p.name for p in folder(ws).iterdir()) == [".srarena-manifest.json", "net.pth"]


def test_a_resumed_download_that_fails_its_check_is_redone_afresh(drive):
    old, new = payload(2_000_000, seed=1), payload(2_000_000, seed=2)
    root = drive.folder("models", {"net.pth": old})
    (key,) = [k for k in drive.server.files if k.startswith("download:")]
    ws = folder_set(root, "net.pth", new)

    def interrupt(label, done, total):
        if done >= 600_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dl.fetch(ws, interrupt)
    drive.server.files[key] = new  # the upstream changed under the partial download
    dl.fetch(ws)  # the spliced file fails the sha256: discarded, downloaded again whole
    assert (folder(ws) / "net.pth").read_bytes() == new
    assert [rng is None for path, rng in drive.server.requests
            if drive_route(path) == key][-1]


def test_a_cut_connection_is_resumed_within_the_call(drive):
    data = payload(3_000_000)
    root = drive.folder("models", {"net.pth": data})
    (key,) = [k for k in drive.server.files if k.startswith("download:")]
    drive.server.cuts[key] = [1_500_000]  # gdown keeps what it got in whole 512 kB chunks
    ws = folder_set(root, "net.pth", data)
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data
    ranges = [rng for path, rng in drive.server.requests if drive_route(path) == key and rng]
    assert ranges == ["bytes=1048576-"]


def test_a_checksum_mismatch_is_refused_and_nothing_is_installed(drive):
    root = drive.folder("models", {"net.pth": payload(50_000)})
    ws = folder_set(root, "net.pth", payload(50_000, seed=9))
    with pytest.raises(ChecksumMismatch, match="the file was discarded"):
        dl.fetch(ws)
    assert not folder(ws).exists()
    with pytest.raises(WeightsMissing):
        resolve(ws)


def test_without_a_published_checksum_the_first_download_is_recorded_then_enforced(drive):
    data = payload(40_000)
    root = drive.folder("models", {"net.pth": data})
    ws = folder_set(root, "net.pth", None)
    dl.fetch(ws)
    (st,) = status(ws)
    assert st.state == "recorded" and st.checksum == "first-use"
    assert st.sha256 == hashlib.sha256(data).hexdigest()
    (folder(ws) / "net.pth").unlink()
    file_key = next(k for k in drive.server.files if k.startswith("download:"))
    drive.server.files[file_key] = payload(40_000, seed=4)  # the upstream file changed
    with pytest.raises(ChecksumMismatch, match="recorded at its first install"):
        dl.fetch(ws)
    assert not (folder(ws) / "net.pth").exists()


def test_a_shipped_record_checks_the_first_download(drive):
    data = payload(30_000)
    root = drive.folder("models", {"net.pth": data})
    ws = folder_set(root, "net.pth", None)
    shipped.write({ws.name: {"net.pth": {"sha256": hashlib.sha256(b"other").hexdigest(),
                                         "size": 5, "source": "x", "recorded": "2026-01-01"}}})
    with pytest.raises(ChecksumMismatch, match="shipped in srarena's checksums.json"):
        dl.fetch(ws)
    assert not folder(ws).exists()
    shipped.write({ws.name: {"net.pth": {"sha256": hashlib.sha256(data).hexdigest(),
                                         "size": len(data), "source": "x",
                                         "recorded": "2026-01-01"}}})
    dl.fetch(ws)
    (st,) = status(ws)
    assert st.state == "verified" and st.checksum == "shipped"


def test_offline_mode_touches_no_socket(drive, monkeypatch):
    root = drive.folder("models", {"net.pth": payload(100)})
    ws = folder_set(root, "net.pth", payload(100))

    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched in offline mode")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for var in ("SRARENA_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
        start = time.monotonic()
        with pytest.raises(WeightsMissing, match="srarena weights fetch drive-set"):
            dl.fetch(ws)
        assert time.monotonic() - start < 0.5
        monkeypatch.delenv(var)
    assert drive.server.requests == []


def test_an_unlistable_folder_fails_with_one_sentence(drive):
    ws = folder_set("F" + "z" * 32, "net.pth", None)
    with pytest.raises(DownloadError, match="cannot list the Google Drive folder"):
        dl.fetch(ws)
