"""The report's pictures: visual grids with a shared zoomed crop, each technique's best and
worst images, estimated blur kernels, and the gallery of every output (thumbnails)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..analysis.numbers import fmt
from . import images
from .assets import Assets
from .model import Extremes, GallerySection, Grid, Img, KernelSet, Panel, Shot
from .sources import Key, Source, reopen

if TYPE_CHECKING:
    import pandas as pd


class ReportError(ValueError):
    """The report cannot be made as asked; the message says why."""


@dataclass
class VisualOptions:
    """What the pictures show and how large."""

    images: Sequence[str] = ()
    per_dataset: int = 1
    extremes: int = 3
    gallery: bool = True
    panel: int = 256
    thumb: int = 160
    kernel: int = 96
    workers: int = field(default_factory=lambda: min(8, os.cpu_count() or 1))


@dataclass
class Frames:
    """The run's tables the pictures need."""

    folder: Path
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    scores: pd.DataFrame  # successful scores only
    datasets: list[str]  # the dataset texts of config.json
    scale: int
    order: list[str]  # techniques, best first
    metrics: list[str]
    metric: str | None
    higher_is_better: bool = True


def _is_path(value: Any) -> bool:
    """Whether a table cell holds a relative path (not None, NaN or empty)."""
    return isinstance(value, str) and bool(value)


def kernel_names(side_outputs: Any) -> dict[str, str]:
    """Side outputs that are blur kernels (name contains 'kernel'): name -> relative path."""
    if isinstance(side_outputs, str) and side_outputs:
        side_outputs = json.loads(side_outputs)
    if not isinstance(side_outputs, dict):
        return {}
    return {k: v for k, v in side_outputs.items() if "kernel" in k.lower() and v}


def match_images(inputs: pd.DataFrame, tokens: Iterable[str]) -> list[tuple[str, str, str]]:
    """(dataset, image_id, why) of the input images named ``DATASET/ID`` or ``ID`` (an id may
    hold ``/``: an image in a subfolder)."""
    import unicodedata

    ok = inputs[inputs["status"] == "ok"]
    full = ok["dataset"] + "/" + ok["image_id"]
    picks = []
    for token in tokens:
        token = unicodedata.normalize("NFC", token)
        rows = ok[(full == token) | (ok["image_id"] == token)]
        if rows.empty:
            examples = ", ".join(f"{d}/{i}" for d, i in ok[["dataset", "image_id"]].head(3)
                                 .to_numpy())
            raise ReportError(f"no input image {token!r} in this run (ids are DATASET/ID or "
                              f"ID, e.g. {examples})")
        picks += [(d, i, "chosen with --images") for d, i in rows[["dataset", "image_id"]]
                  .to_numpy()]
    return list(dict.fromkeys(picks))


