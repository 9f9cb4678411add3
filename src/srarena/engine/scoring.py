"""Scoring images with metrics in batches, isolating the inputs a metric refuses."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..components import InputRefused, Metric


@dataclass
class ScoreOutcome:
    """One image's score: ``status`` is ok, refused (the metric cannot score it) or failed."""

    value: float | None
    status: str
    reason: str | None = None
    seconds: float = 0.0


def _refusal(metric: Metric, image: np.ndarray, reference: np.ndarray | None) -> str | None:
    spec = metric.spec
    side = min(image.shape[:2])
    if side < spec.min_size:
        return f"{spec.name} needs images of at least {spec.min_size}px per side, got {side}px"
    if spec.kind == "full-reference" and reference is None:
        return f"{spec.name} needs an HR ground truth, which this dataset lacks"
    return None


def score_batch(
    metric: Metric,
    images: Sequence[np.ndarray],
    references: Sequence[np.ndarray | None],
) -> list[ScoreOutcome]:
    """Score ``images``; a batch that raises is retried one by one to isolate the culprit."""
    outcomes: list[ScoreOutcome | None] = [None] * len(images)
    todo = []
    for index, (image, reference) in enumerate(zip(images, references, strict=True)):
        reason = _refusal(metric, image, reference)
        if reason:
            outcomes[index] = ScoreOutcome(None, "refused", reason)
        else:
            todo.append(index)
    full_reference = metric.spec.kind == "full-reference"
    if todo:
        start = time.perf_counter()
        try:
            values = metric.score(
                [images[i] for i in todo],
                [references[i] for i in todo] if full_reference else None,  # type: ignore[misc]
            )
            if len(values) != len(todo):
                raise RuntimeError(f"{metric.spec.name} returned {len(values)} scores "
                                   f"for {len(todo)} images")
            each = (time.perf_counter() - start) / len(todo)
            for index, value in zip(todo, values, strict=True):
                outcomes[index] = _value(metric, value, each)
        except Exception:  # noqa: BLE001 - isolate the failing input(s)
            for index in todo:
                outcomes[index] = _score_one(metric, images[index], references[index])
    return [o for o in outcomes if o is not None]


def _value(metric: Metric, value: float, seconds: float) -> ScoreOutcome:
    value = float(value)
    if np.isnan(value):  # +inf is a valid PSNR (identical images); NaN never is
        return ScoreOutcome(None, "failed", f"{metric.spec.name} returned {value}", seconds)
    return ScoreOutcome(value, "ok", None, seconds)


def _score_one(metric: Metric, image: np.ndarray, reference: np.ndarray | None) -> ScoreOutcome:
    start = time.perf_counter()
    try:
        refs = [reference] if metric.spec.kind == "full-reference" else None
        (value,) = metric.score([image], refs)  # type: ignore[list-item]
    except InputRefused as exc:
        return ScoreOutcome(None, "refused", str(exc))
    except Exception as exc:  # noqa: BLE001
        return ScoreOutcome(None, "failed", f"{type(exc).__name__}: {exc}")
    return _value(metric, value, time.perf_counter() - start)
