"""Registration: specs, options, no torch at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from srarena.components import GenerativeUpscaler


def test_registration_imports_no_torch():
    code = ("import srarena_apa.plugin, sys; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _specs():
    from srarena_apa import plugin

    specs = []
    plugin.srarena_register_upscalers(specs.append)
    return {spec.name: spec for spec in specs}


def test_specs():
    specs = _specs()
    assert set(specs) == {"apa", "apa-pretrained"}
    apa, pre = specs["apa"], specs["apa-pretrained"]
    for spec in (apa, pre):
        assert spec.mode == "generative" and spec.tiling == "unsupported"
        assert spec.precisions == ("fp32",)
        assert issubclass(spec.load(), GenerativeUpscaler)
    assert apa.weights is None and apa.resources.needs_gpu and apa.resources.gpus == 1
    assert pre.weights is not None and not pre.resources.needs_gpu
    assert [f.filename for f in pre.weights.files] == ["network-snapshot.pkl"]
    assert pre.weights.validator == "srarena_apa.checkpoint:validate"
    assert apa.options["kimg"] == 500 and apa.options["target"] == 0.6
    assert set(pre.options) == {"truncation_psi", "noise_mode"}


def test_unknown_option_is_refused():
    from srarena.components import Context

    spec = _specs()["apa"]
    with pytest.raises(ValueError, match="unknown options"):
        spec.load()(spec, Context(options={"kimgs": 3}))
