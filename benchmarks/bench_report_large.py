"""Time `srarena report` on a run of thousands of outputs, and how fast the page opens.

Usage: python benchmarks/bench_report_large.py [WORKDIR] [DATASETS] [IMAGES_PER_DATASET]
(default: a temporary folder, 4 datasets of 500 images). Makes HR images of 256 x 256,
degrades them x8 (`degrade:` datasets), runs nearest, bilinear and bicubic with PSNR, then
builds the report twice (the second build reuses the thumbnails) and, when Chromium is
installed, opens the page headless and times its load event. Prints each time, the page's
size and how many pictures it references.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def make_images(folder: Path, count: int, seed: int) -> None:
    """Smooth random colour fields with some texture (compress like photographs, not noise)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        coarse = rng.random((8, 8, 3))
        image = Image.fromarray((coarse * 255).astype(np.uint8)).resize((256, 256),
                                                                        Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 6, (256, 256, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            folder / f"img{index:04d}.png")


def main() -> None:
    from srarena.engine.config import BenchConfig
    from srarena.engine.runner import Bench
    from srarena.plugins import get_registry
    from srarena.report import ReportOptions, build_report

    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    datasets = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    per = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    texts = []
    for d in range(datasets):
        folder = work / "hr" / f"set{d}"
        if not folder.is_dir():
            make_images(folder, per, d)
        texts.append(f"degrade:{folder}?scale=8&kernel=iso&sigma=4&domain=D{d % 2}")
    run = work / "run"
    start = time.perf_counter()
    Bench(get_registry(), BenchConfig(upscalers=["nearest", "bilinear", "bicubic"],
                                      datasets=texts, metrics=["psnr"], scale=8), run).run()
    print(f"bench ({datasets * per * 3} outputs)      {time.perf_counter() - start:7.1f} s")
    for label in ("report, first build", "report, rebuilt"):
        written = build_report(run, options=ReportOptions())
        print(f"{label:27s}{written.seconds:7.1f} s")
    html = written.html.read_text()
    cells = sum(len(g.rows) * len(g.columns) for g in written.report.gallery)
    print(f"index.html                 {len(html) / 1e6:7.2f} MB, {html.count('<img ')} "
          f"pictures (gallery cells: {cells})")
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from chromium import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        print("no Chromium: page load not timed")
        return
    with Browser(binary) as browser:
        start = time.perf_counter()
        browser.open(written.html.resolve().as_uri())
        loaded = time.perf_counter() - start
        fetched = browser.evaluate("[...document.images].filter(i => i.complete && "
                                   "i.naturalWidth > 0).length")
        errors = browser.errors()
    print(f"page load event            {loaded:7.2f} s ({fetched} pictures loaded at once, "
          f"{len(errors)} console errors)")


if __name__ == "__main__":
    main()
