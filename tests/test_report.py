"""``srarena report``: a small real run (classical upscalers and fakes on the embedded samples)
turned into an HTML page and Markdown, checked file by file and in headless Chromium."""

from __future__ import annotations

import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from srarena.report import ReportError, ReportOptions, VisualOptions, build_report
from srarena.report import images as pictures

SUPPORT = Path(__file__).parent / "support"
UPSCALERS = ["nearest", "bicubic", "fake-x2", "fake-broken"]
DATASETS = {"samples-astronomy", "samples-fauna", "samples-food", "samples-medical",
            "samples-people"}


def _options(plots: bool = False, **visuals) -> ReportOptions:
    return ReportOptions(plots=plots, n_resamples=200, visuals=VisualOptions(**visuals))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """One run for the whole module: 4 upscalers (one always failing, one estimating
    kernels through an x2 x2 x2 chain) on the six samples, scored by PSNR and SSIM (and NIQE
    when it is registered)."""
    from srarena import plugins
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench

    folder = tmp_path_factory.mktemp("report-run") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SRARENA_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("SRARENA_OFFLINE", "1")
        patch.syspath_prepend(str(SUPPORT))
        patch.setenv("SRARENA_PLUGIN_MODULES", "fake_plugin")
        registry = plugins.get_registry(refresh=True)
        metrics = ["psnr", "ssim"] + (["niqe"] if "niqe" in registry.metrics else [])
        config = BenchConfig(upscalers=UPSCALERS, datasets=["samples"], metrics=metrics, scale=8)
        Bench(registry, config, folder).run()
    plugins.get_registry(refresh=True)
    return folder


@pytest.fixture(scope="module")
def report(run_folder):
    return build_report(run_folder, options=_options(plots=True))


