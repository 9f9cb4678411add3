"""Dataset sources (folder, study, degrade, samples), open_dataset and the degradation kernels."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srarena.datasets import DatasetError, open_dataset, parse_source
from srarena.datasets import degrade as dg
from srarena.datasets import samples as samples_module
from srarena.datasets.folder import FolderDataset
from srarena.datasets.samples import SampleDataset
from srarena.datasets.study import StudyDataset
from srarena.datasets.synthetic import DegradedDataset
from srarena.imageio import ImageError, load_image
from srarena.plugins import build_registry

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def png(path: Path, h: int = 16, w: int = 16, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(data).convert(mode).save(path)
    return path


def test_builtins_register_the_four_sources_without_importing_them(registry):
    assert {"samples", "folder", "study", "degrade"} <= set(registry.datasets)
    assert registry.datasets["samples"].has_hr and not registry.datasets["samples"].takes_argument
    assert registry.datasets["degrade"].has_hr and registry.datasets["degrade"].takes_argument
    code = (
        "import sys; from srarena.plugins import build_registry; build_registry(); "
        "print(sorted(m for m in sys.modules if m.startswith(('srarena.datasets', 'scipy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- folder -------------------------------------------------------------------------------


def test_folder_ids_are_stable_relative_paths_and_skip_hidden_and_non_images(tmp_path):
    root = tmp_path / "My Photos"
    png(root / "b.png")
    png(root / "sub" / "deeper" / "c.jpg")
    png(root / "a.png")
    png(root / "a.jpg")  # shares the stem with a.png: both keep their extension
    nfd = unicodedata.normalize("NFD", "café.png")
    png(root / nfd)
    png(root / ".hidden.png")
    png(root / ".cache" / "x.png")
    png(root / "__MACOSX" / "y.png")
    (root / "notes.txt").write_text("not an image")
    (root / "Thumbs.db").write_bytes(b"\0\1")
    spec = build_registry().dataset("folder")
    dataset = FolderDataset(spec, str(root))
    items = list(dataset.items())
    ids = [item.image_id for item in items]
    assert ids == sorted(["a.jpg", "a.png", "b", "café", "sub/deeper/c"])
    assert unicodedata.is_normalized("NFC", ids[ids.index("café")])
    assert {item.dataset for item in items} == {"My Photos"}
    assert {item.domain for item in items} == {"unknown"}
    assert all(item.hr is None for item in items)
    assert [i.image_id for i in FolderDataset(spec, str(root)).items()] == ids  # stable
    assert dataset.describe()["root"] == str(root.resolve())


def test_folder_options_name_and_domain_and_bad_arguments(tmp_path, registry):
    png(tmp_path / "imgs" / "x.png")
    spec = registry.dataset("folder")
    dataset = FolderDataset(spec, f"{tmp_path / 'imgs'}?domain=Aerial&name=ucm")
    item = next(iter(dataset.items()))
    assert (item.dataset, item.domain, item.image_id) == ("ucm", "Aerial", "x")
    with pytest.raises(DatasetError, match="unknown option 'colour'.*accepted: name"):
        FolderDataset(spec, f"{tmp_path / 'imgs'}?colour=red")
    with pytest.raises(DatasetError, match="given twice"):
        FolderDataset(spec, f"{tmp_path / 'imgs'}?name=a&name=b")
    with pytest.raises(DatasetError, match="does not exist"):
        FolderDataset(spec, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="not a folder"):
        FolderDataset(spec, str(tmp_path / "imgs" / "x.png"))
    with pytest.raises(DatasetError, match="give a folder"):
        FolderDataset(spec, None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files"):
        list(FolderDataset(spec, str(tmp_path / "empty")).items())


def test_folder_with_a_question_mark_in_its_name(tmp_path, registry):
    png(tmp_path / "what?" / "x.png")
    dataset = FolderDataset(registry.dataset("folder"), str(tmp_path / "what?"))
    assert dataset.name == "what?"


def test_items_are_lazy_and_picklable(tmp_path, registry):
    path = png(tmp_path / "imgs" / "x.png")
    item = next(iter(FolderDataset(registry.dataset("folder"), str(tmp_path / "imgs")).items()))
    clone = pickle.loads(pickle.dumps(item))  # executors ship items to workers
    np.testing.assert_array_equal(clone.lr(), load_image(path))
    path.unlink()
    with pytest.raises(ImageError, match="file not found"):
        item.lr()


def test_mixed_folder_awkward_images_load_and_broken_ones_report_reasons(tmp_path, registry):
    """Done-when of the datasets part: the run over every item finishes, failures explained."""
    import tifffile

    root = tmp_path / "mixed"
    png(root / "grey.png", mode="L")
    png(root / "palette.png", mode="P")
    png(root / "alpha.png", mode="RGBA")
    png(root / "cmyk.jpg", mode="CMYK")
    Image.fromarray(np.full((16, 16), 60000, np.uint16)).save(root / "deep.png")
    tifffile.imwrite(
        root / "float.tif", RNG.random((16, 16, 3)).astype(np.float32), photometric="rgb"
    )
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (24, 16), (9, 9, 9)).save(root / "rotated.jpg", exif=exif)
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:])
    whole = png(tmp_path / "whole.png", 64, 64).read_bytes()
    (root / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("not really a png")
    (root / "readme.md").write_text("ignored: not an image extension")
    loaded, failed = {}, {}
    for item in open_dataset(str(root), registry).items():
        try:
            loaded[item.image_id] = item.lr()
        except ImageError as exc:
            failed[item.image_id] = str(exc)
    assert set(loaded) == {"grey", "palette", "alpha", "cmyk", "deep", "float", "rotated", "anim"}
    assert all(a.dtype == np.float32 and a.ndim == 3 for a in loaded.values())
    channels = {name: a.shape[2] for name, a in loaded.items()}  # each file's own channels
    assert channels == {"grey": 1, "palette": 3, "alpha": 4, "cmyk": 3, "deep": 1, "float": 3,
                        "rotated": 3, "anim": 3}
    assert loaded["rotated"].shape == (24, 16, 3)
    np.testing.assert_allclose(loaded["deep"], 60000 / 65535, atol=1e-7)
    np.testing.assert_allclose(loaded["anim"][0, 0], [1, 0, 0], atol=1 / 255)
    assert set(failed) == {"truncated", "empty", "text"}
    assert "truncated" in failed["truncated"]
    assert "empty file" in failed["empty"]
    assert "not an image" in failed["text"]


# --- study layout -------------------------------------------------------------------------


def test_study_layout_gives_domain_and_dataset(tmp_path, registry):
    root = tmp_path / "study"
    png(root / "Aerial" / "UCMerced" / "img1.png")
    png(root / "Aerial" / "UCMerced" / "img2.png")
    png(root / "Fauna" / "Birds" / "b1.png")
    png(root / "Fauna" / "Birds" / "sub" / "b2.png")
    png(root / "loose.png")
    png(root / "Fauna" / "stray.png")
    dataset = StudyDataset(registry.dataset("study"), str(root))
    rows = [(i.domain, i.dataset, i.image_id) for i in dataset.items()]
    assert rows == [
        ("Aerial", "UCMerced", "img1"),
        ("Aerial", "UCMerced", "img2"),
        ("Fauna", "Birds", "b1"),
        ("Fauna", "Birds", "sub/b2"),
    ]
    facts = dataset.describe()
    assert facts["datasets"] == {"UCMerced": "Aerial", "Birds": "Fauna"}
    assert facts["misplaced"] == ["Fauna/stray", "loose"]


def test_study_refuses_a_dataset_name_in_two_domains(tmp_path, registry):
    png(tmp_path / "Aerial" / "test" / "a.png")
    png(tmp_path / "Medical" / "test" / "b.png")
    with pytest.raises(DatasetError, match="'test' appears under domains"):
        list(StudyDataset(registry.dataset("study"), str(tmp_path)).items())


# --- open_dataset -------------------------------------------------------------------------


def test_open_dataset_rules(tmp_path, registry, monkeypatch):
    flat = tmp_path / "flat"
    png(flat / "a.png")
    png(flat / "x" / "y" / "z.png")  # one image not at depth 3: a plain folder
    study = tmp_path / "study"
    png(study / "Flora" / "Leaves" / "a.png")
    assert parse_source("samples", registry) == ("samples", None)
    assert parse_source(f"folder:{study}", registry) == ("folder", str(study))
    assert parse_source(str(flat), registry) == ("folder", str(flat))
    assert parse_source(str(study), registry) == ("study", str(study))
    assert parse_source(f"{flat}?domain=Aerial", registry) == ("folder", f"{flat}?domain=Aerial")
    assert isinstance(open_dataset("samples", registry), SampleDataset)
    assert isinstance(open_dataset(str(study), registry), StudyDataset)
    opened = open_dataset(f"degrade:{flat}?scale=4&kernel=iso&sigma=1.5", registry)
    assert isinstance(opened, DegradedDataset) and opened.scale == 4
    monkeypatch.chdir(tmp_path)
    png(tmp_path / "samples" / "a.png")  # a folder named like a source
    assert parse_source("samples", registry) == ("samples", None)
    assert parse_source("./samples", registry) == ("folder", "./samples")
    with pytest.raises(DatasetError, match="takes no argument"):
        parse_source("samples:foo", registry)
    with pytest.raises(DatasetError, match="needs an argument"):
        parse_source("folder", registry)
    with pytest.raises(DatasetError, match="neither a dataset source .*installed: .*degrade"):
        parse_source("no/such/place", registry)


# --- degradation kernels ------------------------------------------------------------------


def _moments(weights: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(centre x, centre y, covariance) of a kernel, x = columns, y = rows."""
    size = weights.shape[0]
    coords = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(coords, coords)
    cx, cy = (weights * x).sum(), (weights * y).sum()
    dx, dy = x - cx, y - cy
    cov = np.array(
        [[(weights * dx * dx).sum(), (weights * dx * dy).sum()],
         [(weights * dx * dy).sum(), (weights * dy * dy).sum()]]
    )  # fmt: skip
    return cx, cy, cov


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_kernels_sum_to_one_are_non_negative_and_have_the_scale_parity(scale):
    rng = np.random.default_rng(0)
    kernels = [
        dg.isotropic(scale, 1.3),
        dg.random_isotropic(scale, rng),
        dg.random_anisotropic(scale, rng),
        dg.random_anisotropic(scale, rng, noise=0.25),
    ]
    if scale in (2, 4, 8):
        kernels.append(dg.random_div2krk(scale, rng))
    for kernel in kernels:
        assert math.isclose(kernel.weights.sum(), 1.0, rel_tol=1e-12)
        assert (kernel.weights >= 0).all()
        assert kernel.size % 2 == scale % 2
        assert kernel.size >= 2 * 3 * kernel.params.get("sigma", 0)


