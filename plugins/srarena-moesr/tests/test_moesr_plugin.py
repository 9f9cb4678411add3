"""Registration, spec declarations and the upscaler's behaviour around the golden path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from srarena_moesr.plugin import SPEC
from srarena_moesr.upscaler import MoESRUpscaler

from srarena.components import Context, InputRefused
from srarena.weights import WeightsMissing

SRC = str(Path(__file__).resolve().parents[1] / "src")
QUICK = {"iterations": 3, "crop_size": 14, "real": True, "max_lr": 1e-3}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_registration_imports_no_torch():
    code = ("import sys, srarena_moesr.plugin as p; assert 'torch' not in sys.modules; "
            "assert p.SRARENA_API == 1")
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


def test_registers_through_the_core():
    code = (
        "from srarena.plugins import build_registry\n"
        "r = build_registry()\n"
        "spec = r.upscaler('moesr-emad2022')\n"
        "info = [p for p in r.plugins if p.module == 'srarena_moesr.plugin'][0]\n"
        "assert info.ok, info.error\n"
        "assert spec.scales == (2, 4)\n"
    )
    env = _env() | {"SRARENA_PLUGINS": "", "SRARENA_PLUGIN_MODULES": "srarena_moesr.plugin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_spec_declarations():
    assert SPEC.name == "moesr-emad2022" and "spandrel" in SPEC.description
    assert SPEC.scales == (2, 4)
    assert SPEC.tiling == "unsupported"
    assert SPEC.precisions == ("fp32",)
    assert SPEC.side_outputs == ("kernel", "kernel_params", "ise_errors")
    assert SPEC.options["iterations"] == 1000 and SPEC.options["crop_size"] == 128
    assert SPEC.load() is MoESRUpscaler
    names = [f.filename for f in SPEC.weights.files]
    assert names == [f"x{s}_{n}" for s in (2, 4)
                     for n in ("SR_networks_ensemble.pt", "ISE.pt", "KEN.pt")]
    assert "no licence" in SPEC.weights.licence and "no licence" in SPEC.licence
    from srarena.specs import load_factory

    assert callable(load_factory(SPEC.weights.validator))


def _upscaler(weights, **context) -> MoESRUpscaler:
    context.setdefault("options", QUICK)
    return MoESRUpscaler(SPEC, 2, Context(weights=weights((2,)), **context))


def test_refusals(moesr_weights, moesr_input):
    with pytest.raises(ValueError, match="fp32"):
        _upscaler(moesr_weights, precision="bf16")
    with pytest.raises(ValueError, match="crop size"):
        _upscaler(moesr_weights, options={"crop_size": 13})
    with pytest.raises(WeightsMissing, match="x2_ISE.pt"):
        MoESRUpscaler(SPEC, 2, Context(weights={}))
    with pytest.raises(InputRefused, match="128x128"):
        _upscaler(moesr_weights, options={}).upscale(moesr_input)


def test_seeded_and_reproducible(moesr_weights, moesr_input):
    first = _upscaler(moesr_weights, seed=5).upscale(moesr_input)
    again = _upscaler(moesr_weights, seed=5).upscale(moesr_input)
    other = _upscaler(moesr_weights, seed=6).upscale(moesr_input)
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)  # the real-image noise follows the seed
    assert first.info["expert"] == other.info["expert"]


def test_method_is_global_so_tiling_is_unsupported(moesr_weights, moesr_input):
    """The kernel estimate and the fine-tuning crops come from the whole image: upscaling the
    left half alone estimates another kernel and gives another left half, far from the seam."""
    options = {"iterations": 5, "crop_size": 14, "real": True, "max_lr": 1e-2}
    full = _upscaler(moesr_weights, options=options).upscale(moesr_input)
    left = _upscaler(moesr_weights, options=options).upscale(moesr_input[:, :25])
    params = full.side_outputs["kernel_params"] - left.side_outputs["kernel_params"]
    assert np.abs(params).max() > 1e-3
    away = np.abs(full.image[:, :30] - left.image[:, :30])
    assert away.max() > 1.5 / 255


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
def test_cuda_matches_official_cpu_output(moesr_weights, moesr_golden, moesr_input):
    golden = moesr_golden("golden_x2")
    meta = golden["meta"]
    options = {"iterations": meta["iters"], "crop_size": meta["crop"], "real": meta["real"],
               "max_lr": meta["max_lr"]}
    context = Context(device="cuda", weights=moesr_weights((2,)), options=options,
                      seed=meta["seed"])
    result = MoESRUpscaler(SPEC, 2, context).upscale(moesr_input)
    assert result.info["expert"] == str(golden["chosen"])
    levels = np.round(result.image * 255).astype(int)
    diff = np.abs(levels - golden["sr_uint8"].astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
