"""A benchmark run: read the inputs, plan cells into jobs, execute them, record every result
as it arrives.

Cells are (upscaler, dataset). Every output is keyed by what determines it (:mod:`.plan`), so
running the same command again skips what is finished and redoes only what is missing or
failed; a finished output is reused only while its file has the sha256 its row records. The
run holds its folder's lock (:mod:`srarena.runlock`) and keeps to the folder's pinned
settings (:mod:`.pinned`). The driver (this module) alone writes the database
(:mod:`.record`), whichever executor computes; scoring runs on the worker pool
(:class:`~.scoring.Scorer`) while the upscaler goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from .. import runlock
from .. import weights as weights_service
from ..atomic import atomic_write_text
from ..availability import NEEDS_GPU, availability
from ..components import Item, Metric
from ..imageio import load_image, to_rgb
from ..plugins import Registry
from ..specs import UpscalerSpec, WeightSet
from ..status import Status
from ..store import Store, normal_id, safe_name
from . import limits, pinned, plan
from .chain import Chain, ScaleError, chain_of, weights_for
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
                 reporter: Reporter | None = None, executor: Executor | None = None,
                 wait: bool = False) -> None:
        config.validate()
        self.registry = registry
        self.config = config
        self.folder = Path(folder)
        self.wait = wait
        """Wait for another run holding the folder instead of refusing (FolderBusy)."""
        self.reporter = reporter or Reporter()
        self.executor = executor or LocalExecutor()
        self.summary = Summary()
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
        self.wanted = pinned.Pins(pinned.settings_of(config))
        """What this run pins its folder to; filled in as components open."""

    # ------------------------------------------------------------------ run
    def run(self) -> Summary:
        """Run the benchmark while holding the folder's lock.

        Raises :class:`~srarena.runlock.FolderBusy` (another run holds the folder),
        :class:`~.pinned.RunConflict` (the folder was made with other settings),
        :class:`~.limits.TooLarge` (an output this machine cannot hold) before any work, and
        :class:`~srarena.store.StoreError` when the database cannot be written.
        """
        def waiting(holder: dict[str, Any]) -> None:
            self.reporter.note(f"waiting for {runlock.describe(holder)} to finish with "
                               f"{self.folder}")

        with runlock.hold(self.folder, self.wait, waiting):
            self.store = Store(self.folder)
            try:
                self.record = Recorder(self.store, self.reporter, self.summary)
                self._run()
            finally:
                self.store.close()
        return self.summary

    def _run(self) -> None:
        for stale in self.folder.rglob(".tmp-*"):  # left by a killed run
            stale.unlink(missing_ok=True)
        self.pins = pinned.load(self.store)
        self._refuse_conflicts()  # the settings: before anything opens
        pool = make_pool(self.workers)
        self._open_metrics()
        self.scorer = Scorer(self.metrics, pool, in_flight(self.workers), lambda: self.clock)
        try:
            groups = self._read_datasets(pool)
            jobs = self._plan(groups, pool)
            self._record_setup()  # after the plan: a refused run leaves config.json as it was
            for job, event in self.executor.run(jobs, self.reporter):
                self._handle(job, event)
            self._write_scores(self.scorer.finish())
        except KeyboardInterrupt:
            self._write_scores(self.scorer.finish())  # what is scored is kept
            self._finish_run()
            raise
        else:
            self._finish_run()
        finally:
            close_all(self.metrics.values())
            self.executor.close()
            pool.shutdown(wait=True, cancel_futures=True)

    def _refuse_conflicts(self) -> None:
        """Raise :class:`~.pinned.RunConflict` when what this run has asked for so far
        differs from the folder's pins."""
        found = pinned.conflicts(self.pins, self.wanted)
        if found:
            raise pinned.refusal(self.folder, found)

    def _finish_run(self) -> None:
        self.summary.failures = self.store.failures()
        self.store.set_meta("skipped", self.summary.skipped)

    # ---------------------------------------------------------------- setup
    def _record_setup(self) -> None:
        versions = {name: spec.version for name, spec in self.registry.upscalers.items()}
        versions.update({f"metric:{n}": s.version for n, s in self.registry.metrics.items()})
        pins = pinned.load(self.store)
        records = {"config": {**self.config.to_json(),
                              "pinned": pins.to_json() if pins else None},
                   "environment": environment(self.device, versions)}
        for name, record in records.items():
            self.store.set_meta(name, record)
            atomic_write_text(self.folder / f"{name}.json",
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
                continue
            self.wanted.metrics[name] = {"version": spec.version, "options": spec.options}
        self._refuse_conflicts()  # the metrics: before the inputs are read

    def _read_datasets(self, pool: Any) -> list[DatasetGroup]:
        from ..datasets import DatasetError, EmptyDataset, open_dataset

        groups: dict[str, DatasetGroup] = {}
        described = []
        for text in self.config.datasets:
            try:
                dataset = open_dataset(text, self.registry)
                description = dataset.describe()
                items = self._distinct(list(dataset.items()))
            except EmptyDataset as exc:  # nothing to run: said, not a failure
                self.record.skip("dataset", text, str(exc), failed=False)
                continue
            except (DatasetError, OSError) as exc:  # unreadable: the others go on
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

    def _distinct(self, items: list[Item]) -> list[Item]:
        """The items with ids in NFC, each (dataset, id) once: inputs that would share one
        (names that differ only in their Unicode form, a plugin's repeated id) are kept
        apart as ``ID~HASH``, the hash of each one's source (else its position)."""
        items = [dataclasses.replace(item, image_id=normal_id(item.image_id))
                 if item.image_id != normal_id(item.image_id) else item for item in items]
        by_id: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            by_id[(item.dataset, item.image_id)].append(index)
        for (dataset, image_id), indices in by_id.items():
            if len(indices) == 1:
                continue
            renamed = []
            for position, index in enumerate(indices):
                origin = items[index].source or f"#{position}"
                digest = hashlib.sha256(origin.encode("utf-8", "surrogatepass")).hexdigest()[:8]
                items[index] = dataclasses.replace(items[index], image_id=f"{image_id}~{digest}")
                renamed.append(items[index].image_id)
            self.reporter.note(
                f"[yellow]note[/] {len(indices)} inputs of {dataset} share the id {image_id!r} "
                f"(names that differ only in their Unicode form, or a repeated id): kept apart "
                f"as {', '.join(repr(r) for r in renamed)}")
        return items

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
            return NEEDS_GPU, "run with --device cuda on a machine with a GPU"
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

    def _plan(self, groups: list[DatasetGroup], pool: Any) -> list[Job]:
        planned = []
        for name in self.config.upscalers:
            spec = self.registry.upscaler(name)
            try:
                chain = chain_of(spec, self.config.scale)
            except ScaleError as exc:
                self.record.skip("upscaler", name, str(exc))
                continue
            weights = weights_for(spec, chain)
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
                if self.config.weights is not None:  # the user's own file: refused, loudly
                    raise
                fix = weights_service.fix_command(weights) if weights else ""
                self.record.skip("upscaler", name, str(exc), fix)
                continue
            self.wanted.upscalers[name] = {
                "version": spec.version, "weights": weights_hash,
                "options": self.identity.options_of(spec, fit=spec.mode == "generative")}
            if spec.mode == "generative":
                options = self.identity.options_of(spec)
                self.wanted.generation[name] = {key: options.get(key)
                                                for key in spec.generation_options}
            planned.append((spec, chain, weight_paths, weights_hash))
        self._refuse_conflicts()  # the upscalers: before any job
        limits.check_outputs(self._largest_outputs(planned, groups), self.config.max_memory_gb)
        for name in pinned.regenerated(self.pins, self.wanted):
            dropped = self.store.drop_outputs(name)
            for path in dropped:
                self.store.inside(path).unlink(missing_ok=True)
            self.reporter.note(f"[yellow]note[/] {name}'s generation options changed "
                               f"({self.pins.generation[name]} → {self.wanted.generation[name]}):"
                               f" its {len(dropped)} generated images are made again")
        pinned.save(self.store, pinned.merged(self.pins, self.wanted))
        jobs: list[Job] = []
        for spec, chain, weight_paths, weights_hash in planned:
            context = self._context(spec, weight_paths)
            for group in groups:
                if not group.items:
                    continue
                job = (self._generative_job(spec, group, context, weights_hash, pool)
                       if chain is None else
                       self._single_job(spec, group, context, weights_hash, chain, pool))
                if job is not None:
                    jobs.append(job)
        if self.summary.recomputed:
            self.reporter.note(f"[yellow]note[/] {self.summary.recomputed} finished outputs "
                               "were missing or changed on disk: they are computed again")
        return jobs

    def _largest_outputs(self, planned: list[Any], groups: list[DatasetGroup],
                         ) -> list[tuple[str, int, int, int, int]]:
        """Per planned cell, its largest output: (what, in h, in w, out h, out w)."""
        found = []
        for spec, chain, *_ in planned:
            for group in groups:
                if not group.sizes:
                    continue
                if chain is None:
                    side = plan.generation_size(group.sizes.values(), self.config.scale)
                    found.append((f"{spec.name} on {group.name}", side, side, side, side))
                    continue
                h, w = max(group.sizes.values(), key=lambda hw: hw[0] * hw[1])
                s = self.config.scale
                found.append((f"{spec.name} on {group.name}", h, w, h * s, w * s))
        return found

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

    def _reusable(self, keys: dict[Any, str], pool: Any) -> dict[str, Any]:
        """The finished rows among ``keys`` whose file is there with the sha256 its row
        records (hashed on the pool). A row whose file is missing or changed is dropped with
        its scores, to be computed again; a row of an older srarena, without a sha256, is
        taken with its file's sha256 recorded now."""
        done = self.store.done_outputs(keys.values())
        rows = list(done.values())
        found = list(pool.map(self._file_sha256, rows))
        reusable = {}
        for row, sha in zip(rows, found, strict=True):
            if sha is not None and row["sha256"] in (None, sha):
                if row["sha256"] is None:
                    self.store.set_output_sha256(row["output_key"], sha)
                reusable[row["output_key"]] = row
            else:
                self.store.forget_scores(row["output_key"])
                self.summary.recomputed += 1
        return reusable

    def _file_sha256(self, row: Any) -> str | None:
        from ..weights.cache import sha256_file

        try:
            return sha256_file(self.store.inside(row["path"])) if row["path"] else None
        except (OSError, ValueError):
            return None

    def _reuse(self, key: str, row: Any, group: DatasetGroup, image_id: str) -> None:
        """A finished output: scored by the metrics that have not scored it yet, read from
        its PNG only if there is one."""
        self.summary.reused += 1
        item = group.items.get(image_id)
        hr = item.hr if item is not None else None
        path = self.store.inside(row["path"])
        self._score(ToScore(key, group.name, image_id, lambda: load_image(path), hr))

    def _single_job(self, spec: UpscalerSpec, group: DatasetGroup, context: Any,
                    weights_hash: str, chain: Chain, pool: Any) -> SingleJob | None:
        keys = {i: self.identity.single_key(spec, weights_hash, group.hashes[i], chain.label(),
                                            group.name, i)
                for i in group.items}
        done = self._reusable(keys, pool)
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
                         self.config.tile_overlap, self.folder,
                         streaming=self._streaming())

    def _generative_job(self, spec: UpscalerSpec, group: DatasetGroup, context: Any,
                        weights_hash: str, pool: Any) -> GenerativeJob | None:
        size = plan.generation_size(group.sizes.values(), self.config.scale)
        fit_key = self.identity.fit_key(spec, weights_hash, group.content_hash, size,
                                        group.name)
        fit_dir = self.store.relative(
            self.store.path_for("fits", spec.name, f"{group.name}-{fit_key[:12]}"))
        count = self.config.generate or len(group.items)
        first = self.config.generate_seed
        keys = {s: self.identity.generated_key(spec, weights_hash, fit_key, s)
                for s in range(first, first + count)}
        done = self._reusable(keys, pool)
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
        fitted = self.store.cell_ok(fit_cell) and (self.folder / fit_dir).is_dir()
        readers = None if fitted else group.readers()
        self.cells[label]["fit"] = dict(cell_key=fit_cell, fit_key=fit_key,
                                        size=size, fit_dir=fit_dir)
        return GenerativeJob(label, spec, context, size, fit_dir, targets, self.folder,
                             images=readers, streaming=self._streaming())

    # ------------------------------------------------------------- results
    def _handle(self, job: Job, event: Event) -> None:
        self.clock = job.streaming.clock
        if isinstance(event, FitDone):
            from .work import unpack_checkpoint

            fit = self.cells[job.label]["fit"]
            if event.files is not None:
                unpack_checkpoint(event.files, self.folder / fit["fit_dir"])
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
        from .work import disk_error, write_output

        target = result.target
        row = {**self.rows.pop(target.key), "output_key": target.key}
        hr = self.hr.pop(target.key, None)
        side = dict(result.side_paths)
        if not result.error and not result.written:
            assert result.image is not None
            try:
                result.sha256, side = write_output(self.folder, target, result.image,
                                                   result.side_outputs, self.config.png_level)
            except OSError as exc:
                fatal = disk_error(exc)
                if fatal is not None:
                    raise fatal from exc
                result.error = f"cannot write the output: {type(exc).__name__}: {exc}"
        self.record.output(row, result, job.label, side)
        if result.error:
            return
        image8 = result.image
        path = self.folder / target.path
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
