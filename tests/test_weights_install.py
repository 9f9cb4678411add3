"""Installing by hand, validation with a readable diff, the cache's records, and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from srarena import hookimpl, plugins
from srarena import weights as W
from srarena.specs import MetricSpec, Source, UpscalerSpec, WeightFile, WeightSet
from srarena.weights import validate

torch = pytest.importorskip("torch", reason="the test architecture's files are torch checkpoints")

PLUGIN = "srarena_weights_test_plugin"
EXPECTED = {"conv.weight": (4, 3, 3, 3), "conv.bias": (4,)}
DRIVE = "https://drive.google.com/drive/folders/tiny"


def check_tiny(filename: str, path: Path) -> list[str]:
    """The test architecture's validator: keys and shapes of a 3->4 channel 3x3 conv."""
    from srarena.weights.statedict import check_state_file

    return check_state_file(path, EXPECTED, unwrap=("params",))


def _save(path: Path, out_channels: int = 4, seed: int = 0, wrap: bool = True) -> Path:
    gen = torch.Generator().manual_seed(seed)
    state = {"conv.weight": torch.randn(out_channels, 3, 3, 3, generator=gen),
             "conv.bias": torch.randn(out_channels, generator=gen)}
    torch.save({"params": state} if wrap else state, path)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh SRARENA_HOME, two weight sets, and a plugin declaring them."""
    monkeypatch.setenv("SRARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    files = tmp_path / "downloads"
    files.mkdir()
    good = _save(files / "tiny (1).pth")
    g_file = _save(files / "G.pth", seed=1)
    d_file = _save(files / "D.pth", seed=2)
    tiny = WeightSet(
        name="tiny-weights",
        files=(WeightFile("tiny.pth", (Source("manual", url=DRIVE,
                                              instructions="download tiny.pth"),)),),
        licence="MIT",
        validator=f"{PLUGIN}:check_tiny",
    )
    pair = WeightSet(
        name="pair-weights",
        files=(
            WeightFile("G.pth", (Source("https", url="https://example.invalid/G.pth"),),
                       sha256=hashlib.sha256(g_file.read_bytes()).hexdigest()),
            WeightFile("D.pth", (Source("https", url="https://example.invalid/D.pth"),)),
        ),
        validator=f"{PLUGIN}:check_tiny",
    )
    module = types.ModuleType(PLUGIN)
    module.SRARENA_API = 1
    module.check_tiny = check_tiny

    @hookimpl
    def srarena_register_upscalers(register):
        register(UpscalerSpec(name="tiny-sr", factory="x.y:Z", scales=(2,), weights=tiny))
        register(UpscalerSpec(name="pair-sr", factory="x.y:Z", scales=(2,), weights=pair))

    @hookimpl
    def srarena_register_metrics(register):
        register(MetricSpec(name="tiny-iqa", factory="x.y:Z", weights=tiny))

    module.srarena_register_upscalers = srarena_register_upscalers
    module.srarena_register_metrics = srarena_register_metrics
    monkeypatch.setitem(sys.modules, PLUGIN, module)
    monkeypatch.setattr(plugins, "BUILTIN_PLUGINS", plugins.BUILTIN_PLUGINS + (PLUGIN,))
    monkeypatch.setenv("SRARENA_PLUGINS", "")
    plugins.get_registry(refresh=True)
    yield types.SimpleNamespace(tiny=tiny, pair=pair, good=good, g=g_file, d=d_file, dir=files)
    monkeypatch.undo()
    plugins.get_registry(refresh=True)


def _app() -> typer.Typer:
    from srarena.cli import weights as weights_cli

    app = typer.Typer()
    weights_cli.register(app)
    return app


def _cli(*args: str):
    return CliRunner(env={"COLUMNS": "200"}).invoke(_app(), list(args))


# --- the library ----------------------------------------------------------------------------


def test_missing_weights_name_the_file_the_page_and_the_command(env):
    with pytest.raises(W.WeightsMissing) as info:
        W.resolve(env.tiny)
    message = str(info.value)
    assert "tiny.pth" in message and DRIVE in message and "download tiny.pth" in message
    assert "srarena weights add tiny-weights FILE..." in message
    assert W.fix_command(env.tiny) == "srarena weights add tiny-weights FILE..."
    assert W.fix_command(env.pair) == "srarena weights fetch pair-weights"
    assert W.missing_files(env.pair) == ["G.pth", "D.pth"]


def test_add_accepts_a_good_file_and_records_its_sha256(env):
    (st,) = validate.add(env.tiny, [env.good])
    sha = hashlib.sha256(env.good.read_bytes()).hexdigest()
    assert st.state == "recorded" and st.sha256 == sha and st.source == "added from tiny (1).pth"
    installed = W.folder(env.tiny) / "tiny.pth"
    assert installed.read_bytes() == env.good.read_bytes()
    assert W.resolve(env.tiny) == {"tiny.pth": installed}
    manifest = json.loads((W.folder(env.tiny) / ".srarena-manifest.json").read_text())
    assert manifest["files"]["tiny.pth"]["sha256"] == sha
    assert [p.name for p in W.folder(env.tiny).iterdir() if p.suffix == ".part"] == []


def test_add_refuses_a_wrong_architecture_with_a_diff(env):
    wrong = _save(env.dir / "wrong.pth", out_channels=8)
    with pytest.raises(W.WeightsInvalid) as info:
        validate.add(env.tiny, [wrong])
    assert str(info.value) == (
        f"{wrong} does not fit tiny-weights (tiny.pth):\n"
        "  - shape mismatches (2): conv.weight: expected [4, 3, 3, 3], file has [8, 3, 3, 3]; "
        "conv.bias: expected [4], file has [8]"
    )
    assert not W.folder(env.tiny).exists() or not any(W.folder(env.tiny).iterdir())
    unwrapped = _save(env.dir / "renamed.pth", wrap=False)
    torch.save({"params": {"body.weight": torch.zeros(1)}}, unwrapped)
    with pytest.raises(W.WeightsInvalid, match=r"(?s)missing keys \(2\).*unexpected keys \(1\)"):
        validate.add(env.tiny, [unwrapped])


def test_add_refuses_a_malicious_checkpoint_without_running_it(env, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    evil = env.dir / "evil.pth"
    torch.save({"params": Evil()}, evil)
    with pytest.raises(W.WeightsInvalid, match="safe loader refused it"):
        validate.add(env.tiny, [evil])
    assert not marker.exists() and W.missing_files(env.tiny) == ["tiny.pth"]


def test_add_matches_files_of_a_set_by_name_or_checksum(env):
    renamed = env.dir / "generator-download.pth"
    shutil.copy(env.g, renamed)
    statuses = validate.add(env.pair, [renamed, env.d])  # G by declared sha256, D by name
    assert [(s.filename, s.state) for s in statuses] == [("G.pth", "verified"),
                                                         ("D.pth", "recorded")]
    with pytest.raises(W.WeightsInvalid, match="cannot tell which file of pair-weights"):
        validate.add(env.pair, [env.good])
    with pytest.raises(W.ChecksumMismatch, match="is declared as"):
        validate.add(env.pair, [_save(env.dir / "G.pth", seed=5)])
    with pytest.raises(W.WeightsInvalid, match="has one file"):
        validate.add(env.tiny, [env.g, env.d])


def test_add_takes_a_folder(env):
    folder = env.dir / "pair"
    folder.mkdir()
    shutil.copy(env.g, folder / "G.pth")
    shutil.copy(env.d, folder / "D.pth")
    validate.add(env.pair, [folder])
    assert W.missing_files(env.pair) == []
    assert set(W.resolve(env.pair)) == {"G.pth", "D.pth"}


def test_override_is_validated(env):
    assert W.resolve(env.tiny, env.good) == {"tiny.pth": env.good}
    wrong = _save(env.dir / "wrong.pth", out_channels=2)
    with pytest.raises(W.WeightsInvalid, match=r"(?s)^--weights: .*shape mismatches"):
        W.resolve(env.tiny, wrong)
    with pytest.raises(W.WeightsInvalid, match="give a folder holding them"):
        W.resolve(env.pair, env.g)
    with pytest.raises(W.WeightsMissing, match="the folder lacks G.pth, D.pth"):
        W.resolve(env.pair, env.dir / "..")
    with pytest.raises(W.WeightsMissing, match="no such file or folder"):
        W.resolve(env.tiny, env.dir / "nothing.pth")
    assert W.resolve(env.pair, env.dir) == {"G.pth": env.g, "D.pth": env.d}


def test_a_file_placed_by_hand_is_validated_then_trusted(env):
    target = W.folder(env.tiny) / "tiny.pth"
    target.parent.mkdir(parents=True)
    _save(target, out_channels=5)
    assert [s.state for s in W.status(env.tiny)] == ["unchecked"]
    with pytest.raises(W.WeightsInvalid, match="shape mismatches"):
        W.resolve(env.tiny)
    shutil.copy(env.good, target)
    assert W.resolve(env.tiny) == {"tiny.pth": target}
    (st,) = W.status(env.tiny)
    assert st.state == "recorded" and st.source == "placed by hand"


def test_a_changed_file_is_caught(env):
    validate.add(env.tiny, [env.good])
    target = W.folder(env.tiny) / "tiny.pth"
    _save(target, seed=9)  # same architecture, other bytes
    assert [s.state for s in W.status(env.tiny)] == ["unchecked"]
    (st,) = validate.verify(env.tiny)
    assert st.state == "mismatch" and "recorded at its first install" in st.detail
    with pytest.raises(W.ChecksumMismatch, match="srarena weights add tiny-weights"):
        W.resolve(env.tiny)


def test_fingerprint_follows_content(env):
    validate.add(env.tiny, [env.good])
    cached = W.resolve(env.tiny)
    same = W.fingerprint({"tiny.pth": env.good})
    assert W.fingerprint(cached) == same
    assert W.fingerprint({"tiny.pth": env.g}) != same
    assert W.fingerprint({"other.pth": env.good}) != same



def test_components_take_passed_files_and_verify_the_rest_from_the_cache(env):
    """``weight_paths``: the caller's files win; the others come from the cache, verified."""
    from srarena.components import Context, Upscaler

    class Probe(Upscaler):
        def upscale(self, image):
            raise NotImplementedError

    spec = UpscalerSpec(name="pair-sr", factory="x.y:Z", scales=(2,), weights=env.pair)
    with pytest.raises(W.WeightsMissing, match="G.pth, D.pth"):
        Probe(spec, 2, Context()).weight_paths()
    passed = Probe(spec, 2, Context(weights={"G.pth": env.g, "D.pth": env.d}))
    assert passed.weight_paths() == {"G.pth": env.g, "D.pth": env.d}  # nothing else read
    only_g = Probe(spec, 2, Context(weights={"G.pth": env.g}))
    with pytest.raises(W.WeightsMissing, match="D.pth") as missing:
        only_g.weight_paths()
    assert "G.pth" not in str(missing.value)
    assert only_g.weight_paths(optional=["D.pth"]) == {"G.pth": env.g}

    validate.add(env.pair, [env.g, env.d])
    cached = W.folder(env.pair)
    assert Probe(spec, 2, Context()).weight_paths() == {
        "G.pth": cached / "G.pth", "D.pth": cached / "D.pth"}
    _save(cached / "D.pth", seed=9)  # changed after it was recorded
    for call in (lambda: only_g.weight_paths(), lambda: only_g.weight_paths(optional=["D.pth"])):
        with pytest.raises(W.ChecksumMismatch, match="D.pth"):
            call()


