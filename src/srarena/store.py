"""The run folder and its results database (SQLite).

A run folder holds ``results.sqlite``, ``config.json``, ``environment.json``, the SR images
under ``images/<upscaler>/<dataset>/`` and side outputs under ``side/``. Every output and
every score is a row keyed by a hash of everything that determines it, written the moment
it exists; rerunning skips keys already present with status ``ok`` whose file still has the
sha256 its row records. Paths inside the run folder are built from sanitised names and
checked to stay inside it. A database that cannot be written (a full disk, a read-only
folder) raises :class:`StoreError`, one sentence for the user.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DB_NAME = "results.sqlite"
SCHEMA_VERSION = "2"
"""2: outputs carry the sha256 of their file."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inputs (
    dataset TEXT NOT NULL, image_id TEXT NOT NULL, domain TEXT NOT NULL,
    input_hash TEXT, source TEXT, width INTEGER, height INTEGER, has_hr INTEGER,
    status TEXT NOT NULL, reason TEXT,
    PRIMARY KEY (dataset, image_id));
CREATE TABLE IF NOT EXISTS cells (
    cell_key TEXT PRIMARY KEY, upscaler TEXT NOT NULL, dataset TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, fix TEXT, chain TEXT, info TEXT);
CREATE TABLE IF NOT EXISTS outputs (
    output_key TEXT PRIMARY KEY, cell_key TEXT, upscaler TEXT NOT NULL,
    upscaler_version TEXT, mode TEXT, dataset TEXT NOT NULL, domain TEXT NOT NULL,
    image_id TEXT NOT NULL, input_hash TEXT, scale INTEGER, chain TEXT, precision TEXT,
    tiling TEXT, seed INTEGER, weights_hash TEXT, status TEXT NOT NULL, reason TEXT,
    path TEXT, side_outputs TEXT, info TEXT, seconds REAL, peak_memory_mb REAL,
    device TEXT, created REAL, sha256 TEXT);
CREATE TABLE IF NOT EXISTS scores (
    score_key TEXT PRIMARY KEY, output_key TEXT NOT NULL, metric TEXT NOT NULL,
    metric_version TEXT, value REAL, status TEXT NOT NULL, reason TEXT, seconds REAL,
    created REAL);
CREATE INDEX IF NOT EXISTS scores_by_output ON scores (output_key);
"""

ADDED_COLUMNS = (("outputs", "sha256", "TEXT"),)
"""Columns newer than a database made by an older srarena: added when it is opened."""


FAILURE_COLUMNS = ("kind", "upscaler", "dataset", "image_id", "metric", "status", "reason")


def failures_sql(include_skipped: bool) -> str:
    """Rows of everything that did not succeed, as ``FAILURE_COLUMNS``; skipped cells (an
    upscaler that could not run here) only when ``include_skipped``."""
    cells = "status != 'ok'" if include_skipped else "status = 'failed'"
    return (
        "SELECT 'input' AS kind, '' AS upscaler, dataset, image_id, '' AS metric, status, "
        "reason FROM inputs WHERE status != 'ok' "
        f"UNION ALL SELECT 'cell', upscaler, dataset, '', '', status, reason FROM cells "
        f"WHERE {cells} "
        "UNION ALL SELECT 'output', upscaler, dataset, image_id, '', status, reason "
        "FROM outputs WHERE status != 'ok' "
        "UNION ALL SELECT 'score', o.upscaler, o.dataset, o.image_id, s.metric, s.status, "
        "s.reason FROM scores s JOIN outputs o USING (output_key) WHERE s.status != 'ok'"
    )


class UnsafePath(ValueError):
    """A name would place a file outside the run folder."""


class StoreError(RuntimeError):
    """The run's database cannot be read or written (disk full, read-only folder, ...)."""


