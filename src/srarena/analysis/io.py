"""Read per-image scores from any source into one long DataFrame.

Sources: a run folder or results database (``srarena bench``, ``srarena import-scores``), the
study's JSON (``df_niqe.json``, ``df_maniqa.json``, optionally gzip-compressed), or a CSV with
columns ``domain, dataset, technique, image`` and either ``metric, value`` (long) or one column
per metric (wide). Every analysis reads the frame :data:`COLUMNS` describes.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Columns of the frame every analysis reads.
COLUMNS = ["domain", "dataset", "upscaler", "mode", "image_id", "metric", "value"]

#: The study's score columns and the srarena metric names they are imported under.
STUDY_METRICS = {"niqe": "niqe-study", "maniqa": "maniqa"}
#: The study's generative (few-shot GAN) techniques: their outputs are not paired with inputs.
STUDY_GENERATIVE = frozenset({"APA", "FastGAN"})
#: Directions of the study's metrics, used when neither the run nor the registry knows them.
FALLBACK_DIRECTIONS = {"niqe-study": False, "maniqa": True}
#: The shipped study files (package data), with provenance in ``data/study/PROVENANCE.md``.
STUDY_FILES = ("df_niqe.json.gz", "df_maniqa.json.gz")

_ALIASES = {
    "dom": "domain",
    "dset": "dataset",
    "tech": "upscaler",
    "technique": "upscaler",
    "file": "image_id",
    "image": "image_id",
}
_STUDY_KEYS = {"dom", "dset", "tech", "file"}
_STUDY_SUFFIX = re.compile(r"(?:_x2_x4)?(?:_res)?\.png$", re.IGNORECASE)


class ScoresError(ValueError):
    """A scores source that cannot be read; the message says what is wrong."""


@dataclass
class Scores:
    """Per-image scores (columns :data:`COLUMNS`) with the metric directions a source records."""

    frame: pd.DataFrame
    directions: dict[str, bool] = field(default_factory=dict)
    source: str = ""


def study_input_id(name: str) -> str:
    """The input id of one of the study's file names (strip ``_x2_x4``, ``_res``, ``.png``)."""
    return _STUDY_SUFFIX.sub("", name)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def _table_from_json(text: str) -> pd.DataFrame:
    import pandas as pd

    data = json.loads(text)
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        return pd.DataFrame.from_dict(data, orient="index")
    if isinstance(data, list) and all(isinstance(v, dict) for v in data):
        return pd.DataFrame(data)
    raise ScoresError("JSON scores must be an object of row objects or a list of row objects")


def from_table(table: pd.DataFrame) -> pd.DataFrame:
    """Normalise a per-image table (study JSON, long or wide CSV) into :data:`COLUMNS`.

    The study's layout (keys ``dom, dset, tech, file``) gets the study's conventions: metrics
    renamed per :data:`STUDY_METRICS`, file names reduced to input ids, APA and FastGAN marked
    generative and the other techniques single-image.
    """
    import pandas as pd

    study = set(table.columns) >= _STUDY_KEYS
    table = table.rename(columns={k: v for k, v in _ALIASES.items() if k in table.columns})
    if "domain" not in table.columns:
        table = table.assign(domain="all")
    missing = {"dataset", "upscaler", "image_id"} - set(table.columns)
    if missing:
        raise ScoresError(
            f"scores table lacks column(s) {sorted(missing)}; expected domain, dataset, "
            "technique, image and either metric+value or one column per metric"
        )
    keys = ["domain", "dataset", "upscaler", "image_id"] + (["mode"] if "mode" in table else [])
    if {"metric", "value"} <= set(table.columns):
        long = table[[*keys, "metric", "value"]]
    else:
        metrics = [c for c in table.columns if c not in keys]
        if not metrics:
            raise ScoresError("scores table has no metric column")
        long = table.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="value")
    long = long.copy()
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    for column in ("domain", "dataset", "upscaler", "image_id", "metric"):
        long[column] = long[column].astype(str)
    if study:
        long["metric"] = long["metric"].map(lambda m: STUDY_METRICS.get(m, m))
        long["image_id"] = long["image_id"].map(study_input_id)
        long["mode"] = [
            "generative" if u in STUDY_GENERATIVE else "single-image" for u in long["upscaler"]
        ]
    if "mode" not in long:
        long["mode"] = None
    return _checked(long[COLUMNS].reset_index(drop=True))