OURS = ("tiny-weights", "pair-weights")


def test_declared_sets_and_lookup_by_component(env):
    sets = W.declared()
    assert sets["tiny-weights"].users == ["upscaler:tiny-sr", "metric:tiny-iqa"]
    assert W.find("tiny-sr") == env.tiny and W.find("tiny-iqa") == env.tiny
    assert W.find("pair-weights") == env.pair
    with pytest.raises(W.UnknownWeights, match="declared: .*pair-weights, .*tiny-weights"):
        W.find("nope")


def _bogus_safetensors(path: Path, length: int = 1 << 62) -> Path:
    path.write_bytes(length.to_bytes(8, "little") + b'{"conv.weight": {}}' + b"\0" * 64)
    return path


def test_a_safetensors_header_that_cannot_be_right_is_refused_in_one_sentence(env):
    bogus = _bogus_safetensors(env.dir / "bogus.safetensors")  # a header of 2^62 bytes
    with pytest.raises(W.WeightsInvalid, match="not a valid safetensors file") as info:
        W.load_state(bogus)
    assert "\n" not in str(info.value)
    problems = check_tiny("tiny.pth", bogus)
    assert len(problems) == 1 and "not a valid safetensors file" in problems[0]
    with pytest.raises(W.WeightsInvalid):
        validate.add(env.tiny, [bogus])
    assert not W.folder(env.tiny).exists()


