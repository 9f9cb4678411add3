"""A benchmark run: read the inputs, plan cells into jobs, execute them, record every result
as it arrives.

Cells are (upscaler, dataset). Every output is keyed by what determines it (:mod:`.plan`), so
running the same command again skips what is finished and redoes only what is missing or
failed. The driver (this module) alone writes the database (:mod:`.record`), whichever
executor computes; scoring runs on the worker pool (:class:`~.scoring.Scorer`) while the
upscaler goes on.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .. import weights as weights_service
from ..availability import availability
from ..components import Item, Metric
from ..imageio import load_image, to_rgb
from ..plugins import Registry
from ..specs import UpscalerSpec, WeightSet
from ..status import Status
from ..store import Store, safe_name
from . import plan
from .chain import Chain, ScaleError, plan_chain
from .config import BenchConfig
from .environment import environment, resolve_device
from .executors import Event, Executor, Job, LocalExecutor
from .inputs import DatasetGroup, read_inputs
from .instances import close_all, metric_context, open_metric
from .pipeline import StageClock, in_flight, make_pool, worker_count
from .record import Recorder, Summary
from .reporter import Reporter
from .scoring import Scored, Scorer, ToScore
from .work import FitDone, GenerativeJob, ItemResult, SingleJob, Streaming, Target

__all__ = ["Bench", "Summary"]


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
        self.record = Recorder(self.store, self.reporter, self.summary)
        self.device = resolve_device(config.device)
        self.identity = plan.RunIdentity(config.precision, config.tile, config.seed,
                                         config.options)
        self.workers = worker_count(config.workers)
        self.metrics: dict[str, Metric] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self.hr: dict[str, Any] = {}
        self.remaining: Counter[str] = Counter()
        self.cells: dict[str, dict[str, Any]] = {}
        self.clock: StageClock | None = None
        """The clock of the cell whose results arrive (scoring waits are charged to it)."""

    # ------------------------------------------------------------------ run
    def run(self) -> Summary:
        for stale in self.store.folder.rglob(".tmp-*"):  # left by a killed run
            stale.unlink(missing_ok=True)
        pool = make_pool(self.workers)
        self._open_metrics()
        self.scorer = Scorer(self.metrics, pool, in_flight(self.workers), lambda: self.clock)
        try:
            groups = self._read_datasets(pool)
            self._record_setup()
            jobs = self._plan(groups)
            for job, event in self.executor.run(jobs, self.reporter):
                self._handle(job, event)
            self._write_scores(self.scorer.finish())
        except KeyboardInterrupt:
            self._write_scores(self.scorer.finish())  # what is scored is kept
            raise
        finally:
            close_all(self.metrics.values())
            self.executor.close()
            pool.shutdown(wait=True, cancel_futures=True)
            self.summary.failures = self.store.failures()
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

    def _open_metrics(self) -> None:
        for name in self.config.metrics:
            spec = self.registry.metric(name)
            found = availability(spec)
            if not found.ok:
                self.record.skip("metric", name, found.reason, found.fix)
                continue
            try:
                context = metric_context(spec, self.device, self.config.scale)
                self.metrics[name] = open_metric(spec, context)
            except Exception as exc:  # noqa: BLE001
                self.record.skip("metric", name, f"failed to load: {type(exc).__name__}: {exc}")

    def _read_datasets(self, pool: Any) -> list[DatasetGroup]:
        from ..datasets import DatasetError, open_dataset

        groups: dict[str, DatasetGroup] = {}
        described = []
        for text in self.config.datasets:
            try:
                dataset = open_dataset(text, self.registry)
                description = dataset.describe()
                items = list(dataset.items())
            except DatasetError as exc:  # e.g. a folder with no images: the others go on
                self.record.skip("dataset", text, str(exc))
                continue
            described.append(description)
            made_at = description.get("scale")
            if made_at and made_at != self.config.scale:
                self.reporter.note(
                    f"[yellow]note[/] {text} was degraded at x{made_at} but the bench runs at "
                    f"x{self.config.scale}: full-reference metrics will refuse its outputs "
                    f"(use --scale {made_at})")
            for item, facts in read_inputs(pool, items, in_flight(self.workers)):
                self._record_input(groups, item, facts)
        self.store.set_meta("datasets", described)
        return list(groups.values())

    def _record_input(self, groups: dict[str, DatasetGroup], item: Item, facts: Any) -> None:
        group = groups.setdefault(item.dataset, DatasetGroup(item.dataset, item.domain))
        row = {"dataset": item.dataset, "image_id": item.image_id, "domain": item.domain,
               "source": item.source, "has_hr": int(item.hr is not None)}
        if isinstance(facts, BaseException):  # a broken image is one failed item
            self.record.input(row, error=f"{type(facts).__name__}: {facts}")
            return
        group.items[item.image_id] = item
        group.hashes[item.image_id] = facts.input_hash
        group.sizes[item.image_id] = (facts.height, facts.width)
        self.record.input(row, input_hash=facts.input_hash, width=facts.width,
                          height=facts.height)

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

    def _context(self, spec: UpscalerSpec, weight_paths: dict[str, Path]) -> Any:
        from ..components import Context

        return Context(
            device=self.device, precision=self.config.precision, seed=self.config.seed,
            weights=weight_paths, options=self.identity.options_of(spec),
            workdir=self.store.path_for("work", spec.name),
        )

    def _weights_identity(self, weights: WeightSet | None) -> tuple[dict[str, Path], str]:
        if weights is None:
            return {}, ""
        paths = weights_service.resolve(weights, self.config.weights)
        return paths, weights_service.fingerprint(paths)

    def _plan(self, groups: list[DatasetGroup]) -> list[Job]:
        jobs: list[Job] = []
        for name in self.config.upscalers:
            spec = self.registry.upscaler(name)
            try:
                chain = None if spec.mode == "generative" else plan_chain(spec.scales,
                                                                          self.config.scale)
            except ScaleError as exc:
                self.record.skip("upscaler", name, str(exc))
                continue
            weights = spec.weights.for_scales(chain.steps if chain else None) \
                if spec.weights else None
            problem, fix = self._upscaler_problem(spec, weights)
            if problem:
                for group in groups:
                    self.record.cell(Status.SKIPPED, problem, fix,
                                     cell_key=plan.cell_key(spec.name, group.name),
                                     upscaler=spec.name, dataset=group.name)
                self.record.skip("upscaler", name, problem, fix)
                continue
            try:
                weight_paths, weights_hash = self._weights_identity(weights)
            except (weights_service.WeightsError, OSError, ValueError) as exc:
                fix = weights_service.fix_command(weights) if weights else ""
                self.record.skip("upscaler", name, str(exc), fix)
                continue
            context = self._context(spec, weight_paths)
            for group in groups:
                if not group.items:
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
        return dict(cell_key=plan.cell_key(spec.name, group.name), upscaler=spec.name,
                    upscaler_version=spec.version, mode=spec.mode, dataset=group.name,
                    domain=group.items[image_id].domain if image_id in group.items
                    else group.domain, image_id=image_id,
                    input_hash=group.hashes.get(image_id), scale=self.config.scale,
                    chain=chain, precision=self.config.precision, seed=seed,
                    weights_hash=weights_hash, device=self.device)

    def _streaming(self) -> Streaming:
        return Streaming(self.config.workers, self.config.png_level)

    def _start_cell(self, spec: UpscalerSpec, group: DatasetGroup, chain: str,
                    targets: list[Target], total: int) -> str:
        label = f"{spec.name} · {group.name}"
        self.cells[label] = dict(cell_key=plan.cell_key(spec.name, group.name),
                                 upscaler=spec.name, dataset=group.name, chain=chain)
        self.remaining[label] = len(targets)
        self.reporter.cell_started(label, total)
        for _ in range(total - len(targets)):
            self.reporter.item_done(label)
        if not targets:
            self._finish_cell(label)
        return label

    def _reuse(self, key: str, row: Any, group: DatasetGroup, image_id: str) -> None:
        """A finished output: scored by the metrics that have not scored it yet, read from
        its PNG only if there is one."""
        self.summary.reused += 1
        item = group.items.get(image_id)
        hr = item.hr if item is not None else None
        path = self.store.folder / row["path"]
        self._score(ToScore(key, group.name, image_id, lambda: load_image(path), hr))

    def _single_job(self, spec: UpscalerSpec, group: DatasetGroup, context: Any,
                    weights_hash: str, chain: Chain) -> SingleJob | None:
        keys = {i: self.identity.single_key(spec, weights_hash, group.hashes[i], chain.label(),
                                            group.name, i)
                for i in group.items}
        done = self.store.done_outputs(keys.values())
        targets = []
        for image_id, key in keys.items():
            if key in done:
                self._reuse(key, done[key], group, image_id)
                continue
            item = group.items[image_id]
            path, side = self._image_path(spec.name, group.name, image_id)
            targets.append(Target(image_id, key, path, side, load=item.lr,
                                  input_hash=group.hashes[image_id]))
            self.rows[key] = self._base_row(spec, group, image_id, chain.label(), weights_hash,
                                            self.config.seed)
            self.hr[key] = item.hr
        label = self._start_cell(spec, group, chain.label(), targets, len(keys))
        if not targets:
            return None
        return SingleJob(label, spec, context, chain, targets, self.config.tile,
                         self.config.tile_overlap, self.store.folder,
                         streaming=self._streaming())

    def _generative_job(self, spec: UpscalerSpec, group: DatasetGroup, context: Any,
                        weights_hash: str) -> GenerativeJob | None:
        size = plan.generation_size(group.sizes.values(), self.config.scale)
        fit_key = self.identity.fit_key(spec, weights_hash, group.content_hash, size,
                                        group.name)
        fit_dir = self.store.relative(
            self.store.path_for("fits", spec.name, f"{group.name}-{fit_key[:12]}"))
        count = self.config.generate or len(group.items)
        first = self.config.generate_seed
        keys = {s: self.identity.generated_key(spec, weights_hash, fit_key, s)
                for s in range(first, first + count)}
        done = self.store.done_outputs(keys.values())
        chain = f"generate{size}"
        targets = []
        for seed, key in keys.items():
            image_id = plan.generated_id(seed)
            if key in done:
                self._reuse(key, done[key], group, image_id)
                continue
            path, side = self._image_path(spec.name, group.name, image_id)
            targets.append(Target(image_id, key, path, side, seed=seed))
            self.rows[key] = self._base_row(spec, group, image_id, chain, weights_hash, seed)
            self.hr[key] = None
        label = self._start_cell(spec, group, chain, targets, count)
        if not targets:
            return None
        fit_cell = plan.fit_cell_key(fit_key)
        readers = None if self.store.cell_ok(fit_cell) else group.readers()
        self.cells[label]["fit"] = dict(cell_key=fit_cell, fit_key=fit_key,
                                        size=size, fit_dir=fit_dir)
        return GenerativeJob(label, spec, context, size, fit_dir, targets, self.store.folder,
                             images=readers, streaming=self._streaming())

    # ------------------------------------------------------------- results
    def _handle(self, job: Job, event: Event) -> None:
        self.clock = job.streaming.clock
        if isinstance(event, FitDone):
            from .work import unpack_checkpoint

            fit = self.cells[job.label]["fit"]
            if event.files is not None:
                unpack_checkpoint(event.files, self.store.folder / fit["fit_dir"])
            self.record.cell(Status.OK, cell_key=fit["cell_key"], upscaler=job.spec.name,
                             dataset=self.cells[job.label]["dataset"],
                             info={"fit_key": fit["fit_key"], "size": fit["size"],
                                   "checkpoint": fit["fit_dir"]})
            job.streaming.clock = StageClock()  # the generation's pace, not the fit's
            return
        self._record_output(job, event)
        self.reporter.item_done(job.label)
        self.reporter.stage(job.label, job.streaming.clock.describe())
        self.remaining[job.label] -= 1
        if self.remaining[job.label] == 0:
            self._finish_cell(job.label)

    def _record_output(self, job: Job, result: ItemResult) -> None:
        from .work import write_output

        target = result.target
        row = {**self.rows.pop(target.key), "output_key": target.key}
        hr = self.hr.pop(target.key, None)
        side = dict(result.side_paths)
        if not result.error and not result.written:
            assert result.image is not None
            try:
                side = write_output(self.store.folder, target, result.image,
                                    result.side_outputs, self.config.png_level)
            except OSError as exc:
                result.error = f"cannot write the output: {type(exc).__name__}: {exc}"
        self.record.output(row, result, job.label, side)
        if result.error:
            return
        image8 = result.image
        path = self.store.folder / target.path
        image = (lambda: to_rgb(image8)) if image8 is not None else (lambda: load_image(path))
        self._score(ToScore(target.key, row["dataset"], target.image_id, image, hr))

    def _finish_cell(self, label: str) -> None:
        cell = {k: v for k, v in self.cells[label].items() if k != "fit"}
        self.record.finish_cell(cell)
        self.reporter.cell_finished(label)

    # -------------------------------------------------------------- scoring
    def _score(self, item: ToScore) -> None:
        """Queue an output for the metrics that have not scored it (none: nothing is read)."""
        specs = [m.spec for m in self.metrics.values()]
        done = self.store.done_scores(plan.score_key(item.output_key, s) for s in specs)
        item.metrics = [s.name for s in plan.scores_to_do(item.output_key, specs,
                                                          item.hr is not None, done)]
        if item.metrics:
            self._write_scores(self.scorer.add(item))

    def _write_scores(self, scored: Any) -> None:
        for entry in scored:
            self._write_score(entry)

    def _write_score(self, scored: Scored) -> None:
        item, name, _ = scored
        spec = self.metrics[name].spec
        self.record.score(scored, plan.score_key(item.output_key, spec), spec.version)
