"""A benchmark run: plan cells into jobs, execute them, write every result as it arrives.

Cells are (upscaler, dataset). Every output is keyed by what determines it, so running the
same command again skips what is finished and redoes only what is missing or failed. The
driver (this module) alone writes the database, whichever executor computes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import weights as weights_service
from ..availability import availability
from ..components import Context, Item, Metric
from ..imageio import from_uint8, load_image
from ..plugins import Registry
from ..specs import UpscalerSpec, WeightSet
from ..store import FAILURE_COLUMNS, Store, array_hash, content_key, failures_sql, safe_name
from .chain import ScaleError, plan_chain
from .config import BenchConfig
from .environment import environment, resolve_device
from .executors import Event, Executor, Job, LocalExecutor
from .reporter import Reporter
from .scoring import score_batch
from .work import (
    FitDone,
    GenerativeJob,
    ItemResult,
    SingleJob,
    Target,
    unpack_checkpoint,
    write_output,
)

HrLoader = Callable[[], np.ndarray] | None


@dataclass
class Summary:
    """What the run did, for the closing message and the exit status."""

    computed: int = 0
    reused: int = 0
    scores: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when an item failed or a named dataset could not be read, else 0."""
        unreadable = any(skip["kind"] == "dataset" for skip in self.skipped)
        return 1 if self.failures or unreadable else 0


@dataclass
class DatasetGroup:
    """The readable images of one dataset: items, LR arrays and their hashes, by id."""

    name: str
    domain: str
    items: dict[str, Item] = field(default_factory=dict)
    lr: dict[str, np.ndarray] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_key(sorted(self.hashes.items()))


@dataclass
class Pending:
    """An output waiting to be scored."""

    output_key: str
    dataset: str
    image_id: str
    image: np.ndarray
    hr: HrLoader