def test_a_readable_header_with_bad_contents_is_refused_too(env):
    broken = env.dir / "broken.safetensors"
    header = b'{"conv.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 999]}}'
    broken.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(W.WeightsInvalid, match="not a readable safetensors file"):
        W.load_state(broken)


def test_a_copy_left_by_an_interrupted_add_is_cleaned_by_the_next(env):
    base = W.folder(env.pair)
    base.mkdir(parents=True)
    stale = base / "G.pth.add.part"  # what a kill during the copy leaves
    stale.write_bytes(b"half a copy")
    resumable = base / "D.pth.part"  # an interrupted download of another file: fetch resumes it
    resumable.write_bytes(b"first bytes")
    validate.add(env.pair, [env.g])
    assert not stale.exists() and resumable.read_bytes() == b"first bytes"
    assert [st.state for st in W.status(env.pair)] == ["verified", "partial"]
    validate.add(env.pair, [env.d])  # D is installed now: its download partial goes
    assert sorted(p.name for p in base.iterdir()) == [".srarena-manifest.json", "D.pth", "G.pth"]


def test_adding_a_file_that_differs_from_the_shipped_record_is_refused(env, monkeypatch,
                                                                        tmp_path):
    from srarena.weights import shipped

    monkeypatch.setattr(shipped, "MANIFEST", tmp_path / "checksums.json")
    shipped.write({"tiny-weights": {"tiny.pth": {"sha256": "0" * 64, "size": 1, "source": "x",
                                                 "recorded": "2026-01-01"}}})
    with pytest.raises(W.ChecksumMismatch, match="shipped in srarena's checksums.json"):
        validate.add(env.tiny, [env.good])
    sha = hashlib.sha256(env.good.read_bytes()).hexdigest()
    shipped.write({"tiny-weights": {"tiny.pth": {"sha256": sha, "size": 1, "source": "x",
                                                 "recorded": "2026-01-01"}}})
    (st,) = validate.add(env.tiny, [env.good])
    assert (st.state, st.checksum) == ("verified", "shipped")


