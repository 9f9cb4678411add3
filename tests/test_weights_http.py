"""Downloads from a loopback HTTP server: progress, resume, checksums, offline, timeouts."""

from __future__ import annotations

import hashlib
import socket
import sys
import time
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner
from weights_server import Server

from srarena import hookimpl, plugins
from srarena.specs import Source, UpscalerSpec, WeightFile, WeightSet
from srarena.weights import (
    ChecksumMismatch,
    DownloadError,
    WeightsMissing,
    folder,
    home,
    resolve,
    status,
)
from srarena.weights import download as dl


@pytest.fixture
def server(monkeypatch, tmp_path):
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SRARENA_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    srv = Server()
    yield srv
    srv.close()


def _payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


def _set(url: str, data: bytes | None, name: str = "tiny", declare_sha: bool = True,
         filename: str = "net.pth", extra: tuple[Source, ...] = ()) -> WeightSet:
    sha = hashlib.sha256(data).hexdigest() if data is not None and declare_sha else None
    sources = (Source("https", url=url),) + extra
    return WeightSet(name=name, files=(WeightFile(filename, sources, sha256=sha),))


def test_fetch_reports_progress_and_never_shows_a_partial_file(server):
    data = _payload(700_000)
    server.files["/w/net.pth"] = data
    ws = _set(server.base + "/w/net.pth", data)
    final = folder(ws) / "net.pth"
    calls = []

    def progress(label, done, total):
        calls.append((label, done, total))
        assert not final.exists(), "the final name appears only after the check"

    dl.fetch(ws, progress)
    assert final.read_bytes() == data
    assert [c[0] for c in calls] == ["net.pth"] * len(calls) and len(calls) >= 4
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert calls[-1] == ("net.pth", len(data), len(data))
    assert [st.state for st in status(ws)] == ["verified"]
    assert sorted(p.name for p in folder(ws).iterdir()) == [".srarena-manifest.json", "net.pth"]
    assert resolve(ws) == {"net.pth": final}
    server.requests.clear()
    dl.fetch(ws)  # already installed and recorded: nothing is downloaded again
    assert server.requests == []


def test_a_cut_connection_resumes_with_a_range_request(server):
    data = _payload(900_000)
    server.files["/net.pth"] = data
    server.cuts["/net.pth"] = [300_000, 200_000]
    ws = _set(server.base + "/net.pth", data)
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data
    assert server.requests == [
        ("/net.pth", None), ("/net.pth", "bytes=300000-"), ("/net.pth", "bytes=500000-")
    ]
    assert server.sent == len(data)


def test_a_stalled_transfer_times_out_and_resumes(server, monkeypatch):
    data = _payload(600_000)
    server.files["/net.pth"] = data
    server.stalls["/net.pth"] = [250_000]
    monkeypatch.setenv("SRARENA_HTTP_TIMEOUT", "0.3")
    ws = _set(server.base + "/net.pth", data)
    start = time.monotonic()
    dl.fetch(ws)
    assert time.monotonic() - start < 3
    assert (folder(ws) / "net.pth").read_bytes() == data
    assert server.requests == [("/net.pth", None), ("/net.pth", "bytes=250000-")]


def test_an_interrupted_download_resumes_in_a_later_call(server):
    data = _payload(500_000)
    server.files["/net.pth"] = data
    ws = _set(server.base + "/net.pth", data)
    server.cuts["/net.pth"] = [120_000] * dl.ATTEMPTS  # every attempt of this call is cut
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        dl.fetch(ws)
    part = folder(ws) / "net.pth.part"
    assert part.stat().st_size == 120_000 * dl.ATTEMPTS
    assert not (folder(ws) / "net.pth").exists()
    assert [st.state for st in status(ws)] == ["partial"]
    server.requests.clear()
    dl.fetch(ws)
    assert server.requests == [("/net.pth", f"bytes={120_000 * dl.ATTEMPTS}-")]
    assert (folder(ws) / "net.pth").read_bytes() == data and not part.exists()


def test_a_corrupt_partial_file_is_redone_from_scratch(server):
    data = _payload(300_000)
    server.files["/net.pth"] = data
    ws = _set(server.base + "/net.pth", data)
    folder(ws).mkdir(parents=True)
    (folder(ws) / "net.pth.part").write_bytes(b"\xff" * 1000)
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data
    assert server.requests == [("/net.pth", "bytes=1000-"), ("/net.pth", None)]


def test_a_server_that_ignores_ranges_restarts_the_file(server):
    data = _payload(300_000)
    server.files["/net.pth"] = data
    server.ranges = False
    ws = _set(server.base + "/net.pth", data)
    folder(ws).mkdir(parents=True)
    (folder(ws) / "net.pth.part").write_bytes(data[:5000])
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data