def test_div2krk_kernel_sizes_and_parameter_ranges():
    rng = np.random.default_rng(3)
    assert [dg.random_div2krk(s, rng).size for s in (2, 4, 8)] == [12, 34, 78]
    for _ in range(20):
        params = dg.random_div2krk(8, rng).params
        assert 0.6 <= params["sigma_1"] <= 5 and 0.6 <= params["sigma_2"] <= 5
        assert -math.pi <= params["theta"] <= math.pi and params["noise"] == 0.25
    with pytest.raises(ValueError, match="powers of two"):
        dg.random_div2krk(3, rng)


def test_kernels_are_reproducible_from_the_seed():
    first = dg.random_div2krk(8, np.random.default_rng(42))
    again = dg.random_div2krk(8, np.random.default_rng(42))
    other = dg.random_div2krk(8, np.random.default_rng(43))
    np.testing.assert_array_equal(first.weights, again.weights)
    assert first.params == again.params
    assert not np.array_equal(first.weights, other.weights)


@pytest.mark.parametrize("theta", [0.0, 0.5, math.pi / 2, 2.2, -1.0])
def test_anisotropic_kernel_orientation(theta):
    weights = dg.gaussian(8, 4.0, 1.5, theta)
    cx, cy, cov = _moments(weights)
    assert abs(cx) < 1e-9 and abs(cy) < 1e-9  # centred on the sample point
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, np.argmax(values)]  # (x, y) direction of the long axis
    angle = math.atan2(major[1], major[0])
    difference = (angle - theta) % math.pi
    assert min(difference, math.pi - difference) < 1e-3
    assert math.sqrt(values.max()) == pytest.approx(4.0, rel=0.02)
    assert math.sqrt(values.min()) == pytest.approx(1.5, rel=0.02)
    # theta = 0 spreads along rows' direction (x, columns): wider than tall
    if theta == 0.0:
        assert cov[0, 0] > cov[1, 1]