def content_key(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts (the key of a result)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def array_hash(image: Any) -> str:
    """A stable hash of an image's float32 values and shape (the key of an input)."""
    import numpy as np

    digest = hashlib.sha256(np.ascontiguousarray(image, dtype=np.float32).tobytes())
    digest.update(str(image.shape).encode())
    return digest.hexdigest()[:32]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")
MAX_NAME = 120
"""The longest safe name: well under every file system's 255-byte limit."""


def safe_name(name: str) -> str:
    """A file-system-safe single path component derived from any name.

    A name that is already safe and short stays as it is. Any other keeps a readable
    prefix, a hash of the whole name (so two names never share a safe name) and its
    extension (``.png`` stays ``.png``).
    """
    cleaned = _UNSAFE.sub("_", name).strip("._") or "_"
    if cleaned == name and len(name) <= MAX_NAME:
        return name
    match = _EXTENSION.search(cleaned)
    extension = match.group(0) if match and match.start() > 0 else ""
    stem = cleaned[: len(cleaned) - len(extension)].rstrip("._") or "_"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{stem[:80]}-{digest}{extension}"


def normal_id(image_id: str) -> str:
    """An image id in Unicode NFC (``café`` typed or stored either way is one id)."""
    return unicodedata.normalize("NFC", image_id)


class Store:
    """Read and write one run folder's database."""

    def __init__(self, folder: Path, db_path: Path | None = None) -> None:
        self.folder = Path(folder)
        self.db_path = db_path or self.folder / DB_NAME
        fresh = not self.db_path.exists()
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.db_path, timeout=60)
            with self._guard("open"):
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
                self._add_columns()
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                (SCHEMA_VERSION,))
                self.db.commit()
        except (StoreError, OSError, sqlite3.Error) as exc:
            if fresh:  # leave no empty database behind (e.g. on a full disk)
                with contextlib.suppress(Exception):
                    self.db.close()
                for suffix in ("", "-wal", "-shm", "-journal"):
                    with contextlib.suppress(OSError):
                        Path(f"{self.db_path}{suffix}").unlink()
            if isinstance(exc, StoreError):
                raise
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StoreError(f"cannot open the run database {self.db_path}: {reason}") from exc

    def _add_columns(self) -> None:
        for table, column, kind in ADDED_COLUMNS:
            present = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @contextlib.contextmanager
    def _guard(self, what: str) -> Any:
        """Turn SQLite's errors into one sentence: which database, and what went wrong."""
        try:
            yield
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.rollback()
            raise StoreError(f"cannot {what} the run database {self.db_path}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # paths -----------------------------------------------------------------
    def path_for(self, *parts: str) -> Path:
        """A path under the run folder from sanitised parts; never escapes the folder."""
        path = self.folder.joinpath(*(safe_name(p) for p in parts)).resolve()
        root = self.folder.resolve()
        if root != path and root not in path.parents:
            raise UnsafePath(f"{'/'.join(parts)!r} leaves the run folder")
        return path

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.folder.resolve()).as_posix()

    def inside(self, relative: str) -> Path:
        """The path of a file a row names, refused if it leaves the run folder."""
        path = (self.folder / relative).resolve()
        if self.folder.resolve() not in path.parents:
            raise UnsafePath(f"{relative!r} leaves the run folder")
        return path

    # meta ------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self._guard("write"):
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            (key, json.dumps(value, default=str)))
            self.db.commit()

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # rows ------------------------------------------------------------------
    def _put(self, table: str, row: Mapping[str, Any],
             then: Callable[[], Any] | None = None) -> Any:
        """Insert (or replace) a row and run ``then`` in the same transaction; returns what
        ``then`` returns."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        values = [
            json.dumps(v, default=str) if isinstance(v, dict | list) else v for v in row.values()
        ]
        with self._guard("write"):
            self.db.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})",
                            values)
            done = then() if then is not None else None
            self.db.commit()
        return done

    def put_input(self, **row: Any) -> None:
        self._put("inputs", row)

    def put_cell(self, **row: Any) -> None:
        self._put("cells", row)

    def put_output(self, **row: Any) -> list[str]:
        """Write an output row. An ``ok`` row supersedes every other row of the same
        (upscaler, dataset, image), made from an input that has changed since: they are
        deleted with their scores, in the same transaction. Returns the paths the deleted rows
        pointed at, other than this row's."""
        row = {"created": time.time(), **row}
        if row.get("status") != "ok":
            self._put("outputs", row)
            return []
        stale = self._put("outputs", row, lambda: self._delete_outputs(
            "upscaler = ? AND dataset = ? AND image_id = ? AND output_key != ?",
            (row["upscaler"], row["dataset"], row["image_id"], row["output_key"])))
        return [path for path in stale if path != row.get("path")]

    def drop_outputs(self, upscaler: str) -> list[str]:
        """Delete every output row of an upscaler with its scores; returns their paths."""
        with self._guard("write"):
            paths = self._delete_outputs("upscaler = ?", (upscaler,))
            self.db.commit()
        return paths

    def _delete_outputs(self, where: str, params: tuple[Any, ...]) -> list[str]:
        """Delete the output rows ``where`` holds, with their scores (no commit); returns the
        paths they pointed at."""
        paths = [p for (p,) in self.db.execute(
            f"SELECT path FROM outputs WHERE path IS NOT NULL AND {where}", params)]
        self.db.execute("DELETE FROM scores WHERE output_key IN "
                        f"(SELECT output_key FROM outputs WHERE {where})", params)
        self.db.execute(f"DELETE FROM outputs WHERE {where}", params)
        return paths

    def forget_scores(self, output_key: str) -> None:
        """Drop an output's scores (its file is recomputed: they are scored again)."""
        with self._guard("write"):
            self.db.execute("DELETE FROM scores WHERE output_key = ?", (output_key,))
            self.db.commit()

    def set_output_sha256(self, output_key: str, sha256: str) -> None:
        """Record the sha256 of an output made before outputs carried one."""
        with self._guard("write"):
            self.db.execute("UPDATE outputs SET sha256 = ? WHERE output_key = ?",
                            (sha256, output_key))
            self.db.commit()

    def output_settings(self) -> list[tuple[Any, ...]]:
        """The distinct (scale, precision, seed) of the run's finished outputs."""
        return self.db.execute("SELECT DISTINCT scale, precision, seed FROM outputs "
                               "WHERE status = 'ok' AND scale IS NOT NULL").fetchall()

    def put_score(self, **row: Any) -> None:
        self._put("scores", {"created": time.time(), **row})

    def done_outputs(self, keys: Iterable[str]) -> dict[str, sqlite3.Row]:
        """Finished (status ok) output rows among ``keys``."""
        keys = list(keys)
        found = {}
        self.db.row_factory = sqlite3.Row
        try:
            with self._guard("read"):
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    marks = ",".join("?" for _ in chunk)
                    for row in self.db.execute(
                        f"SELECT * FROM outputs WHERE status = 'ok' AND output_key IN ({marks})",
                        chunk,
                    ):
                        found[row["output_key"]] = row
        finally:
            self.db.row_factory = None
        return found

    def cell_ok(self, cell_key: str) -> bool:
        """Whether a cell (or a generative fit) finished with status ok."""
        row = self.db.execute("SELECT 1 FROM cells WHERE cell_key = ? AND status = 'ok'",
                              (cell_key,)).fetchone()
        return row is not None

    def every_output_failed(self, cell_key: str) -> bool:
        """Whether a cell has outputs and none of them succeeded."""
        total, ok = self.db.execute(
            "SELECT COUNT(*), SUM(status = 'ok') FROM outputs WHERE cell_key = ?", (cell_key,)
        ).fetchone()
        return bool(total) and not ok

    def failures(self) -> list[dict[str, Any]]:
        """Every input, cell, output and score of the run that did not succeed."""
        with self._guard("read"):
            rows = self.db.execute(failures_sql(include_skipped=False)).fetchall()
        return [dict(zip(FAILURE_COLUMNS, row, strict=True)) for row in rows]

    def done_scores(self, keys: Iterable[str]) -> set[str]:
        """Score keys among ``keys`` that are final (ok, or refused by the metric)."""
        done: set[str] = set()
        keys = list(keys)
        with self._guard("read"):
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" for _ in chunk)
                done.update(k for (k,) in self.db.execute(
                    "SELECT score_key FROM scores WHERE status IN ('ok', 'refused') "
                    f"AND score_key IN ({marks})", chunk))
        return done