def test_checksum_mismatch_is_refused_and_leaves_nothing(server):
    server.files["/net.pth"] = _payload(200_000)
    ws = _set(server.base + "/net.pth", _payload(200_000, seed=1))
    with pytest.raises(ChecksumMismatch, match="the file was discarded") as info:
        dl.fetch(ws)
    expected = hashlib.sha256(_payload(200_000, seed=1)).hexdigest()
    assert expected in str(info.value) and "net.pth" in str(info.value)
    assert not folder(ws).exists()
    assert [p for p in home().rglob("*") if p.is_file()] == []
    with pytest.raises(WeightsMissing):
        resolve(ws)


def test_next_source_is_tried_when_one_fails(server):
    data = _payload(10_000)
    server.files["/mirror/net.pth"] = data
    ws = _set(server.base + "/gone/net.pth", data,
              extra=(Source("https", url=server.base + "/mirror/net.pth"),))
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data
    assert [r[0] for r in server.requests] == ["/gone/net.pth", "/mirror/net.pth"]


def test_hugging_face_sources_resolve_and_follow_redirects(server, monkeypatch):
    data = _payload(50_000)
    monkeypatch.setenv("HF_ENDPOINT", server.base)
    server.redirects["/org/model/resolve/v1.0/sub/net.pth"] = "/cdn/blob123"
    server.files["/cdn/blob123"] = data
    ws = WeightSet(name="hf", files=(WeightFile("net.pth", (
        Source("huggingface", repo="org/model", filename="sub/net.pth", revision="v1.0"),),
        sha256=hashlib.sha256(data).hexdigest()),))
    dl.fetch(ws)
    assert (folder(ws) / "net.pth").read_bytes() == data
    assert [r[0] for r in server.requests] == ["/org/model/resolve/v1.0/sub/net.pth",
                                               "/cdn/blob123"]


def test_trust_on_first_use_records_and_then_enforces(server):
    data = _payload(40_000)
    server.files["/net.pth"] = data
    ws = _set(server.base + "/net.pth", data, declare_sha=False)
    dl.fetch(ws)
    (st,) = status(ws)
    assert st.state == "recorded" and st.sha256 == hashlib.sha256(data).hexdigest()
    assert "trusted on first use" in st.describe()
    (folder(ws) / "net.pth").unlink()
    server.files["/net.pth"] = _payload(40_000, seed=3)  # upstream changed
    with pytest.raises(ChecksumMismatch, match="recorded at its first install") as info:
        dl.fetch(ws)
    assert "srarena weights add tiny FILE" in str(info.value)
    assert not (folder(ws) / "net.pth").exists()


def test_offline_mode_opens_no_socket(server, monkeypatch):
    server.files["/net.pth"] = _payload(1000)
    ws = _set(server.base + "/net.pth", _payload(1000))

    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched in offline mode")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for var in ("SRARENA_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
        start = time.monotonic()
        with pytest.raises(WeightsMissing) as info:
            dl.fetch(ws)
        assert time.monotonic() - start < 0.5
        message = str(info.value)
        assert "net.pth" in message and server.base + "/net.pth" in message
        assert "srarena weights fetch tiny" in message and "srarena weights add tiny" in message
        monkeypatch.delenv(var)
    assert server.requests == []


def test_an_unresponsive_host_fails_fast(server, monkeypatch):
    server.hang.add("/slow.pth")
    monkeypatch.setenv("SRARENA_HTTP_TIMEOUT", "0.5")
    ws = _set(server.base + "/slow.pth", b"x")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        dl.fetch(ws)
    assert time.monotonic() - start < 3


def test_an_unreachable_host_fails_fast(server):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    ws = _set(f"http://127.0.0.1:{port}/net.pth", b"x")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="cannot reach 127.0.0.1"):
        dl.fetch(ws)
    assert time.monotonic() - start < 3
    assert not folder(ws).exists()


