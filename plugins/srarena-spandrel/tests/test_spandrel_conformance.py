"""srarena's conformance kit (``srarena.testing``) on the plugin: the generic upscaler, the
zoo's specs, and models added through the importer."""

from __future__ import annotations

import pytest
from srarena_spandrel import zoo

from srarena import testing

TILE_TOLERANCE = 0.05
"""Mean |tiled - whole| allowed for tiling='supported'. spandrel's SUPPORTED means that tiles
with an overlap give the same picture, not the same bits: a convolutional model's receptive
field reaches past a 16px tile's 4px overlap (the kit's test), so tiled and whole differ by
a few grey levels at tile seams, well within this bound (measured: about 0.005 here)."""


def test_registration_imports_no_torch(models, sp):
    """Also with added models: registration reads the manifest, not the files."""
    assert sp.cli("weights", "add", "spandrel", models["esrgan"], "--name", "a").exit_code == 0
    testing.check_registration_without_torch("srarena_spandrel.plugin")


@pytest.mark.parametrize("name", ["spandrel", *(f"spandrel:{m.name}" for m in zoo.ZOO)])
def test_spec_conforms(name):
    testing.check_spec(testing.registered("upscaler", name))


@pytest.mark.parametrize("arch_id", ["esrgan", "swinir", "realesrgan-x2plus"])
def test_added_upscaler_conforms(arch_id, models, sp):
    assert sp.cli("weights", "add", "spandrel", models[arch_id], "--name", "c").exit_code == 0
    spec = testing.registered("upscaler", "spandrel:c")
    testing.check_spec(spec)
    testing.check_upscaler(spec, testing.context(), tile_tolerance=TILE_TOLERANCE)


def test_family_conforms(models, sp, tmp_path):
    x2 = sp.COMPACT_X2.write(tmp_path / "m")
    assert sp.cli("weights", "add", "spandrel", x2, models["span"], "--name",
                  "fam").exit_code == 0
    spec = testing.registered("upscaler", "spandrel:fam")
    assert spec.scales == (2, 4)
    testing.check_upscaler(spec, testing.context(), tile_tolerance=TILE_TOLERANCE)


def test_generic_upscaler_conforms(models):
    spec = testing.registered("upscaler", "spandrel")
    testing.check_upscaler(spec, testing.context(weights={"model": models["omnisr"]}))


def test_zoo_weights_roundtrip(models, sp, tmp_path):
    """A file with the shape of the zoo's x4plus (ESRGAN x4) installs under the official
    name; a Compact x4 file is refused by the validator."""
    spec = testing.registered("upscaler", "spandrel:realesrgan-x4plus")
    resolved = testing.check_weights_roundtrip(
        spec, {"RealESRGAN_x4plus.pth": models["esrgan"]},
        broken={"RealESRGAN_x4plus.pth": models["compact"]})
    assert set(resolved) == {"RealESRGAN_x4plus.pth"}
    rows = sp.cli("weights", "list", "--json").output
    assert '"recorded"' in rows  # no published sha256: trusted on first use


def test_added_weights_roundtrip(models, sp):
    assert sp.cli("weights", "add", "spandrel", models["hat"], "--name", "h").exit_code == 0
    spec = testing.registered("upscaler", "spandrel:h")
    (wf,) = spec.weights.files
    resolved = testing.check_weights_roundtrip(spec, {wf.filename: models["hat"]},
                                               broken={wf.filename: models["dat"]})
    assert set(resolved) == {"HAT-x2.pth"}
