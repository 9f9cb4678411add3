"""What a report holds, independent of how it is written (HTML or Markdown).

Every picture is an :class:`Img` whose ``src`` is relative to the report folder, with its
pixel size, so the page can reserve its space before the picture loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .images import Box


def setting_text(value: Any) -> tuple[str, bool]:
    """A configuration or environment value as plain text ("–" when empty), and whether
    that text is JSON (a nested value) to be shown as code."""
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        text = ", ".join(f"{k} {v}" for k, v in value.items())
    elif isinstance(value, dict | list):
        return json.dumps(value, default=str), True
    else:
        text = "" if value is None else str(value)
    return text or "–", False


@dataclass(frozen=True)
class Img:
    """A picture of the report: path relative to the report folder, and its size."""

    src: str
    width: int
    height: int


@dataclass
class Cell:
    """One technique's mean on one dataset or domain, with its CI and rank there."""

    mean: float
    low: float
    high: float
    rank: float
    n: int
    best: bool


@dataclass
class Board:
    """A leaderboard matrix: one row per dataset (or domain), one column per technique."""

    title: str
    row_header: str
    rows: list[tuple[str, str]]  # (group, label): datasets grouped by domain
    columns: list[str]
    cells: dict[tuple[str, str], Cell]


@dataclass
class Plot:
    """A figure written as PNG (for Markdown) and SVG (for the page)."""

    title: str
    png: Img
    svg: str
    caption: str = ""


@dataclass
class MetricSection:
    """Everything the report says about one metric."""

    name: str
    higher_is_better: bool
    overall: list[dict[str, Any]]
    datasets: Board
    domains: Board
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kind: str = ""
    protocol: str = ""

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


@dataclass
class Panel:
    """One picture of a visual grid: the LR input, a technique's output, or the HR."""

    label: str
    kind: str  # "lr", "output" or "hr"
    thumb: Img | None = None
    full: str | None = None
    crop: Img | None = None
    caption: str = ""


@dataclass
class Grid:
    """One input image shown through every technique, with the same zoomed crop."""

    dataset: str
    domain: str
    image_id: str
    why: str
    box: Box | None
    panels: list[Panel]
    notes: list[str] = field(default_factory=list)


@dataclass
class Shot:
    """One output picture with its score (best/worst lists and the gallery)."""

    upscaler: str
    dataset: str
    image_id: str
    value: float | None
    thumb: Img | None
    full: str | None
    problem: str = ""


@dataclass
class Extremes:
    """A technique's best and worst outputs by the chosen metric."""

    upscaler: str
    best: list[Shot]
    worst: list[Shot]


@dataclass
class KernelSet:
    """The kernels one technique estimated for one image (one per chain step), and the
    dataset's true kernel when the dataset knows it."""

    upscaler: str
    dataset: str
    image_id: str
    kernels: list[tuple[str, Img, str]]  # (side-output name, picture, "13x13")
    truth: tuple[str, Img, str] | None = None

    @property
    def shown(self) -> list[tuple[str, Img, str]]:
        """The estimated kernels, then the true one when known."""
        return self.kernels + ([self.truth] if self.truth is not None else [])


@dataclass
class GallerySection:
    """Every output of one dataset: a row per image id, a column per technique."""

    dataset: str
    domain: str
    columns: list[str]
    rows: list[tuple[str, dict[str, Shot]]]


@dataclass
class Report:
    """A run's report: the facts, tables, plots and pictures both writers render."""

    title: str
    run: str
    created: str
    metric: str | None
    summary: dict[str, Any]
    config: dict[str, Any]
    environment: dict[str, Any]
    datasets: list[dict[str, Any]]
    verdict: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[MetricSection] = field(default_factory=list)
    runtime: list[dict[str, Any]] = field(default_factory=list)
    scoring: list[dict[str, Any]] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    extremes: list[Extremes] = field(default_factory=list)
    kernels: list[KernelSet] = field(default_factory=list)
    gallery: list[GallerySection] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replication: list[dict[str, Any]] = field(default_factory=list)