class Run:
    """A finished or running run, read as pandas DataFrames."""

    def __init__(self, folder: Path, db_path: Path) -> None:
        self.folder = folder
        self.db_path = db_path

    @classmethod
    def open(cls, path: str | Path) -> Run:
        path = Path(path)
        if path.is_dir():
            db_path = path / DB_NAME
        elif path.is_file():
            db_path, path = path, path.parent
        else:
            raise FileNotFoundError(f"no run folder or results database at {path}")
        if not db_path.is_file():
            raise FileNotFoundError(f"{path} is not a run folder: {DB_NAME} is missing")
        return cls(path, db_path)

    def _query(self, sql: str) -> pd.DataFrame:
        import pandas as pd

        # query_only, not mode=ro: a read-only connection to a WAL database cannot remove the
        # -wal/-shm files it opens, and they would stay in the run folder
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=60)) as db:
            db.execute("PRAGMA query_only=1")
            return pd.read_sql_query(sql, db)

    def meta(self) -> dict[str, Any]:
        frame = self._query("SELECT key, value FROM meta")
        return {k: json.loads(v) for k, v in zip(frame["key"], frame["value"], strict=True)}

    def inputs(self) -> pd.DataFrame:
        return self._query("SELECT * FROM inputs ORDER BY dataset, image_id")

    def cells(self) -> pd.DataFrame:
        return self._query("SELECT * FROM cells ORDER BY upscaler, dataset")

    def outputs(self) -> pd.DataFrame:
        return self._query("SELECT * FROM outputs ORDER BY upscaler, dataset, image_id")

    def scores(self, all_rows: bool = False) -> pd.DataFrame:
        """One row per (output, metric): domain, dataset, upscaler, mode, image_id, metric, value.

        Only successful scores unless ``all_rows``.
        """
        where = "" if all_rows else "WHERE s.status = 'ok'"
        return self._query(
            "SELECT o.domain, o.dataset, o.upscaler, o.mode, o.image_id, s.metric, s.value, "
            "s.status, s.reason, o.output_key, o.path, o.chain, o.precision "
            f"FROM scores s JOIN outputs o USING (output_key) {where} "
            "ORDER BY o.upscaler, o.dataset, o.image_id, s.metric"
        )

    def last_written(self) -> float | None:
        """When the run last recorded an output or a score (seconds since the epoch)."""
        frame = self._query("SELECT MAX(created) AS t FROM (SELECT created FROM outputs "
                            "UNION ALL SELECT created FROM scores)")
        value = frame["t"].iloc[0]
        return None if value is None or value != value else float(value)

    def failures(self) -> pd.DataFrame:
        """Every item that did not succeed: failed/skipped cells, outputs, inputs and scores."""
        return self._query(failures_sql(include_skipped=True))

    def metric_directions(self) -> dict[str, bool]:
        """metric -> higher_is_better, as recorded when the run was made."""
        return self.meta().get("metric_directions", {})