def _checked(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(mode=frame["mode"].where(frame["mode"].notna(), "unknown").astype(str))
    dup = frame.duplicated(["dataset", "upscaler", "image_id", "metric"], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise ScoresError(
            f"{int(dup.sum())} rows repeat a (dataset, technique, image, metric), e.g. "
            f"{first['dataset']}/{first['upscaler']}/{first['image_id']}/{first['metric']}"
        )
    return frame


def read_score_file(path: str | Path) -> pd.DataFrame:
    """Read a JSON or CSV scores file (plain or gzip-compressed) into :data:`COLUMNS`."""
    import pandas as pd

    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    text = _read_text(path)
    if name.endswith(".json"):
        table = _table_from_json(text)
    elif name.endswith(".csv"):
        table = pd.read_csv(io.StringIO(text), dtype={"image": str, "image_id": str, "file": str})
    else:
        raise ScoresError(f"{path}: expected a .json or .csv scores file (optionally .gz)")
    try:
        return from_table(table)
    except ScoresError as exc:
        raise ScoresError(f"{path}: {exc}") from None


def study_scores() -> pd.DataFrame:
    """The study's published per-image scores (NIQE as ``niqe-study``, MANIQA), shipped."""
    from importlib.resources import files

    import pandas as pd

    folder = files("srarena").joinpath("data", "study")
    frames = []
    for name in STUDY_FILES:
        text = gzip.decompress(folder.joinpath(name).read_bytes()).decode("utf-8")
        frames.append(from_table(_table_from_json(text)))
    return _checked(pd.concat(frames, ignore_index=True))


def load_scores(source: str | Path | None = None, *, study: bool = False) -> Scores:
    """Scores from a run folder, a results database, a JSON/CSV file, or the shipped study."""
    if study:
        return Scores(study_scores(), {}, "the study's published scores (srarena/data/study)")
    if source is None:
        raise ScoresError("give a run folder, a results database or a scores file")
    path = Path(source)
    if path.is_file() and path.name.lower().removesuffix(".gz").endswith((".json", ".csv")):
        return Scores(read_score_file(path), {}, str(path))
    from ..store import Run

    try:
        run = Run.open(path)
    except FileNotFoundError as exc:
        raise ScoresError(str(exc)) from None
    return run_scores(run.scores(), run.metric_directions(), str(path))


def run_scores(frame: pd.DataFrame, directions: dict[str, bool], source: str) -> Scores:
    """Scores of a run's successful score rows (as :meth:`Run.scores` reads them)."""
    if frame.empty:
        raise ScoresError(f"{source}: the results database holds no successful scores")
    return Scores(_checked(frame[COLUMNS].copy()), directions, source)


def registry_direction(metric: str) -> bool | None:
    """higher_is_better of a metric registered by an installed plugin, else None."""
    try:
        from ..plugins import get_registry

        spec = get_registry().metrics.get(metric)
    except Exception:  # noqa: BLE001 - a broken plugin must not stop an analysis
        return None
    return None if spec is None else bool(spec.higher_is_better)


def resolve_directions(
    metrics: Iterable[str],
    recorded: Mapping[str, bool] | None = None,
    overrides: Mapping[str, bool] | None = None,
) -> dict[str, bool]:
    """metric -> higher_is_better: the user's overrides, then what the run recorded, then the
    plugin registry, then :data:`FALLBACK_DIRECTIONS`. Raises when a metric stays unknown."""
    recorded, overrides = recorded or {}, overrides or {}
    out: dict[str, bool] = {}
    unknown = []
    for metric in metrics:
        for found in (overrides.get(metric), recorded.get(metric)):
            if found is not None:
                out[metric] = bool(found)
                break
        else:
            found = registry_direction(metric)
            if found is None:
                found = FALLBACK_DIRECTIONS.get(metric)
            if found is None:
                unknown.append(metric)
            else:
                out[metric] = found
    if unknown:
        raise ScoresError(
            f"direction of metric(s) {', '.join(unknown)} unknown: pass --higher-better or "
            "--lower-better"
        )
    return out


def import_score_files(
    paths: Iterable[str | Path], dest: str | Path, directions: Mapping[str, bool] | None = None
) -> tuple[Path, pd.DataFrame]:
    """Import scores files into a results database (folder or ``.sqlite``) read like a run.

    The metric directions known at import time are recorded in the database.
    """
    import pandas as pd

    from ..store import Store, import_scores

    paths = [Path(p) for p in paths]
    frame = _checked(pd.concat([read_score_file(p) for p in paths], ignore_index=True))
    dest = Path(dest)
    db_path = import_scores(frame, dest, source=", ".join(p.name for p in paths))
    known: dict[str, Any] = {}
    for metric in frame["metric"].unique():
        try:
            known.update(resolve_directions([metric], overrides=directions))
        except ScoresError:
            continue
    store = Store(db_path.parent, db_path)
    try:
        store.set_meta("metric_directions", {**store.get_meta("metric_directions", {}), **known})
    finally:
        store.close()
    return db_path, frame
