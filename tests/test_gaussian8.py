"""The Gaussian-8 protocol (IKC, DAN setting 1) against the official DAN degradation code.

Golden data: ``tests/fixtures/gaussian8`` (see its PROVENANCE.md): the LR images that
greatlog/DAN's ``generate_mod_blur_LR_bic.py`` degradation made from ``hr.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srarena.datasets import degrade
from srarena.datasets.files import DatasetError
from srarena.imageio import load_image, to_uint8

FIXTURES = Path(__file__).parent / "fixtures" / "gaussian8"
GOLDEN = np.load(FIXTURES / "official_lr.npz")
CASES = sorted({key.split("_", 1)[1] for key in GOLDEN.files})
TIE = 2e-4  # 8-bit levels: the float32 round-off of the official code (PROVENANCE.md)


@pytest.fixture
def registry():
    from srarena.plugins import build_registry

    return build_registry()


def _case(name: str) -> tuple[int, float]:
    scale, sigma = name.split("_")
    return int(scale[1:]), float(sigma.removeprefix("sigma"))


@pytest.mark.parametrize("case", CASES)
def test_lr_equals_the_official_code(case):
    scale, sigma = _case(case)
    hr = degrade.modcrop(load_image(FIXTURES / "hr.png"), scale)
    ours = degrade.gaussian8_degrade(hr, sigma, scale)
    official = GOLDEN[f"float_{case}"].astype(np.float64)
    assert ours.shape == official.shape
    assert np.abs(ours - official).max() * 255 < TIE
    mine, theirs = to_uint8(ours).astype(int), GOLDEN[f"lr_{case}"].astype(int)
    differ = mine != theirs
    on_tie = np.abs((official * 255) % 1 - 0.5) < TIE
    assert not (differ & ~on_tie).any()
    assert np.abs(mine - theirs).max() <= 1
    assert differ.sum() <= 1


def test_the_official_widths_at_x4():
    assert degrade.gaussian8_sigmas(4) == pytest.approx([1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2])
    assert degrade.gaussian8_sigmas(2, 0.8, 1.6)[0] == 0.8
    with pytest.raises(ValueError, match="x4 only"):
        degrade.gaussian8_sigmas(2)


def test_kernel_is_the_official_21x21():
    k = degrade.centred_gaussian(2.6)
    assert k.shape == (21, 21) and k.sum() == pytest.approx(1.0)
    assert k[10, 10] == k.max() and np.allclose(k, k.T) and np.allclose(k, k[::-1])


def test_downscale_keeps_a_constant_and_weights_sum_to_one():
    m = degrade.bicubic_down_matrix(37, 3)
    assert m.shape == (12, 37) and np.allclose(m.sum(axis=1), 1.0)
    flat = np.full((12, 8, 3), 0.25)
    assert np.allclose(degrade.matlab_downscale(flat, 4), 0.25)


def test_degrade_source_gaussian8(tmp_path, registry):
    from PIL import Image

    from srarena.datasets import open_dataset

    folder = tmp_path / "hr"
    folder.mkdir()
    Image.open(FIXTURES / "hr.png").save(folder / "img.png")
    dataset = open_dataset(f"degrade:{folder}?kernel=gaussian8&scale=4&name=Set5", registry)
    items = list(dataset.items())
    assert [i.image_id for i in items] == [f"sigma{s:g}/img" for s in
                                           (1.8, 2, 2.2, 2.4, 2.6, 2.8, 3, 3.2)]
    lr = items[4].lr()
    assert to_uint8(lr).shape == (15, 12, 3)
    assert np.abs(to_uint8(lr).astype(int) - GOLDEN["lr_x4_sigma2.6"]).max() <= 1
    assert items[0].hr().shape == (60, 48, 3)
    assert dataset.kernel(items[0].image_id).params == {"sigma": 1.8}
    assert dataset.describe()["sigmas"][0] == 1.8
    with pytest.raises(DatasetError, match="x4 only"):
        open_dataset(f"degrade:{folder}?kernel=gaussian8&scale=2", registry)
    two = open_dataset(f"degrade:{folder}?kernel=gaussian8&scale=2&sigma_min=1.2&sigma_max=1.2",
                       registry)
    got = to_uint8(next(iter(two.items())).lr())
    assert np.array_equal(got, GOLDEN["lr_x2_sigma1.2"])