def test_kernel_noise_is_multiplicative_and_bounded():
    base = dg.gaussian(2, 2.0, 1.0, 0.3, size=12)
    noisy = dg.with_noise(base, 0.25, np.random.default_rng(0))
    factors = 1 + np.random.default_rng(0).uniform(-0.25, 0.25, size=base.shape)
    np.testing.assert_allclose(noisy, base * factors / (base * factors).sum())
    ratio = noisy / base
    assert ratio.max() / ratio.min() <= 1.25 / 0.75 and not np.allclose(noisy, base)
    assert math.isclose(noisy.sum(), 1.0)


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_lr_pixels_sit_at_block_centres(scale):
    n = 20 * scale
    ramp = np.tile((np.arange(n, dtype=np.float64) / n)[None, :, None], (n, 1, 3))
    for weights in (dg.gaussian(scale, 1.3), dg.gaussian(scale, 0.3), dg.gaussian(scale, 3, 1, 1)):
        lr = dg.blur_downsample(ramp, weights, scale)
        centres = (np.arange(n // scale) * scale + (scale - 1) / 2) / n
        np.testing.assert_allclose(lr[10, 6:-6, 1], centres[6:-6], atol=1e-6)


def test_composed_kernel_equals_repeated_x2_degradation():
    rng = np.random.default_rng(5)
    base = dg.with_noise(dg.gaussian(2, 2.5, 1.0, 0.7, size=12), 0.25, rng)
    image = rng.random((192, 160, 3))
    once = dg.blur_downsample(image, dg.compose_x2(base, 8), 8)
    thrice = image
    for _ in range(3):
        thrice = dg.blur_downsample(thrice, base, 2)
    # borders differ (reflection once vs at each step); the interior is the same operator
    np.testing.assert_allclose(once[6:-6, 6:-6], thrice[6:-6, 6:-6], atol=1e-6)


def test_direct_and_fft_paths_agree():
    image = np.random.default_rng(2).random((64, 48, 3))
    for weights, scale in ((dg.gaussian(8, 4), 8), (dg.random_div2krk(4, RNG).weights, 4)):
        direct = dg.blur_downsample(image, weights, scale, method="direct")
        fft = dg.blur_downsample(image, weights, scale, method="fft")
        np.testing.assert_allclose(direct, fft, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of the scale"):
        dg.blur_downsample(image[:63], dg.gaussian(8, 4), 8)


# --- degrade source -----------------------------------------------------------------------


def test_degrade_source_pairs_lr_with_cropped_hr(tmp_path, registry):
    root = tmp_path / "hr"
    png(root / "one.png", 70, 53)
    png(root / "two.png", 64, 64)
    png(root / "tiny.png", 5, 5)
    spec = registry.dataset("degrade")
    dataset = DegradedDataset(spec, f"{root}?scale=8&seed=3&domain=Flora")
    items = {item.image_id: item for item in dataset.items()}
    hr = items["one"].hr()
    lr = items["one"].lr()
    assert hr.shape == (64, 48, 3) and lr.shape == (8, 6, 3)
    np.testing.assert_array_equal(hr, load_image(root / "one.png")[:64, :48])
    np.testing.assert_array_equal(np.rint(lr * 255), lr * 255)  # 8-bit values
    expected = dg.quantise(dg.blur_downsample(hr, dataset.kernel("one").weights, 8))
    np.testing.assert_array_equal(lr, expected)
    assert items["one"].dataset == "hr-div2krk-x8" and items["one"].domain == "Flora"
    with pytest.raises(ImageError, match="smaller than the scale"):
        items["tiny"].lr()
    facts = dataset.describe()
    assert (facts["kernel"], facts["scale"], facts["seed"], facts["noise"]) == (
        "div2krk",
        8,
        3,
        0.25,
    )


def test_degrade_kernels_depend_on_seed_and_id_only(tmp_path, registry):
    root = tmp_path / "hr"
    png(root / "a.png")
    spec = registry.dataset("degrade")
    before = DegradedDataset(spec, f"{root}?seed=1").kernel("a").weights
    png(root / "b.png")
    after = DegradedDataset(spec, f"{root}?seed=1")
    np.testing.assert_array_equal(after.kernel("a").weights, before)
    assert not np.array_equal(after.kernel("b").weights, before)
    assert not np.array_equal(DegradedDataset(spec, f"{root}?seed=2").kernel("a").weights, before)
    iso = DegradedDataset(spec, f"{root}?kernel=iso&sigma=2&scale=3")
    np.testing.assert_array_equal(iso.kernel("a").weights, dg.gaussian(3, 2.0))


@pytest.mark.parametrize(
    "query,message",
    [
        ("scale=3", "power-of-two"),
        ("scale=1", "at least 2"),
        ("scale=x", "integer"),
        ("kernel=box", "one of div2krk"),
        ("kernel=aniso&sigma=2", "kernel=iso only"),
        ("kernel=iso&noise=0.1", "aniso or div2krk"),
        ("noise=1.5", r"\[0, 1\)"),
        ("sigma_min=3&sigma_max=1", "sigma_min <= sigma_max"),
        ("seed=-1", "at least 0"),
    ],
)
def test_degrade_options_are_checked(tmp_path, registry, query, message):
    png(tmp_path / "a.png")
    with pytest.raises(DatasetError, match=message):
        DegradedDataset(registry.dataset("degrade"), f"{tmp_path}?{query}")


# --- samples ------------------------------------------------------------------------------


def test_samples_cover_four_domains_with_hr_and_lr_at_one_eighth(registry):
    dataset = open_dataset("samples", registry)
    items = list(dataset.items())
    assert len({item.domain for item in items}) >= 4
    for item in items:  # datasets nest in domains, as in the study
        assert item.dataset == f"samples-{item.domain.lower()}"
    shapes = {}
    for item in items:
        hr, lr = item.hr(), item.lr()
        assert hr.shape[0] % 8 == 0 and hr.shape[1] % 8 == 0
        assert lr.shape == (hr.shape[0] // 8, hr.shape[1] // 8, 3)
        assert lr.dtype == np.float32 and lr.min() >= 0 and lr.max() <= 1
        # a blur keeps the mean brightness
        assert abs(float(lr.mean()) - float(hr.mean())) < 0.01
        shapes[item.image_id] = (hr.shape, lr.shape)
    assert shapes["retina"] == ((1024, 1024, 3), (128, 128, 3))
    np.testing.assert_array_equal(items[0].lr(), items[0].lr())  # deterministic


def test_samples_lr_is_the_documented_degradation(registry):
    item = next(i for i in open_dataset("samples", registry).items() if i.image_id == "coffee")
    kernel = samples_module.kernel()
    assert kernel.params == {"sigma": 4.0} and kernel.size == 26
    expected = dg.quantise(dg.blur_downsample(item.hr(), dg.gaussian(8, 4.0), 8))
    np.testing.assert_array_equal(item.lr(), expected)


def test_samples_ship_with_provenance_and_licence():
    folder = samples_module.folder()
    names = {p.name for p in folder.iterdir()}
    assert {f"{s.image_id}.png" for s in samples_module.SAMPLES} <= names
    assert {"PROVENANCE.md", "LICENSE.txt"} <= names
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 3_000_000
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    for sample in samples_module.SAMPLES:
        assert f"`{sample.image_id}.png`" in provenance


def test_samples_expose_their_true_kernel():
    from srarena.datasets import samples
    from srarena.plugins import get_registry

    spec = get_registry().dataset("samples")
    dataset = spec.load()(spec, None)
    kernel = dataset.kernel("retina")
    assert kernel is samples.kernel() and abs(kernel.weights.sum() - 1) < 1e-6