class Visuals:
    """Builds every picture section of a report from a run's tables."""

    def __init__(self, frames: Frames, assets: Assets, options: VisualOptions) -> None:
        self.f = frames
        self.assets = assets
        self.options = options
        self.notes: list[str] = []
        ok = frames.outputs[frames.outputs["status"] == "ok"]
        self.ok = ok
        self.pictured = ok[ok["path"].map(_is_path)]  # imported scores have no images
        self.single = ok[ok["mode"] != "generative"]
        if len(ok) and self.pictured.empty:
            self.notes.append("this results database holds scores without images (imported "
                              "scores): there are no pictures to show")
        self.values: dict[str, dict[str, float]] = {}
        scores = frames.scores
        for key, metric, value in zip(scores["output_key"], scores["metric"], scores["value"],
                                      strict=True):
            if value == value:  # not NaN
                self.values.setdefault(key, {})[metric] = float(value)

    # ------------------------------------------------------------------ helpers
    def _rank(self, upscalers: Iterable[str]) -> list[str]:
        names = list(dict.fromkeys(upscalers))
        known = [u for u in self.f.order if u in names]
        return known + sorted(u for u in names if u not in known)

    def _scores_text(self, output_key: str) -> str:
        values = self.values.get(output_key, {})
        return " · ".join(f"{m} {fmt(values[m])}" for m in self.f.metrics if m in values)

    def _value(self, output_key: str) -> float | None:
        if self.f.metric is None:
            return None
        return self.values.get(output_key, {}).get(self.f.metric)

    def _link(self, relative: Any) -> str | None:
        return self.assets.link(self.f.folder / relative) if _is_path(relative) else None

    # ------------------------------------------------------------- choosing
    def chosen(self) -> list[tuple[str, str, str]]:
        """(dataset, image_id, why) of each image to show in a grid."""
        ok_inputs = self.f.inputs[self.f.inputs["status"] == "ok"]
        if self.options.images:
            return match_images(ok_inputs, self.options.images)
        picks = []
        metric = self.f.metric
        for dataset, group in ok_inputs.groupby("dataset", sort=True):
            produced = set(self.single.loc[self.single["dataset"] == dataset, "image_id"])
            ids = sorted(i for i in group["image_id"] if i in produced) or sorted(group["image_id"])
            spread = self._spread(dataset) if metric else {}
            ranked = sorted(ids, key=lambda i: (-spread.get(i, -1.0), i))
            for image_id in ranked[: self.options.per_dataset]:
                why = (f"the techniques' {metric} differ most on this image of the dataset "
                       f"(range {fmt(spread[image_id])})" if image_id in spread
                       else "first image of the dataset")
                picks.append((dataset, image_id, why))
        return picks

    def _spread(self, dataset: str) -> dict[str, float]:
        """Per image of a dataset: max - min of the chosen metric over single-image
        techniques (only images scored by at least two)."""
        scores = self.f.scores
        part = scores[(scores["dataset"] == dataset) & (scores["metric"] == self.f.metric)
                      & (scores["mode"] != "generative")]
        if part.empty:
            return {}
        grouped = part.groupby("image_id")["value"]
        spread = (grouped.max() - grouped.min())[grouped.count() >= 2]
        return {str(k): float(v) for k, v in spread.items()}

    # ---------------------------------------------------------------- build
    def build(self) -> tuple[list[Grid], list[Extremes], list[KernelSet], list[GallerySection]]:
        picks = self.chosen()
        kernel_rows = self._kernel_rows({(d, i) for d, i, _ in picks})
        wanted: dict[Key, str | None] = {}
        hashes = self.f.inputs.set_index(["dataset", "image_id"])["input_hash"]
        for key in [(d, i) for d, i, _ in picks] + [(r.dataset, r.image_id) for r in kernel_rows]:
            recorded = hashes.get(key)
            wanted[key] = recorded if isinstance(recorded, str) else None
        sources, notes = reopen(self.f.datasets, wanted)
        self.notes += notes
        grids = [self._grid(d, i, why, sources[(d, i)]) for d, i, why in picks]
        extremes = self._extreme_groups()
        thumbs = self._thumbnails(extremes)
        return (grids, self._extremes(extremes, thumbs), self._kernels(kernel_rows, sources),
                self._gallery(thumbs) if self.options.gallery else [])

    # ---------------------------------------------------------------- grids
    def _grid(self, dataset: str, image_id: str, why: str, source: Source) -> Grid:
        rows = self.f.outputs[(self.f.outputs["dataset"] == dataset)
                              & (self.f.outputs["image_id"] == image_id)
                              & (self.f.outputs["mode"] != "generative")]
        by_upscaler = {r.upscaler: r for r in rows.itertuples(index=False)}
        order = self._rank(by_upscaler)
        domain = str(self.f.inputs.loc[(self.f.inputs["dataset"] == dataset)
                                       & (self.f.inputs["image_id"] == image_id),
                                       "domain"].iloc[0])
        grid = Grid(dataset, domain, image_id, why, None, [])
        if source.problem:
            grid.notes.append(source.problem)
        pictures: dict[str, Image.Image] = {}
        for name in order:
            row = by_upscaler[name]
            if row.status == "ok" and _is_path(row.path) and (self.f.folder / row.path).is_file():
                pictures[name] = images.open_rgb(self.f.folder / row.path)
        first = next(iter(pictures.values()), None)
        scale = self.f.scale
        if source.lr is not None:
            grid_size = source.lr.size
            if first is not None and first.width % source.lr.width == 0:
                scale = first.width // source.lr.width
        elif first is not None:
            grid_size = (max(1, first.width // scale), max(1, first.height // scale))
        else:
            grid.notes.append("no picture of this image is available")
            return grid
        reference = source.hr or first or source.lr
        cells = max(4, round(min(grid_size) / 8))
        grid.box = images.detail_box(reference, grid_size, cells)
        cells = round((grid.box[2] - grid.box[0]) * grid_size[0])
        factor = max(1, round(self.options.panel / (cells * scale)))
        crop_side = cells * scale * factor
        base = ("grid", dataset, image_id)
        panel = self.options.panel
        if source.lr is not None:
            grid.panels.append(self._input_panel(
                f"LR input (nearest ×{scale})", "lr", source.lr,
                images.enlarge_nearest(source.lr, scale), "lr-nearest", base, grid, crop_side))
        for name in order:
            row = by_upscaler[name]
            picture = pictures.get(name)
            if picture is None:
                problem = (row.reason or "failed") if row.status != "ok" else "image file missing"
                grid.panels.append(Panel(name, "output", caption=f"{row.status}: {problem}"))
                continue
            thumb = images.thumbnail(picture, self.assets.path(*base, f"out-{name}"), panel)
            zoom = images.crop(picture, grid.box, self.assets.path(*base, f"out-{name}-crop"),
                               crop_side)
            grid.panels.append(Panel(name, "output", self.assets.img(thumb), self._link(row.path),
                                     self.assets.img(zoom), self._scores_text(row.output_key)))
        missing = [u for u in self._rank(self.single["upscaler"]) if u not in by_upscaler]
        if missing:
            grid.notes.append(f"no output of {', '.join(missing)} for this image")
        if source.hr is not None:
            grid.panels.append(self._input_panel("HR ground truth", "hr", source.hr, source.hr,
                                                 "hr", base, grid, crop_side))
        return grid

    def _input_panel(self, label: str, kind: str, image: Image.Image, full: Image.Image,
                     full_name: str, base: tuple[str, ...], grid: Grid, crop_side: int) -> Panel:
        """The panel of the LR input (``kind`` "lr", drawn as pixels) or the HR: a thumbnail
        named ``kind``, ``full`` saved full-size as ``full_name``, and the grid's crop."""
        saved = images.save_full(full, self.assets.path(*base, full_name))
        thumb = images.thumbnail(image, self.assets.path(*base, kind), self.options.panel,
                                 nearest=kind == "lr")
        zoom = images.crop(image, grid.box, self.assets.path(*base, f"{kind}-crop"), crop_side)
        return Panel(label, kind, self.assets.img(thumb), self.assets.img(saved).src,
                     self.assets.img(zoom), f"{image.width}×{image.height} px")

    # --------------------------------------------------------------- thumbs
    def _thumbnails(self, extremes: dict[str, tuple[pd.DataFrame, pd.DataFrame]]
                    ) -> dict[str, Img | str]:
        """Gallery-size thumbnails of the outputs the extremes and gallery show, made in
        parallel and reused across builds (named by output key): key -> Img or a problem."""
        rows = self.pictured if self.options.gallery else self._extreme_rows(extremes)
        jobs = {}
        for row in rows.itertuples(index=False):
            if not _is_path(row.path):
                continue
            source = self.f.folder / row.path
            target = self.assets.path("thumbs", str(self.options.thumb), row.output_key)
            jobs[row.output_key] = (source, target)

        def make(job: tuple[Path, Path]) -> Img | str:
            source, target = job
            if not source.is_file():
                return "image file missing"
            try:
                return self.assets.img(images.thumbnail_file(source, target, self.options.thumb))
            except (OSError, ValueError) as exc:
                return f"unreadable image ({exc})"

        with ThreadPoolExecutor(self.options.workers) as pool:
            return dict(zip(jobs, pool.map(make, jobs.values()), strict=True))

    def _shot(self, row: Any, thumbs: dict[str, Img | str]) -> Shot:
        thumb = thumbs.get(row.output_key, "no thumbnail" if _is_path(row.path) else "no image")
        return Shot(row.upscaler, row.dataset, row.image_id, self._value(row.output_key),
                    thumb if isinstance(thumb, Img) else None, self._link(row.path),
                    "" if isinstance(thumb, Img) else thumb)

    # -------------------------------------------------------------- extremes
    def _extreme_groups(self) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
        """Per technique: its best and worst outputs (rows of outputs) by the chosen metric."""
        if self.f.metric is None or self.options.extremes < 1:
            return {}
        part = self.f.scores[self.f.scores["metric"] == self.f.metric]
        part = part[np.isfinite(part["value"].to_numpy(float))]
        rows = self.ok.set_index("output_key")
        out = {}
        count = self.options.extremes
        for name in self._rank(part["upscaler"]):
            mine = part[part["upscaler"] == name].sort_values(
                ["value", "dataset", "image_id"], ascending=[not self.f.higher_is_better, True,
                                                             True])
            best = mine.head(count)
            worst = mine.iloc[::-1]
            worst = worst[~worst["output_key"].isin(best["output_key"])].head(count)
            out[name] = (rows.loc[best["output_key"]].reset_index(),
                         rows.loc[worst["output_key"]].reset_index())
        return out

    def _extreme_rows(self, extremes: dict[str, tuple[pd.DataFrame, pd.DataFrame]]
                      ) -> pd.DataFrame:
        import pandas as pd

        frames = [f for pair in extremes.values() for f in pair]
        return pd.concat(frames, ignore_index=True) if frames else self.ok.iloc[:0]

    def _extremes(self, extremes: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                  thumbs: dict[str, Img | str]) -> list[Extremes]:
        return [Extremes(name, [self._shot(r, thumbs) for r in best.itertuples(index=False)],
                         [self._shot(r, thumbs) for r in worst.itertuples(index=False)])
                for name, (best, worst) in extremes.items()]

    # --------------------------------------------------------------- kernels
    def _kernel_rows(self, shown: set[Key]) -> list[Any]:
        """Outputs whose kernels to show: per technique that estimates kernels, those of the
        grid images, else its first few outputs."""
        rows = [r for r in self.ok.itertuples(index=False) if kernel_names(r.side_outputs)]
        chosen = []
        for name in self._rank(r.upscaler for r in rows):
            mine = [r for r in rows if r.upscaler == name]
            picked = [r for r in mine if (r.dataset, r.image_id) in shown]
            chosen += picked or mine[: max(1, self.options.per_dataset) * 3]
        return chosen

    def _kernels(self, rows: list[Any], sources: dict[Key, Source]) -> list[KernelSet]:
        sets = []
        side = self.options.kernel
        for row in rows:
            found = []
            for name, relative in kernel_names(row.side_outputs).items():
                path = self.f.folder / relative
                try:
                    kernel = images.kernel_array(np.load(path, allow_pickle=False))
                except (OSError, ValueError) as exc:
                    self.notes.append(f"kernel {relative} unreadable: {exc}")
                    continue
                if kernel is None:
                    self.notes.append(f"side output {relative} is not a 2-D kernel")
                    continue
                picture = images.kernel_picture(
                    kernel, self.assets.path("kernels", row.output_key, name), side)
                found.append((name, self.assets.img(picture),
                              f"{kernel.shape[1]}×{kernel.shape[0]}"))
            if not found:
                continue
            kernel_set = KernelSet(row.upscaler, row.dataset, row.image_id, found)
            source = sources.get((row.dataset, row.image_id))
            if source is not None and source.kernel is not None:
                picture = images.kernel_picture(
                    source.kernel, self.assets.path("kernels", "truth", row.dataset,
                                                    row.image_id), side)
                scale = f" ×{source.kernel_scale}" if source.kernel_scale else ""
                kernel_set.truth = (f"true kernel{scale}", self.assets.img(picture),
                                    f"{source.kernel.shape[1]}×{source.kernel.shape[0]}")
            sets.append(kernel_set)
        return sets

    # --------------------------------------------------------------- gallery
    def _gallery(self, thumbs: dict[str, Img | str]) -> list[GallerySection]:
        sections = []
        for dataset, group in self.pictured.groupby("dataset", sort=True):
            columns = self._rank(group["upscaler"])
            cells: dict[str, dict[str, Shot]] = {}
            for row in group.itertuples(index=False):
                cells.setdefault(row.image_id, {})[row.upscaler] = self._shot(row, thumbs)
            sections.append(GallerySection(str(dataset), str(group["domain"].iloc[0]), columns,
                                           sorted(cells.items())))
        return sections
