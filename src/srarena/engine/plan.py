"""What a result is, as pure functions: the keys that name outputs, fits and scores, the
size a generative fit works at, and which outputs a rerun can reuse.

A key is a hash of everything that determines the result, so rerunning the same command
finds what is finished and computes only the rest. Nothing here reads pixels or the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..specs import MetricSpec, UpscalerSpec
from ..store import content_key


@dataclass(frozen=True)
class RunIdentity:
    """The settings of a run that enter every output key."""

    precision: str
    tile: int | None
    seed: int
    options: Mapping[str, Mapping[str, Any]]
    """Per upscaler, the options the user set (``-o NAME.KEY=VALUE``)."""

    def options_of(self, spec: UpscalerSpec, fit: bool = False) -> dict[str, Any]:
        """The spec's defaults with the user's options; for a fit, without the options that
        change generation only (so changing them reuses the fit)."""
        options = {**spec.options, **self.options.get(spec.name, {})}
        if fit:
            options = {k: v for k, v in options.items() if k not in spec.generation_options}
        return options

    def output_key(self, spec: UpscalerSpec, weights_hash: str, *identity: Any,
                   fit: bool = False) -> str:
        """The key of one output (or of a fit): upscaler, version, weights, run settings,
        options and the item's own identity."""
        return content_key(spec.name, spec.version, weights_hash, self.precision, self.tile,
                           self.seed, self.options_of(spec, fit), *identity)

    def single_key(self, spec: UpscalerSpec, weights_hash: str, input_hash: str, chain: str,
                   dataset: str, image_id: str) -> str:
        """A single-image output: the item's identity is part of the key, so identical
        pictures (twice in a dataset, or in two datasets) are separate results."""
        return self.output_key(spec, weights_hash, input_hash, chain, dataset, image_id)

    def fit_key(self, spec: UpscalerSpec, weights_hash: str, dataset_hash: str, size: int,
                dataset: str) -> str:
        """A generative fit on one dataset at ``size``²."""
        return self.output_key(spec, weights_hash, "fit", dataset_hash, size, dataset,
                               fit=True)

    def generated_key(self, spec: UpscalerSpec, weights_hash: str, fit_key: str,
                      seed: int) -> str:
        """One generated image of a fit."""
        return self.output_key(spec, weights_hash, fit_key, "seed", seed)


def score_key(output_key: str, metric: MetricSpec) -> str:
    """The key of one metric's score of one output."""
    return content_key(output_key, metric.name, metric.version, metric.options)


def cell_key(upscaler: str, dataset: str) -> str:
    """The key of a cell (one upscaler on one dataset)."""
    return content_key(upscaler, dataset)


def fit_cell_key(fit_key: str) -> str:
    """The cell row that records a finished fit."""
    return content_key("fit", fit_key)


def dataset_hash(hashes: Mapping[str, str]) -> str:
    """The identity of a dataset's content: its ids and their input hashes."""
    return content_key(sorted(hashes.items()))


def generation_size(sizes: Iterable[tuple[int, int]], scale: int) -> int:
    """The side a generative upscaler works at: the dataset's most common longer side,
    times the scale (the study's 128² inputs at 8x: 1024)."""
    common = Counter(max(height, width) for height, width in sizes).most_common(1)
    return common[0][0] * scale


def generated_id(seed: int) -> str:
    """The image id of a generated output (``seed1000``)."""
    return f"seed{seed:04d}"


def scores_to_do(output_key: str, metrics: Iterable[MetricSpec], has_hr: bool,
                 done: set[str]) -> list[MetricSpec]:
    """The metrics that still have to score an output (a full-reference metric needs HR)."""
    return [m for m in metrics
            if score_key(output_key, m) not in done
            and (m.kind == "no-reference" or has_hr)]