# --- the command line -----------------------------------------------------------------------


def test_cli_list_shows_needs_and_fixes(env):
    rows = [r for r in json.loads(_cli("weights", "list", "--json").stdout)
            if r["weights"] in OURS]  # built-ins (MANIQA) declare weight sets too
    assert [(r["weights"], r["file"], r["state"], r["fix"]) for r in rows] == [
        ("pair-weights", "G.pth", "missing", "srarena weights fetch pair-weights"),
        ("pair-weights", "D.pth", "missing", "srarena weights fetch pair-weights"),
        ("tiny-weights", "tiny.pth", "missing", "srarena weights add tiny-weights FILE..."),
    ]
    assert rows[2]["users"] == ["upscaler:tiny-sr", "metric:tiny-iqa"]
    assert rows[2]["sources"] == [f"manual download from {DRIVE} (download tiny.pth)"]
    table = _cli("weights", "list").stdout
    assert "srarena weights add tiny-weights FILE..." in table and "tiny-sr" in table


def test_cli_add_good_then_list_says_trusted_on_first_use(env):
    result = _cli("weights", "add", "tiny-sr", str(env.good))
    assert result.exit_code == 0, result.output
    sha = hashlib.sha256(env.good.read_bytes()).hexdigest()
    assert f"tiny-weights/tiny.pth: installed, sha256 {sha}" in result.stdout
    table = _cli("weights", "list").stdout
    lines = table.splitlines()
    line = next(line for line in lines if line.startswith("tiny.pth "))
    assert line.split()[:4] == ["tiny.pth", "recorded", "first", "use"]  # file, status, sha256
    assert lines[lines.index(line) - 1].split()[:2] == ["tiny-weights", "1/1"]  # its set above
    assert "first use = recorded here at first use (trust on first use)" in table
    (row,) = [r for r in json.loads(_cli("weights", "list", "--format", "json").stdout)
              if r["weights"] == "tiny-weights"]
    assert row["checksum"] == "first-use" and row["checksum_text"] == "recorded here at first use"


def test_cli_add_wrong_prints_the_diff_and_installs_nothing(env):
    wrong = _save(env.dir / "wrong.pth", out_channels=8)
    result = _cli("weights", "add", "tiny-weights", str(wrong))
    assert result.exit_code == 1
    assert "conv.weight: expected [4, 3, 3, 3], file has [8, 3, 3, 3]" in result.stderr
    assert W.missing_files(env.tiny) == ["tiny.pth"]


@pytest.fixture
def hub(env, monkeypatch):
    """A loopback Hugging Face endpoint (HF_ENDPOINT) that redirects to a CDN path, as the Hub
    does for large files."""
    from weights_server import Server

    server = Server()
    monkeypatch.setenv("HF_ENDPOINT", server.base)
    monkeypatch.delenv("SRARENA_OFFLINE")
    yield server
    server.close()