def test_plain_http_is_refused_off_loopback(server, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", pytest.fail)
    ws = _set("http://example.com/net.pth", b"x")
    with pytest.raises(DownloadError, match="only https://"):
        dl.fetch(ws)


def test_manual_sources_say_where_and_how(server):
    ws = WeightSet(name="gdrive", files=(WeightFile("G.pkl", (Source(
        "manual", url="https://drive.google.com/drive/folders/abc",
        instructions="open the folder and download G.pkl"),)),))
    with pytest.raises(WeightsMissing) as info:
        dl.fetch(ws)
    message = str(info.value)
    assert "G.pkl" in message and "https://drive.google.com/drive/folders/abc" in message
    assert "open the folder and download G.pkl" in message
    assert "srarena weights add gdrive FILE..." in message
    assert server.requests == []


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_plugin(server, monkeypatch):
    """A tiny plugin whose upscaler needs one file served by the loopback server."""
    data = _payload(400_000)
    server.files["/tiny/net.pth"] = data
    ws = _set(server.base + "/tiny/net.pth", data, name="tiny-weights")
    module = types.ModuleType("srarena_weights_http_plugin")
    module.SRARENA_API = 1

    @hookimpl
    def srarena_register_upscalers(register):
        register(UpscalerSpec(name="tiny-sr", factory="x.y:Z", scales=(2,), weights=ws))

    module.srarena_register_upscalers = srarena_register_upscalers
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(plugins, "BUILTIN_PLUGINS", plugins.BUILTIN_PLUGINS + (module.__name__,))
    monkeypatch.setenv("SRARENA_PLUGINS", "")
    plugins.get_registry(refresh=True)
    yield ws, data
    monkeypatch.undo()
    plugins.get_registry(refresh=True)


def _cli(*args):
    import typer

    from srarena.cli import weights as weights_cli

    app = typer.Typer()
    weights_cli.register(app)
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))


def test_cli_fetch_shows_progress_and_installs(cli_plugin):
    ws, data = cli_plugin
    result = _cli("weights", "fetch", "tiny-sr")
    assert result.exit_code == 0, result.output
    assert "tiny-weights/net.pth" in result.stderr
    assert "400.0/400.0 kB" in result.stderr  # the progress bar's last state
    assert "sha256 matches" in result.stderr
    assert (folder(ws) / "net.pth").read_bytes() == data
    listing = _cli("weights", "list")
    assert "verified" in listing.stdout and "tiny-sr" in listing.stdout


def test_cli_fetch_failure_exits_nonzero_with_the_reason(cli_plugin, server):
    server.files["/tiny/net.pth"] = b"not the declared file"
    result = _cli("weights", "fetch", "--all")
    assert result.exit_code == 1
    assert "sha256" in result.stderr and "discarded" in result.stderr
    assert not (folder(cli_plugin[0]) / "net.pth").exists()


# --- shipped records (scripts/record_checksums.py) ------------------------------------------


def test_a_maintainers_record_is_shipped_then_checks_every_users_fetch(server, monkeypatch,
                                                                       tmp_path):
    import importlib.util
    import json

    from srarena.weights import shipped

    manifest = tmp_path / "checksums.json"
    monkeypatch.setattr(shipped, "MANIFEST", manifest)
    data = _payload(30_000)
    server.files["/net.pth"] = data
    ws = _set(server.base + "/net.pth", data, declare_sha=False)
    user_home = home()
    lines = shipped.record(ws)
    assert lines == [f"tiny/net.pth: recorded sha256 {hashlib.sha256(data).hexdigest()} "
                     f"(30000 bytes) from {server.base}/net.pth"]
    assert home() == user_home and not folder(ws).exists()  # recorded in a scratch folder
    entry = json.loads(manifest.read_text())["sets"]["tiny"]["net.pth"]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == 30_000
    assert entry["source"] == server.base + "/net.pth" and entry["recorded"]
    assert shipped.record(ws) == ["tiny/net.pth: matches the shipped record"]
    # a user's first fetch is checked against the shipped record, not trusted
    server.files["/net.pth"] = _payload(30_000, seed=2)
    with pytest.raises(ChecksumMismatch, match="shipped in srarena's checksums.json"):
        dl.fetch(ws)
    assert not folder(ws).exists()
    with pytest.raises(ChecksumMismatch):  # the maintainer is told too, and nothing changes
        shipped.record(ws)
    assert json.loads(manifest.read_text())["sets"]["tiny"]["net.pth"] == entry
    spec = importlib.util.spec_from_file_location(
        "record_checksums", Path(__file__).parents[1] / "scripts" / "record_checksums.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(plugins, "get_registry", lambda refresh=False: types.SimpleNamespace(
        upscalers={"tiny-sr": UpscalerSpec(name="tiny-sr", factory="x.y:Z", weights=ws)},
        metrics={}))
    assert script.main(["--replace", "tiny-sr"]) == 0  # accepting the changed upstream
    changed = json.loads(manifest.read_text())["sets"]["tiny"]["net.pth"]
    assert changed["sha256"] == hashlib.sha256(_payload(30_000, seed=2)).hexdigest()
    dl.fetch(ws)
    assert [(st.state, st.checksum) for st in status(ws)] == [("verified", "shipped")]


def test_the_shipped_manifest_holds_only_real_records():
    """What srarena ships: the versioned format, and no entry without a full sha256."""
    import json

    from srarena.weights import shipped

    data = json.loads(shipped.MANIFEST.read_text())
    assert data["format"] == shipped.FORMAT
    for files in data["sets"].values():
        for entry in files.values():
            assert len(entry["sha256"]) == 64 and entry["size"] > 0
            assert entry["source"].startswith("https://") and entry["recorded"]
