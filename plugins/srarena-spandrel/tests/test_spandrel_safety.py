"""Safe loading and refusals: a malicious pickle runs nothing; files that are not SR models
(restoration, x1) or not models at all are refused with a clear message, when added and
when loaded."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest


class Evil:
    """A pickle payload: unpickling it runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_files(folder: Path, marker: Path) -> list[Path]:
    """The payload in torch's zip format (a pickle inside), and as bare pickles (protocol 2,
    torch's, and 4, Python's default)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    zipped = folder / "evil.pth"
    torch.save({"params": {"conv.weight": torch.zeros(2, 2)}, "extra": Evil(marker)}, zipped)
    paths = [zipped]
    for protocol in (2, 4):
        bare = folder / f"evil-p{protocol}.ckpt"
        bare.write_bytes(pickle.dumps({"params": {"w": [0.0]}, "extra": Evil(marker)},
                                      protocol=protocol))
        paths.append(bare)
    return paths


def test_the_payload_is_real(tmp_path):
    """Unpickled without precautions, the file does run its command (so the refusals below
    mean something)."""
    marker = tmp_path / "ran"
    legacy = _evil_files(tmp_path / "m", marker)[1]
    code = f"import pickle; pickle.load(open({str(legacy)!r}, 'rb'))"
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                   cwd=Path(__file__).parent)
    assert marker.exists()


def test_a_malicious_pickle_is_refused_and_runs_nothing(sp, tmp_path):
    marker = tmp_path / "pwned"
    for path in _evil_files(tmp_path / "m", marker):
        result = sp.cli("weights", "add", "spandrel", path, "--name", "evil")
        assert result.exit_code == 1, result.output
        assert "refused before anything in it ran" in result.output
        if "p4" not in path.name:  # torch names the refused global (posix.system)
            assert "system" in result.output
        source = sp.write_png(tmp_path / "a.png", sp.make_image(8, 8))
        result = sp.cli("upscale", "-u", "spandrel", "--weights", path, "--scale", 2, source,
                        tmp_path / "out.png")
        assert result.exit_code == 1, result.output
        assert "refused" in result.output
    assert not marker.exists()
    assert not (tmp_path / "out.png").exists()
    assert "spandrel:evil" not in sp.cli("spandrel", "list", "--json").output


@pytest.mark.parametrize("which, words", [
    ("SCUNET", "a restoration model"),
    ("COMPACT_X1", "a restoration model"),
])
def test_models_that_are_not_sr_are_refused(which, words, sp, tmp_path):
    path = getattr(sp, which).write(tmp_path / "m")
    result = sp.cli("weights", "add", "spandrel", path, "--name", "nope")
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert words in text and "not a super-resolution model" in text
    source = sp.write_png(tmp_path / "a.png", sp.make_image(8, 8))
    result = sp.cli("upscale", "-u", "spandrel", "--weights", path, "--scale", 2, source,
                    tmp_path / "out.png")
    assert result.exit_code == 1 and "not a super-resolution model" in result.output


def test_a_non_sr_file_is_refused_at_load_time_too(sp, tmp_path):
    """Past every check (handed straight to the implementation), the upscaler refuses it."""
    from srarena_spandrel.upscaler import SpandrelUpscaler

    from srarena import testing
    from srarena.kit import WeightsInvalid

    path = sp.SCUNET.write(tmp_path / "m")
    spec = testing.registered("upscaler", "spandrel")
    with pytest.raises(WeightsInvalid, match="not a super-resolution model"):
        SpandrelUpscaler(spec, 2, testing.context(weights={"model": path}))


def test_files_that_are_no_models_are_refused(sp, tmp_path):
    import torch

    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x01")
    result = sp.cli("weights", "add", "spandrel", onnx)
    assert result.exit_code == 1 and ".safetensors" in result.output
    foreign = tmp_path / "foreign.pth"
    torch.save({"a.weight": torch.zeros(3, 3)}, foreign)
    result = sp.cli("weights", "add", "spandrel", foreign)
    assert result.exit_code == 1 and "does not recognise" in result.output
    script = tmp_path / "scripted.pt"
    torch.jit.script(torch.nn.Conv2d(3, 3, 1)).save(str(script))
    result = sp.cli("weights", "add", "spandrel", script)
    assert result.exit_code == 1 and "TorchScript" in result.output
    result = sp.cli("weights", "add", "spandrel", tmp_path / "absent.pth")
    assert result.exit_code == 1 and "no such file" in result.output


def test_zoo_names_and_weight_sets_are_not_taken_by_added_models(models, sp):
    result = sp.cli("weights", "add", "spandrel", models["esrgan"], "--name",
                    "realesrgan-x4plus")
    assert result.exit_code == 1 and "zoo model" in result.output
    result = sp.cli("weights", "add", "spandrel", models["esrgan"], "--name", "Bad Name")
    assert result.exit_code == 1 and "lower-case" in result.output
    result = sp.cli("weights", "add", "bicubic-nothing", models["esrgan"], "--name", "x")
    assert result.exit_code == 2 and "--name applies to importers" in result.output


def _rrdb_with_growth(growth: int) -> dict:
    """A tiny RRDBNet state dict (ESRGAN's layout) whose dense blocks grow by ``growth``
    channels; spandrel builds them with 32."""
    import re

    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    state = dict(ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4).state_dict())
    for key in list(state):
        found = re.match(r"model\.1\.sub\.0\.RDB\d\.conv(\d)\.0\.(weight|bias)$", key)
        if found:
            conv = int(found.group(1))
            out = 8 if conv == 5 else growth
            shape = (out, 8 + (conv - 1) * growth, 3, 3) if found.group(2) == "weight" else (out,)
            state[key] = torch.zeros(shape)
    return state


def test_a_model_spandrel_cannot_build_is_refused_naming_the_limit(sp, tmp_path):
    import torch

    path = tmp_path / "gc16.pth"
    torch.save(_rrdb_with_growth(16), path)
    result = sp.cli("weights", "add", "spandrel", path)
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in text
    assert "RRDBNet (ESRGAN) with 16 growth channels" in text
    assert "spandrel builds every RRDBNet with 32" in text
    assert "size mismatch" not in text


def test_other_shape_mismatches_are_summarised_from_the_network_spandrel_built():
    """An architecture without a known limit: torch's size-mismatch dump becomes the shapes'
    differences (first three), read from the error spandrel raised."""
    from spandrel.architectures.Compact import Compact
    from srarena_spandrel.loading import cannot_load

    built = Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4)
    other = Compact(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=2, upscale=4).state_dict()
    with pytest.raises(RuntimeError, match="size mismatch") as caught:
        built.load_state_dict(other)
    text = cannot_load(other, caught.value)
    assert text.startswith("spandrel 0.4.2 reads it as Compact but cannot build it: ")
    assert "shape mismatches (10): body.0.weight: expected [8, 3, 3, 3], file has " \
           "[16, 3, 3, 3]" in text
    assert "… and 7 more" in text and "Error(s) in loading" not in text


def test_a_safetensors_file_with_an_impossible_header_is_refused_in_one_line(sp, tmp_path):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes((1 << 62).to_bytes(8, "little") + b'{"a": 1}' + bytes(32))
    result = sp.cli("weights", "add", "spandrel", bogus)
    assert result.exit_code == 1
    assert "not a valid safetensors file" in result.output and "Traceback" not in result.output
    assert len(set(result.output.strip().splitlines())) == 1  # (stdout and stderr mixed)


def test_a_model_on_the_hugging_face_hub_is_added_with_hf_urls(sp, tmp_path, monkeypatch):
    """``weights add spandrel hf://owner/repo/file``: downloaded from HF_ENDPOINT (a loopback
    server laid out as the Hub's resolve URLs), then imported like a local file."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "hub" / "org" / "tiny-sr" / "resolve" / "main" / "models"
    model = sp.COMPACT_X2.write(served)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "hub"))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("SRARENA_OFFLINE")
    try:
        result = sp.cli("weights", "add", "spandrel", f"hf://org/tiny-sr/models/{model.name}",
                        "--name", "hubby")
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert "spandrel:hubby: added" in result.output and "downloaded from hf://org/tiny-sr" in (
        result.output)
    assert "spandrel:hubby" in sp.cli("spandrel", "list", "--json").output