def test_cli_add_from_the_hugging_face_hub(env, hub):
    hub.redirects["/org/tiny-model/resolve/v2/weights/tiny.pth"] = "/cdn/abc"
    hub.files["/cdn/abc"] = env.good.read_bytes()
    result = _cli("weights", "add", "tiny-weights", "hf://org/tiny-model/weights/tiny.pth@v2")
    assert result.exit_code == 0, result.output
    sha = hashlib.sha256(env.good.read_bytes()).hexdigest()
    assert f"tiny-weights/tiny.pth: installed, sha256 {sha}" in result.stdout
    assert (W.folder(env.tiny) / "tiny.pth").read_bytes() == env.good.read_bytes()
    assert [r[0] for r in hub.requests] == ["/org/tiny-model/resolve/v2/weights/tiny.pth",
                                            "/cdn/abc"]
    assert not (W.home() / "weights" / ".hub").exists()  # the staged copy is gone


def test_cli_add_from_the_hub_checks_the_file_and_keeps_nothing_it_refused(env, hub):
    wrong = _save(env.dir / "wrong.pth", out_channels=8)
    hub.files["/org/m/resolve/main/tiny.pth"] = wrong.read_bytes()
    result = _cli("weights", "add", "tiny-weights", "hf://org/m/tiny.pth")
    assert result.exit_code == 1
    assert "conv.weight: expected [4, 3, 3, 3], file has [8, 3, 3, 3]" in result.stderr
    assert W.missing_files(env.tiny) == ["tiny.pth"]
    assert not (W.home() / "weights" / ".hub").exists()
    bad = _cli("weights", "add", "tiny-weights", "hf://org/only-two")
    assert bad.exit_code == 1 and "hf://OWNER/REPO/PATH/TO/FILE" in bad.stderr


def test_cli_add_from_the_hub_offline_is_one_sentence(env, hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _cli("weights", "add", "tiny-weights", "hf://org/m/tiny.pth")
    assert result.exit_code == 1 and "offline mode" in result.stderr
    assert hub.requests == []


def test_cli_verify_path_and_errors(env):
    validate.add(env.tiny, [env.good])
    assert _cli("weights", "verify", "tiny-weights").exit_code == 0
    _save(W.folder(env.tiny) / "tiny.pth", seed=3)
    result = _cli("weights", "verify", "--json")
    assert result.exit_code == 1
    states = {(r["weights"], r["file"]): r["state"] for r in json.loads(result.stdout)
              if r["weights"] in OURS}
    assert states == {("tiny-weights", "tiny.pth"): "mismatch",
                      ("pair-weights", "G.pth"): "missing", ("pair-weights", "D.pth"): "missing"}
    path = _cli("weights", "path", "pair-sr")
    assert path.exit_code == 0 and path.stdout.strip() == str(W.folder(env.pair))
    unknown = _cli("weights", "path", "nope")
    assert unknown.exit_code == 2 and "no weight set named 'nope'" in unknown.stderr
    assert _cli("weights", "fetch").exit_code == 2


def test_cli_fetch_offline_names_the_fix(env):
    result = _cli("weights", "fetch", "pair-weights")
    assert result.exit_code == 1
    assert "https://example.invalid/G.pth" in result.stderr
    assert "srarena weights add pair-weights FILE..." in result.stderr


@pytest.mark.parametrize("command", [["--help"], ["plugins", "--json"], ["weights", "list"]])
def test_listing_commands_import_neither_torch_nor_the_network_libraries(tmp_path, command):
    heavy = ("torch", "gdown", "requests", "huggingface_hub")
    code = (
        "import sys\n"
        "from srarena.cli import main\n"
        f"sys.argv = ['srarena'] + {command!r}\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"found = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not found, f'imported: {found}'\n"
    )
    environ = dict(os.environ, SRARENA_HOME=str(tmp_path))  # every installed plugin loads
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("width", [80, 60])
def test_weights_list_fits_the_width_and_cuts_no_name(width):
    """Every installed plugin's sets (the real registry): no line over the width, and every
    set and file name whole on one line."""
    plugins.get_registry(refresh=True)
    rows = json.loads(CliRunner().invoke(_app(), ["weights", "list", "--format", "json"]).stdout)
    assert {"dan-v1", "moesr-emad2022", "maniqa-pipal"} <= {r["weights"] for r in rows}
    result = CliRunner(env={"COLUMNS": str(width)}).invoke(_app(), ["weights", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    words = {word for line in lines for word in line.split()}
    for row in rows:
        assert row["weights"] in words and row["file"] in words
    manual = {r["weights"] for r in rows if r["get"] == "manual"}
    assert manual == {"apa-snapshot", "fastgan-checkpoint", "spandrel"}
    for name in manual:
        assert any(line.strip().startswith(f"{name}: manual (") for line in lines)