def import_scores(frame: pd.DataFrame, path: str | Path, *, source: str = "") -> Path:
    """Write per-image scores into a results database that analyses read like a run.

    ``frame`` has columns domain, dataset, upscaler, image_id, metric, value (and optionally
    mode). ``path`` is a run folder or a ``.sqlite`` file.
    """
    path = Path(path)
    db_path = path if path.suffix in (".sqlite", ".db") else path / DB_NAME
    store = Store(db_path.parent, db_path)
    try:
        mode_column = "mode" in frame.columns
        for row in frame.itertuples(index=False):
            output_key = content_key("imported", row.upscaler, row.dataset, row.image_id)
            store.db.execute(
                "INSERT OR REPLACE INTO outputs (output_key, upscaler, mode, dataset, domain, "
                "image_id, status, created) VALUES (?, ?, ?, ?, ?, ?, 'ok', ?)",
                (output_key, row.upscaler, row.mode if mode_column else None, row.dataset,
                 row.domain, row.image_id, time.time()),
            )
            store.db.execute(
                "INSERT OR REPLACE INTO scores (score_key, output_key, metric, value, status, "
                "created) VALUES (?, ?, ?, ?, 'ok', ?)",
                (content_key(output_key, row.metric), output_key, row.metric, float(row.value),
                 time.time()),
            )
        store.db.commit()
        store.set_meta("imported_from", source)
    finally:
        store.close()
    return db_path