class Links(HTMLParser):
    """Every src and href of a page, and the ids of its sections."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.sources.append(attrs["src"])
            self.images.append(attrs)
        if tag in ("a", "link") and attrs.get("href") and not attrs["href"].startswith(
                ("#", "data:")):
            self.links.append(attrs["href"])


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_page_is_self_contained_and_every_file_exists(report):
    page = parse(report.html)
    assert {"verdict", "leaderboards", "plots", "runtime", "grids", "extremes", "kernels",
            "gallery", "problems", "run"} <= page.ids
    assert len(page.sources) > 50
    for target in page.sources + page.links:
        assert "://" not in target and not target.startswith("/"), target
        assert (report.html.parent / unquote(target)).is_file(), target
    for image in page.images:  # space reserved before loading, loaded lazily
        assert int(image["width"]) > 0 and int(image["height"]) > 0
        assert image["loading"] == "lazy"
    text = report.html.read_text()
    assert "<script" not in text and "@import" not in text and "url(" not in text


def test_leaderboards_per_metric_dataset_and_domain(report):
    sections = {s.name: s for s in report.report.metrics}
    assert {"psnr", "ssim"} <= set(sections)
    psnr = sections["psnr"]
    assert psnr.higher_is_better and psnr.protocol.startswith("PSNR")
    assert {row[1] for row in psnr.datasets.rows} == DATASETS
    assert {row[1] for row in psnr.domains.rows} == {"Astronomy", "Fauna", "Food", "Medical",
                                                     "People"}
    assert set(psnr.datasets.columns) == {"nearest", "bicubic", "fake-x2"}
    # bicubic beats nearest neighbour on every sample; fake-x2 (repeated pixels) equals it
    for dataset in DATASETS:
        bicubic = psnr.datasets.cells[(dataset, "bicubic")]
        nearest = psnr.datasets.cells[(dataset, "nearest")]
        assert bicubic.best and bicubic.rank == 1 and nearest.rank == 2
        assert nearest.mean == pytest.approx(psnr.datasets.cells[(dataset, "fake-x2")].mean)
    medical = psnr.domains.cells[("Medical", "bicubic")]
    assert medical.n == 2 and medical.low <= medical.mean <= medical.high
    assert psnr.overall[0]["upscaler"] == "bicubic" and psnr.overall[0]["images"] == 6
    html = report.html.read_text()
    assert "psnr" in html and "95 % bootstrap" in html
    assert [p.title for p in psnr.plots][:3] == ["Mean per dataset, by domain",
                                                 "Critical-difference diagram",
                                                 "Score distributions"]


def test_grids_show_lr_outputs_and_hr_with_the_same_crop(report):
    grids = report.report.grids
    assert {g.dataset for g in grids} == DATASETS
    folder = report.html.parent
    for grid in grids:
        labels = [p.label for p in grid.panels]
        assert labels[0] == "LR input (nearest ×8)" and labels[-1] == "HR ground truth"
        assert set(labels[1:-1]) == set(UPSCALERS)
        broken = next(p for p in grid.panels if p.label == "fake-broken")
        assert broken.thumb is None and "always fails" in broken.caption
        crops = {p.label: np.asarray(Image.open(folder / p.crop.src))
                 for p in grid.panels if p.crop is not None}
        # the nearest-neighbour output is the LR enlarged: the same region cut from both,
        # enlarged with nearest neighbour, is the same picture
        np.testing.assert_array_equal(crops["nearest"], crops["LR input (nearest ×8)"])
        assert crops["HR ground truth"].shape == crops["bicubic"].shape
        x0, y0, x1, y1 = grid.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        lr = next(p for p in grid.panels if p.kind == "lr")
        with Image.open(folder / lr.full) as full:  # LR shown at the output size
            nearest = next(p for p in grid.panels if p.label == "nearest")
            with Image.open(folder / nearest.full) as output:
                assert full.size == output.size


def test_extremes_kernels_runtime_and_problems(report):
    r = report.report
    assert r.metric == "psnr"
    extremes = {e.upscaler: e for e in r.extremes}
    assert set(extremes) == {"nearest", "bicubic", "fake-x2"}
    best, worst = extremes["bicubic"].best, extremes["bicubic"].worst
    assert len(best) == 3 and len(worst) == 3
    assert best[0].value >= best[-1].value >= worst[-1].value >= worst[0].value
    assert best[0].image_id == "retina"  # smooth fundus photograph: the easiest sample
    (only,) = {k.upscaler for k in r.kernels}
    assert only == "fake-x2"
    for kernel_set in r.kernels:
        assert [k[0] for k in kernel_set.kernels] == ["step1_x2_kernel", "step2_x2_kernel",
                                                      "step3_x2_kernel"]
    runtime = {row["upscaler"]: row for row in r.runtime}
    assert runtime["bicubic"]["ok"] == 6 and runtime["bicubic"]["mean_s"] > 0
    assert runtime["bicubic"]["peak_mb"] > 0 and runtime["bicubic"]["chain"] == "x8"
    assert runtime["fake-x2"]["chain"] == "x2_x2_x2"
    assert runtime["fake-broken"]["failed"] == 6
    failed = [p for p in r.problems if p["upscaler"] == "fake-broken"]
    assert {p["kind"] for p in failed} == {"cell", "output"}
    output = next(p for p in failed if p["kind"] == "output")
    assert output["count"] == 6 and "always fails" in output["reason"]
    assert set(output["datasets"]) == DATASETS
    assert r.config["scale"] == 8 and r.environment["python"]
    gallery = {g.dataset: g for g in r.gallery}
    assert set(gallery) == DATASETS
    assert [image_id for image_id, _ in gallery["samples-medical"].rows] == [
        "immunohistochemistry", "retina"]


def test_markdown_twin(report):
    text = report.markdown.read_text()
    assert text.startswith("# srarena report")
    for heading in ("## Leaderboards", "### psnr", "#### Per dataset", "## Visual comparison",
                    "## Best and worst images by psnr", "## Estimated blur kernels",
                    "## Runtime and memory", "## Skipped and failed"):
        assert heading in text
    assert "| Food / samples-food |" in text
    import re

    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert (report.markdown.parent / unquote(target)).is_file(), target


def test_chosen_images_metric_and_errors(run_folder, tmp_path):
    visuals = VisualOptions(images=["samples-food/coffee", "retina"], gallery=False, extremes=1)
    written = build_report(run_folder, tmp_path / "r",
                           ReportOptions(metric="ssim", plots=False, n_resamples=0,
                                         visuals=visuals))
    grids = written.report.grids
    assert [(g.dataset, g.image_id) for g in grids] == [("samples-food", "coffee"),
                                                        ("samples-medical", "retina")]
    assert all(g.why == "chosen with --images" for g in grids)
    assert written.report.metric == "ssim" and not written.report.gallery
    assert all(len(e.best) == 1 and len(e.worst) == 1 for e in written.report.extremes)
    with pytest.raises(ReportError, match="no input image 'nope'"):
        build_report(run_folder, tmp_path / "r", _options(images=["nope"]))
    with pytest.raises(ReportError, match="no scores for metric 'maniqa'"):
        build_report(run_folder, tmp_path / "r", ReportOptions(metric="maniqa"))
    with pytest.raises(ReportError, match="not a run folder"):
        build_report(tmp_path, tmp_path / "r")


def test_rebuild_prunes_stale_assets(run_folder, tmp_path):
    out = tmp_path / "r"
    first = build_report(run_folder, out, _options())
    before = len(parse(first.html).sources)
    made = {p: p.stat().st_mtime_ns for p in (out / "assets" / "thumbs").rglob("*.*")}
    assert len(made) == 18 and all(p.name.count(".") == 1 for p in made)
    build_report(run_folder, out, _options())  # thumbnails are reused, not made again
    assert {p: p.stat().st_mtime_ns for p in (out / "assets" / "thumbs").rglob("*.*")} == made
    stale = out / "assets" / "thumbs" / "old.webp"
    stale.write_bytes(b"old")
    thumbs = len(list((out / "assets" / "thumbs").rglob("*.*")))
    second = build_report(run_folder, out, _options(gallery=False))
    assert not stale.exists()
    left = len(list((out / "assets" / "thumbs").rglob("*.*")))
    assert 0 < left < thumbs  # only the best/worst thumbnails remain
    for target in parse(second.html).sources:
        assert (out / unquote(target)).is_file()
    assert before > len(parse(second.html).sources)


def test_dataset_that_cannot_be_reopened(run_folder, tmp_path):
    from srarena.store import Store

    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    store = Store(copy)
    config = store.get_meta("config")
    store.set_meta("config", {**config, "datasets": [str(tmp_path / "gone")]})
    store.close()
    written = build_report(copy, options=_options(gallery=False))
    assert any("could not be reopened" in n for n in written.report.notes)
    for grid in written.report.grids:
        assert {p.kind for p in grid.panels} == {"output"}
        assert grid.box is not None
    for target in parse(written.html).sources:
        assert (written.html.parent / unquote(target)).is_file()


def test_run_without_scores(fake_plugin, tmp_path):
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench

    Bench(fake_plugin, BenchConfig(upscalers=["fake-x2"], datasets=["noise:2"], metrics=[],
                                   scale=2), tmp_path / "run").run()
    written = build_report(tmp_path / "run", options=_options())
    r = written.report
    assert not r.metrics and r.metric is None and not r.extremes
    assert any("no leaderboard" in n for n in r.notes)
    assert [(g.dataset, g.image_id) for g in r.grids] == [("noise", "img000")]
    assert "No successful scores" in written.html.read_text()


def test_detail_box_finds_the_textured_region():
    rng = np.random.default_rng(0)
    image = np.full((64, 96, 3), 0.5, np.float32)
    image[40:56, 70:86] = rng.random((16, 16, 3))
    box = pictures.detail_box(pictures.from_array(image), (48, 32), 8)
    x0, y0, x1, y1 = box
    assert (x1 - x0) * 48 == pytest.approx(8) and (y1 - y0) * 32 == pytest.approx(8)
    assert x0 * 96 <= 70 and x1 * 96 >= 86 and y0 * 64 <= 40 and y1 * 64 >= 56


def test_kernel_pictures(tmp_path):
    kernel = np.zeros((5, 5))
    kernel[2, 3] = 1.0
    picture = pictures.kernel_picture(pictures.kernel_array(kernel[None]), tmp_path / "k", 50)
    pixels = np.asarray(Image.open(picture.path)).astype(int)
    assert picture.width == 50 and pixels.shape == (50, 50, 3)
    brightest = np.unravel_index(pixels.sum(-1).argmax(), pixels.shape[:2])
    assert brightest[0] // 10 == 2 and brightest[1] // 10 == 3
    assert pictures.kernel_array(np.zeros((2, 3, 4))) is None
    assert pictures.kernel_array(np.array([[np.nan]])) is None


def test_html_escapes_names():
    from srarena.report import html
    from srarena.report.model import Report

    page = html.render(Report(title="<script>alert(1)</script>", run="r&d", created="now",
                              metric=None, summary={}, config={"x": "<b>"}, environment={},
                              datasets=[]))
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page


def test_cli_report_and_open(run_folder, tmp_path, monkeypatch):
    import webbrowser

    from srarena.cli import _install_commands, app

    _install_commands()
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    out = tmp_path / "page"
    result = CliRunner().invoke(app, ["report", str(run_folder), "--out", str(out), "--open",
                                      "--no-gallery", "-i", "coffee,astronaut",
                                      "--no-plots", "--bootstrap", "100", "-m", "ssim"])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "index.md").is_file()
    assert opened == [(out / "index.html").resolve().as_uri()]
    result = CliRunner().invoke(app, ["report", str(run_folder), "--out", str(out),
                                      "-m", "nope"])
    assert result.exit_code == 2 and "no scores for metric 'nope'" in result.output


# ---------------------------------------------------------------- in Chromium
def _chromium():
    sys.path.insert(0, str(SUPPORT))
    try:
        from chromium import Browser, find_chromium
    finally:
        sys.path.remove(str(SUPPORT))
    return Browser, find_chromium()


LOAD_EVERY_IMAGE = """(async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const images = [...document.images];
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done); i.addEventListener('error', done); })));
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    leaderboards: document.querySelectorAll('#leaderboards table').length,
    panels: document.querySelectorAll('#grids .panel').length,
    zooms: document.querySelectorAll('#grids .zoom img').length,
    gallery: document.querySelectorAll('#gallery table.gallery img').length,
  };
})()"""


def _non_blank(path: Path) -> tuple[float, int]:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    colours = len(np.unique(pixels.reshape(-1, 3).astype(np.uint8), axis=0))
    return float(pixels.std()), colours


@pytest.mark.slow
def test_page_in_headless_chromium(report, tmp_path):
    Browser, binary = _chromium()
    if binary is None:
        pytest.skip("no Chromium binary: `scripts/setup.sh test` installs Debian's chromium "
                    "(or set $CHROMIUM)")
    with Browser(binary, width=1400, height=1000) as browser:
        browser.open(report.html.resolve().as_uri())
        state = browser.evaluate(LOAD_EVERY_IMAGE)
        assert state["broken"] == []
        assert state["images"] == len(parse(report.html).sources)
        assert state["leaderboards"] >= 6  # overall, per dataset, per domain, per metric
        assert state["panels"] == 5 * 6 and state["zooms"] == 5 * 5
        assert state["gallery"] == 3 * 6
        assert browser.errors() == []
        browser.evaluate("document.querySelectorAll('details').forEach(d => { d.open = false; });"
                         "window.scrollTo(0, 0)")
        top = browser.screenshot(tmp_path / "top.png")
        browser.evaluate("document.getElementById('grids').scrollIntoView()")
        grids = browser.screenshot(tmp_path / "grids.png")
    std, colours = _non_blank(top)
    assert Image.open(top).size == (1400, 1000)
    assert std > 10 and colours > 50  # text, tables and colours, not an empty page
    std, colours = _non_blank(grids)
    assert std > 20 and colours > 2000  # photographs rendered


def test_generative_outputs_are_in_the_gallery_not_the_grids(fake_plugin, tmp_path):
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench

    Bench(fake_plugin, BenchConfig(upscalers=["fake-x2", "fake-gen"], datasets=["noise:3"],
                                   metrics=["fake-mean"], scale=2, generate=2),
          tmp_path / "run").run()
    r = build_report(tmp_path / "run", options=_options(per_dataset=3)).report
    assert [g.image_id for g in r.grids] == ["img000", "img001", "img002"]
    for grid in r.grids:
        assert [p.label for p in grid.panels] == ["LR input (nearest ×2)", "fake-x2",
                                                  "HR ground truth"]
    assert {e.upscaler for e in r.extremes} == {"fake-x2", "fake-gen"}
    (gallery,) = r.gallery
    rows = dict(gallery.rows)
    assert set(rows) == {"img000", "img001", "img002", "seed1000", "seed1001"}
    assert set(rows["seed1000"]) == {"fake-gen"} and rows["seed1000"]["fake-gen"].thumb


def test_imported_scores_without_images(tmp_path):
    import pandas as pd

    from srarena.store import import_scores

    rng = np.random.default_rng(0)
    frame = pd.DataFrame([
        {"domain": domain, "dataset": f"{domain}-{d}", "upscaler": upscaler,
         "image_id": f"im{i}", "metric": "maniqa", "value": rng.random() + shift}
        for domain in ("Aerial", "Fauna") for d in range(2)
        for upscaler, shift in (("A", 0.0), ("B", 0.5)) for i in range(5)])
    db = import_scores(frame, tmp_path / "scores.sqlite")
    written = build_report(db, tmp_path / "page", _options())
    r = written.report
    assert r.summary["datasets"] == 4 and r.summary["domains"] == 2
    assert r.metrics[0].overall[0]["upscaler"] == "B"
    assert not r.grids and not r.gallery and not r.kernels
    assert any("scores without images" in n for n in r.notes)
    assert all(s.thumb is None and s.problem == "no image" for e in r.extremes for s in e.best)
    assert parse(written.html).sources == []