class Bench:
    """Runs a :class:`BenchConfig` against a registry into a run folder."""

    def __init__(self, registry: Registry, config: BenchConfig, folder: Path,
                 reporter: Reporter | None = None, executor: Executor | None = None) -> None:
        self.registry = registry
        self.config = config
        self.store = Store(folder)
        self.reporter = reporter or Reporter()
        self.executor = executor or LocalExecutor()
        self.summary = Summary()
        self.device = resolve_device(config.device)
        self.metrics: dict[str, Metric] = {}
        self.pending: list[Pending] = []
        self.rows: dict[str, dict[str, Any]] = {}
        self.hr: dict[str, HrLoader] = {}
        self.remaining: Counter[str] = Counter()
        self.cells: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ run
    def run(self) -> Summary:
        for stale in self.store.folder.rglob(".tmp-*"):  # left by a killed run
            stale.unlink(missing_ok=True)
        try:
            self._load_metrics()
            groups = self._load_datasets()
            self._record_setup()
            jobs = self._plan(groups)
            self._flush_scores(force=True)
            for job, event in self.executor.run(jobs, self.reporter):
                self._handle(job, event)
            self._flush_scores(force=True)
        finally:
            for metric in self.metrics.values():
                metric.close()
            self.executor.close()
            self.summary.failures = self._failures()
            self.store.set_meta("skipped", self.summary.skipped)
            self.store.close()
        return self.summary

    # ---------------------------------------------------------------- setup
    def _record_setup(self) -> None:
        versions = {name: spec.version for name, spec in self.registry.upscalers.items()}
        versions.update({f"metric:{n}": s.version for n, s in self.registry.metrics.items()})
        records = {"config": self.config.to_json(),
                   "environment": environment(self.device, versions)}
        for name, record in records.items():
            self.store.set_meta(name, record)
            (self.store.folder / f"{name}.json").write_text(
                json.dumps(record, indent=2, default=str) + "\n")
        self.store.set_meta("metric_directions",
                            {name: m.spec.higher_is_better for name, m in self.metrics.items()})
        self.store.set_meta("metrics", {
            name: {"kind": m.spec.kind, "higher_is_better": m.spec.higher_is_better,
                   "protocol": m.spec.protocol, "version": m.spec.version}
            for name, m in self.metrics.items()})

    def _skip(self, kind: str, name: str, reason: str, fix: str = "") -> None:
        self.summary.skipped.append({"kind": kind, "name": name, "reason": reason, "fix": fix})
        self.reporter.note(f"[yellow]skipped[/] {kind} {name}: {reason}"
                           + (f" — run `{fix}`" if fix else ""))

    def _note_failure(self, where: str, reason: str) -> None:
        self.reporter.note(f"[red]failed[/] {where}: {reason}")

    def _load_metrics(self) -> None:
        for name in self.config.metrics:
            spec = self.registry.metric(name)
            found = availability(spec)
            if not found.ok:
                self._skip("metric", name, found.reason, found.fix)
                continue
            try:
                context = Context(device=self.device,
                                  options={"scale": self.config.scale, **spec.options})
                if spec.weights is not None:
                    context.weights = weights_service.resolve(spec.weights)
                self.metrics[name] = spec.load()(spec, context)
            except Exception as exc:  # noqa: BLE001
                self._skip("metric", name, f"failed to load: {type(exc).__name__}: {exc}")

    def _load_datasets(self) -> list[DatasetGroup]:
        from ..datasets import DatasetError, open_dataset

        groups: dict[str, DatasetGroup] = {}
        described = []
        for text in self.config.datasets:
            try:
                dataset = open_dataset(text, self.registry)
                description = dataset.describe()
                items = list(dataset.items())
            except DatasetError as exc:  # e.g. a folder with no images: the others go on
                self._skip("dataset", text, str(exc))
                continue
            described.append(description)
            made_at = description.get("scale")
            if made_at and made_at != self.config.scale:
                self.reporter.note(
                    f"[yellow]note[/] {text} was degraded at x{made_at} but the bench runs at "
                    f"x{self.config.scale}: full-reference metrics will refuse its outputs "
                    f"(use --scale {made_at})")
            for item in items:
                group = groups.setdefault(item.dataset, DatasetGroup(item.dataset, item.domain))
                row = {"dataset": item.dataset, "image_id": item.image_id, "domain": item.domain,
                       "source": item.source, "has_hr": int(item.hr is not None)}
                try:
                    image = item.lr()
                except Exception as exc:  # noqa: BLE001 - a broken image is one failed item
                    reason = f"{type(exc).__name__}: {exc}"
                    self.store.put_input(**row, status="failed", reason=reason)
                    self._note_failure(f"{item.dataset}/{item.image_id}", reason)
                    continue
                group.items[item.image_id] = item
                group.lr[item.image_id] = image
                group.hashes[item.image_id] = array_hash(image)
                self.store.put_input(**row, status="ok", reason=None,
                                     input_hash=group.hashes[item.image_id],
                                     width=image.shape[1], height=image.shape[0])
        self.store.set_meta("datasets", described)
        return list(groups.values())

    # ------------------------------------------------------------- planning
    def _upscaler_problem(self, spec: UpscalerSpec, weights: WeightSet | None) -> tuple[str, str]:
        if self.config.precision not in spec.precisions:
            return (f"precision {self.config.precision} not supported (supports "
                    f"{', '.join(spec.precisions)})", "use --precision fp32")
        if spec.resources.needs_gpu and not self.device.startswith("cuda"):
            return "needs a CUDA GPU", "run with --device cuda on a machine with a GPU"
        if weights is not None and self.config.weights is None:
            missing = weights_service.missing_files(weights)
            if missing:
                return (f"weights missing: {', '.join(missing)}",
                        weights_service.fix_command(weights))
        return "", ""

    def _context(self, spec: UpscalerSpec, weight_paths: dict[str, Path]) -> Context:
        return Context(
            device=self.device, precision=self.config.precision, seed=self.config.seed,
            weights=weight_paths,
            options={**spec.options, **self.config.options.get(spec.name, {})},
            workdir=self.store.path_for("work", spec.name),
        )

    def _weights_identity(self, weights: WeightSet | None) -> tuple[dict[str, Path], str]:
        if weights is None:
            return {}, ""
        paths = weights_service.resolve(weights, self.config.weights)
        return paths, weights_service.fingerprint(paths)

    def _output_key(self, spec: UpscalerSpec, weights_hash: str, *identity: Any,
                    fit: bool = False) -> str:
        options = {**spec.options, **self.config.options.get(spec.name, {})}
        if fit:  # options that change generation only do not change the fitted state
            options = {k: v for k, v in options.items() if k not in spec.generation_options}
        return content_key(
            spec.name, spec.version, weights_hash, self.config.precision, self.config.tile,
            self.config.seed, options, *identity,
        )

    def _plan(self, groups: list[DatasetGroup]) -> list[Job]:
        jobs: list[Job] = []
        for name in self.config.upscalers:
            spec = self.registry.upscaler(name)
            try:
                chain = None if spec.mode == "generative" else plan_chain(spec.scales,
                                                                          self.config.scale)
            except ScaleError as exc:
                self._skip("upscaler", name, str(exc))
                continue
            weights = spec.weights.for_scales(chain.steps if chain else None) \
                if spec.weights else None
            problem, fix = self._upscaler_problem(spec, weights)
            if problem:
                for group in groups:
                    self.store.put_cell(cell_key=content_key(spec.name, group.name),
                                        upscaler=spec.name, dataset=group.name,
                                        status="skipped", reason=problem, fix=fix)
                self._skip("upscaler", name, problem, fix)
                continue
            try:
                weight_paths, weights_hash = self._weights_identity(weights)
            except (weights_service.WeightsError, OSError, ValueError) as exc:
                fix = weights_service.fix_command(weights) if weights else ""
                self._skip("upscaler", name, str(exc), fix)
                continue
            context = self._context(spec, weight_paths)
            for group in groups:
                if not group.lr:
                    continue
                job = (self._generative_job(spec, group, context, weights_hash)
                       if chain is None else
                       self._single_job(spec, group, context, weights_hash, chain))
                if job is not None:
                    jobs.append(job)
        return jobs

    def _image_path(self, upscaler: str, dataset: str, image_id: str) -> tuple[str, str]:
        image = self.store.path_for("images", upscaler, dataset, safe_name(image_id) + ".png")
        side = self.store.path_for("side", upscaler, dataset, safe_name(image_id))
        return self.store.relative(image), self.store.relative(side)

    def _base_row(self, spec: UpscalerSpec, group: DatasetGroup, image_id: str, chain: str,
                  weights_hash: str, seed: int) -> dict[str, Any]:
        return dict(cell_key=content_key(spec.name, group.name), upscaler=spec.name,
                    upscaler_version=spec.version, mode=spec.mode, dataset=group.name,
                    domain=group.items[image_id].domain if image_id in group.items
                    else group.domain, image_id=image_id,
                    input_hash=group.hashes.get(image_id), scale=self.config.scale,
                    chain=chain, precision=self.config.precision, seed=seed,
                    weights_hash=weights_hash, device=self.device)

    def _start_cell(self, spec: UpscalerSpec, group: DatasetGroup, chain: str,
                    targets: list[Target], total: int) -> str:
        label = f"{spec.name} · {group.name}"
        self.cells[label] = dict(cell_key=content_key(spec.name, group.name),
                                 upscaler=spec.name, dataset=group.name, chain=chain)
        self.remaining[label] = len(targets)
        self.reporter.cell_started(label, total)
        for _ in range(total - len(targets)):
            self.reporter.item_done(label)
        if not targets:
            self._finish_cell(label)
        return label

    def _reuse(self, key: str, row: Any, group_name: str, image_id: str, hr: HrLoader) -> None:
        self.summary.reused += 1
        image = load_image(self.store.folder / row["path"])
        self._queue_score(Pending(key, group_name, image_id, image, hr))

    def _single_job(self, spec: UpscalerSpec, group: DatasetGroup, context: Context,
                    weights_hash: str, chain: Any) -> SingleJob | None:
        # the item's identity is part of the key: identical pictures (twice in a dataset, or
        # in two datasets) are separate results, each under its own dataset and id
        keys = {i: self._output_key(spec, weights_hash, group.hashes[i], chain.label(),
                                    group.name, i)
                for i in group.lr}
        done = self.store.done_outputs(keys.values())
        targets = []
        for image_id, key in keys.items():
            hr = group.items[image_id].hr
            if key in done:
                self._reuse(key, done[key], group.name, image_id, hr)
                continue
            path, side = self._image_path(spec.name, group.name, image_id)
            targets.append(Target(image_id, key, path, side, lr=group.lr[image_id]))
            self.rows[key] = self._base_row(spec, group, image_id, chain.label(), weights_hash,
                                            self.config.seed)
            self.hr[key] = hr
        label = self._start_cell(spec, group, chain.label(), targets, len(keys))
        if not targets:
            return None
        return SingleJob(label, spec, context, chain, targets, self.config.tile,
                         self.config.tile_overlap, self.store.folder)

    def _generative_job(self, spec: UpscalerSpec, group: DatasetGroup, context: Context,
                        weights_hash: str) -> GenerativeJob | None:
        sizes = Counter(max(a.shape[:2]) for a in group.lr.values())
        size = sizes.most_common(1)[0][0] * self.config.scale
        fit_key = self._output_key(spec, weights_hash, "fit", group.content_hash, size,
                                   group.name, fit=True)
        fit_dir = self.store.relative(
            self.store.path_for("fits", spec.name, f"{group.name}-{fit_key[:12]}"))
        count = self.config.generate or len(group.lr)
        first = self.config.generate_seed
        keys = {s: self._output_key(spec, weights_hash, fit_key, "seed", s)
                for s in range(first, first + count)}
        done = self.store.done_outputs(keys.values())
        chain = f"generate{size}"
        targets = []
        for seed, key in keys.items():
            image_id = f"seed{seed:04d}"
            if key in done:
                self._reuse(key, done[key], group.name, image_id, None)
                continue
            path, side = self._image_path(spec.name, group.name, image_id)
            targets.append(Target(image_id, key, path, side, seed=seed))
            self.rows[key] = self._base_row(spec, group, image_id, chain, weights_hash, seed)
            self.hr[key] = None
        label = self._start_cell(spec, group, chain, targets, count)
        if not targets:
            return None
        fit_cell = content_key("fit", fit_key)
        fitted = self.store.db.execute(
            "SELECT 1 FROM cells WHERE cell_key = ? AND status = 'ok'", (fit_cell,)
        ).fetchone()
        images = None if fitted else [group.lr[i] for i in sorted(group.lr)]
        self.cells[label]["fit"] = dict(cell_key=fit_cell, fit_key=fit_key,
                                        size=size, fit_dir=fit_dir)
        return GenerativeJob(label, spec, context, size, fit_dir, targets, self.store.folder,
                             images=images)

    # ------------------------------------------------------------- results
    def _handle(self, job: Job, event: Event) -> None:
        if isinstance(event, FitDone):
            fit = self.cells[job.label]["fit"]
            if event.files is not None:
                unpack_checkpoint(event.files, self.store.folder / fit["fit_dir"])
            self.store.put_cell(cell_key=fit["cell_key"], upscaler=job.spec.name,
                                dataset=self.cells[job.label]["dataset"], status="ok",
                                info={"fit_key": fit["fit_key"], "size": fit["size"],
                                      "checkpoint": fit["fit_dir"]})
            return
        self._record_output(job, event)
        self.reporter.item_done(job.label)
        self.remaining[job.label] -= 1
        if self.remaining[job.label] == 0:
            self._finish_cell(job.label)

    def _record_output(self, job: Job, result: ItemResult) -> None:
        target = result.target
        row = {**self.rows.pop(target.key), "output_key": target.key}
        if result.error:
            self.store.put_output(**row, status="failed", reason=result.error,
                                  seconds=result.seconds, info=result.info)
            self._note_failure(f"{job.label} {target.image_id}", result.error)
            return
        side = dict(result.side_paths)
        if not result.written:
            assert result.image is not None
            side = write_output(self.store.folder, target, result.image, result.side_outputs)
        self.store.put_output(**row, status="ok", reason=None, path=target.path,
                              side_outputs=side, info=result.info, tiling=result.tiling,
                              seconds=result.seconds, peak_memory_mb=result.peak_memory_mb)
        self.summary.computed += 1
        image = (from_uint8(result.image) if result.image is not None
                 else load_image(self.store.folder / target.path))
        self._queue_score(Pending(target.key, row["dataset"], target.image_id, image,
                                  self.hr.pop(target.key, None)))

    def _finish_cell(self, label: str) -> None:
        cell = {k: v for k, v in self.cells[label].items() if k != "fit"}
        failed = self._every_item_failed(label)
        self.store.put_cell(**cell, status="failed" if failed else "ok",
                            reason="every item failed" if failed else None)
        self.reporter.cell_finished(label)

    def _every_item_failed(self, label: str) -> bool:
        cell = self.cells[label]
        row = self.store.db.execute(
            "SELECT COUNT(*), SUM(status = 'ok') FROM outputs WHERE cell_key = ?",
            (cell["cell_key"],)).fetchone()
        return bool(row[0]) and not row[1]

    # -------------------------------------------------------------- scoring
    def _queue_score(self, pending: Pending) -> None:
        self.pending.append(pending)
        self._flush_scores()

    def _flush_scores(self, force: bool = False) -> None:
        batch = max((m.spec.batch_size for m in self.metrics.values()), default=1)
        if not self.pending or (not force and len(self.pending) < batch):
            return
        pending, self.pending = self.pending, []
        references: dict[int, np.ndarray] = {}  # each HR image read once per flush

        def reference(index: int) -> np.ndarray | None:
            hr = pending[index].hr
            if hr is not None and index not in references:
                references[index] = hr()
            return references.get(index)

        for name, metric in self.metrics.items():
            spec = metric.spec
            keys = [content_key(p.output_key, name, spec.version, spec.options) for p in pending]
            done = self.store.done_scores(keys)
            todo = [(i, k, p) for i, (k, p) in enumerate(zip(keys, pending, strict=True))
                    if k not in done and (spec.kind == "no-reference" or p.hr is not None)]
            if not todo:
                continue
            hr = [reference(i) if spec.kind == "full-reference" else None for i, _, _ in todo]
            outcomes = score_batch(metric, [p.image for _, _, p in todo], hr)
            for (_, score_key, p), outcome in zip(todo, outcomes, strict=True):
                self.store.put_score(score_key=score_key, output_key=p.output_key, metric=name,
                                     metric_version=spec.version, value=outcome.value,
                                     status=outcome.status, reason=outcome.reason,
                                     seconds=outcome.seconds)
                if outcome.status == "ok":
                    self.summary.scores += 1
                else:
                    self._note_failure(f"{name} on {p.dataset}/{p.image_id}",
                                       outcome.reason or "")

    # -------------------------------------------------------------- summary
    def _failures(self) -> list[dict[str, str]]:
        """Every item of the run folder that did not succeed (the database is the truth)."""
        rows = self.store.db.execute(failures_sql(include_skipped=False)).fetchall()
        return [dict(zip(FAILURE_COLUMNS, row, strict=True)) for row in rows]
