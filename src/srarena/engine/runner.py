"""A benchmark run: plan cells, run them, write every result the moment it exists.

Cells are (upscaler, dataset). Every output is keyed by what determines it, so running the
same command again skips what is finished and redoes only what is missing or failed.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import weights as weights_service
from ..components import Context, GenerativeUpscaler, Item, Metric, Upscaler
from ..imageio import from_uint8, load_image, save_png, to_uint8
from ..plugins import Registry
from ..specs import MetricSpec, UpscalerSpec
from ..store import Store, content_key
from .chain import Chain, ScaleError, plan_chain
from .config import BenchConfig
from .environment import environment, resolve_device
from .reporter import Reporter
from .scoring import score_batch
from .single import run_chain


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
        return 1 if self.failures else 0


@dataclass
class DatasetGroup:
    """The images of one dataset: loaded LR arrays by id, and the failures to load."""

    name: str
    domain: str
    items: list[Item]
    lr: dict[str, np.ndarray]
    hashes: dict[str, str]

    @property
    def content_hash(self) -> str:
        return content_key(sorted(self.hashes.items()))


def array_hash(image: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(image, dtype=np.float32).tobytes())
    digest.update(str(image.shape).encode())
    return digest.hexdigest()[:32]


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def peak_memory_mb(device: str) -> float:
    """Peak accelerator memory on CUDA; otherwise the process's peak resident memory."""
    torch = sys.modules.get("torch")
    if device.startswith("cuda") and torch is not None:
        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


class Bench:
    """Runs a :class:`BenchConfig` against a registry into a run folder."""

    def __init__(
        self,
        registry: Registry,
        config: BenchConfig,
        folder: Path,
        reporter: Reporter | None = None,
    ) -> None:
        self.registry = registry
        self.config = config
        self.store = Store(folder)
        self.reporter = reporter or Reporter()
        self.summary = Summary()
        self.device = resolve_device(config.device)
        self.metrics: dict[str, Metric] = {}

    # ------------------------------------------------------------------ setup
    def _record_setup(self) -> None:
        versions = {name: spec.version for name, spec in self.registry.upscalers.items()}
        versions.update({f"metric:{n}": s.version for n, s in self.registry.metrics.items()})
        records = {"config": self.config.to_json(),
                   "environment": environment(self.device, versions)}
        for name, record in records.items():
            self.store.set_meta(name, record)
            (self.store.folder / f"{name}.json").write_text(
                json.dumps(record, indent=2, default=str) + "\n")
        self.store.set_meta(
            "metric_directions",
            {name: m.spec.higher_is_better for name, m in self.metrics.items()},
        )

    def _skip(self, kind: str, name: str, reason: str, fix: str = "") -> None:
        self.summary.skipped.append({"kind": kind, "name": name, "reason": reason, "fix": fix})
        self.reporter.note(f"skipped {kind} {name}: {reason}" + (f" — run `{fix}`" if fix else ""))

    def _note_failure(self, dataset: str, image_id: str, reason: str) -> None:
        where = f"{dataset}/{image_id}" if image_id else dataset
        self.reporter.note(f"[red]failed[/] {where}: {reason}")

    def _load_metrics(self) -> None:
        for name in self.config.metrics:
            spec = self.registry.metric(name)
            problem, fix = self._metric_unavailable(spec)
            if problem:
                self._skip("metric", name, problem, fix)
                continue
            try:
                context = Context(device=self.device, options={"scale": self.config.scale,
                                                               **spec.options})
                if spec.weights is not None:
                    context.weights = weights_service.resolve(spec.weights)
                self.metrics[name] = spec.load()(spec, context)
            except Exception as exc:  # noqa: BLE001
                self._skip("metric", name, f"failed to load: {type(exc).__name__}: {exc}")

    @staticmethod
    def _metric_unavailable(spec: MetricSpec) -> tuple[str, str]:
        import importlib.util

        missing = [m for m in spec.requires if importlib.util.find_spec(m) is None]
        if missing:
            return f"needs {', '.join(missing)}", spec.install_hint or f"pip install {missing[0]}"
        if spec.weights is not None and weights_service.missing_files(spec.weights):
            return "weights missing", weights_service.fix_command(spec.weights)
        return "", ""

    def _datasets(self) -> list[DatasetGroup]:
        from ..datasets import open_dataset

        groups: dict[str, DatasetGroup] = {}
        for text in self.config.datasets:
            dataset = open_dataset(text, self.registry)
            for item in dataset.items():
                group = groups.setdefault(
                    item.dataset, DatasetGroup(item.dataset, item.domain, [], {}, {})
                )
                row = {"dataset": item.dataset, "image_id": item.image_id, "domain": item.domain,
                       "source": item.source, "has_hr": int(item.hr is not None)}
                try:
                    image = item.lr()
                except Exception as exc:  # noqa: BLE001 - a broken image is one failed item
                    reason = f"{type(exc).__name__}: {exc}"
                    self.store.put_input(**row, status="failed", reason=reason)
                    self._note_failure(item.dataset, item.image_id, reason)
                    continue
                group.items.append(item)
                group.lr[item.image_id] = image
                group.hashes[item.image_id] = array_hash(image)
                self.store.put_input(**row, status="ok", reason=None,
                                     input_hash=group.hashes[item.image_id],
                                     width=image.shape[1], height=image.shape[0])
        return list(groups.values())

    # -------------------------------------------------------------- upscalers
    def _upscaler_problem(self, spec: UpscalerSpec) -> tuple[str, str]:
        if self.config.precision not in spec.precisions:
            return (f"precision {self.config.precision} not supported (supports "
                    f"{', '.join(spec.precisions)})", "use --precision fp32")
        if spec.resources.needs_gpu and not self.device.startswith("cuda"):
            return "needs a CUDA GPU", "run with --device cuda on a machine with a GPU"
        if spec.weights is not None and self.config.weights is None:
            missing = weights_service.missing_files(spec.weights)
            if missing:
                return (f"weights missing: {', '.join(missing)}",
                        weights_service.fix_command(spec.weights))
        return "", ""

    def _context(self, spec: UpscalerSpec, weight_paths: dict[str, Path]) -> Context:
        return Context(
            device=self.device,
            precision=self.config.precision,
            seed=self.config.seed,
            weights=weight_paths,
            options={**spec.options, **self.config.options.get(spec.name, {})},
            workdir=self.store.path_for("work", spec.name),
            progress=self.reporter.inner,
        )

    def _weights_identity(self, spec: UpscalerSpec) -> tuple[dict[str, Path], str]:
        if spec.weights is None:
            return {}, ""
        paths = weights_service.resolve(spec.weights, self.config.weights)
        return paths, content_key({n: file_hash(p) for n, p in sorted(paths.items())})

    # ------------------------------------------------------------------- run
    def run(self) -> Summary:
        for stale in self.store.folder.rglob(".tmp-*"):  # left by a killed run
            stale.unlink(missing_ok=True)
        self._load_metrics()
        self._record_setup()
        groups = self._datasets()
        for name in self.config.upscalers:
            spec = self.registry.upscaler(name)
            problem, fix = self._upscaler_problem(spec)
            if problem:
                for group in groups:
                    self.store.put_cell(cell_key=content_key(spec.name, group.name),
                                        upscaler=spec.name, dataset=group.name,
                                        status="skipped", reason=problem, fix=fix)
                self._skip("upscaler", name, problem, fix)
                continue
            try:
                weight_paths, weights_hash = self._weights_identity(spec)
            except Exception as exc:  # noqa: BLE001 - bad --weights or unreadable file
                self._skip("upscaler", name, str(exc), weights_service.fix_command(spec.weights))
                continue
            if spec.mode == "generative":
                self._run_generative(spec, groups, weight_paths, weights_hash)
            else:
                self._run_single(spec, groups, weight_paths, weights_hash)
        for metric in self.metrics.values():
            metric.close()
        self.summary.failures = self._failures()
        self.store.close()
        return self.summary

    def _failures(self) -> list[dict[str, str]]:
        """Every item of the run folder that did not succeed (the database is the truth)."""
        rows = self.store.db.execute(
            "SELECT 'input', '', dataset, image_id, '', reason FROM inputs WHERE status != 'ok' "
            "UNION ALL SELECT 'cell', upscaler, dataset, '', '', reason FROM cells "
            "WHERE status = 'failed' "
            "UNION ALL SELECT 'output', upscaler, dataset, image_id, '', reason FROM outputs "
            "WHERE status != 'ok' "
            "UNION ALL SELECT 'score', o.upscaler, o.dataset, o.image_id, s.metric, s.reason "
            "FROM scores s JOIN outputs o USING (output_key) WHERE s.status != 'ok'"
        ).fetchall()
        names = ("kind", "upscaler", "dataset", "image_id", "metric", "reason")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _cell_failed(self, spec: UpscalerSpec, group: DatasetGroup, reason: str,
                     chain: str = "") -> None:
        self.store.put_cell(cell_key=content_key(spec.name, group.name), upscaler=spec.name,
                            dataset=group.name, status="failed", reason=reason, chain=chain)
        self._note_failure(group.name, "", f"{spec.name}: {reason}")

    def _run_single(self, spec: UpscalerSpec, groups: list[DatasetGroup],
                    weight_paths: dict[str, Path], weights_hash: str) -> None:
        try:
            chain = plan_chain(spec.scales, self.config.scale)
        except ScaleError as exc:
            self._skip("upscaler", spec.name, str(exc))
            return
        instances: dict[int, Upscaler] = {}
        context = self._context(spec, weight_paths)
        try:
            for group in groups:
                self._single_cell(spec, group, chain, instances, context, weights_hash)
        finally:
            for instance in instances.values():
                instance.close()

    def _output_key(self, spec: UpscalerSpec, weights_hash: str, *identity: Any) -> str:
        return content_key(
            spec.name, spec.version, weights_hash, self.config.precision, self.config.tile,
            self.config.seed, {**spec.options, **self.config.options.get(spec.name, {})},
            *identity,
        )

    def _single_cell(self, spec: UpscalerSpec, group: DatasetGroup, chain: Chain,
                     instances: dict[int, Upscaler], context: Context,
                     weights_hash: str) -> None:
        label = f"{spec.name} · {group.name}"
        keys = {
            image_id: self._output_key(spec, weights_hash, group.hashes[image_id], chain.label())
            for image_id in group.lr
        }
        done = self.store.done_outputs(keys.values())
        self.reporter.cell_started(label, len(keys))
        pending: list[tuple[str, Item, np.ndarray]] = []
        for item in group.items:
            key = keys[item.image_id]
            if key in done:
                self.summary.reused += 1
                pending.append((key, item, load_image(self.store.folder / done[key]["path"])))
            else:
                try:
                    for step in chain.steps:
                        if step not in instances:
                            instances[step] = spec.load()(spec, step, context)
                except Exception as exc:  # noqa: BLE001 - the plugin failed to start
                    self._cell_failed(spec, group, f"{type(exc).__name__}: {exc}", chain.label())
                    self.reporter.note(traceback.format_exc(limit=3))
                    return
                image = self._single_item(spec, group, item, chain, instances, key,
                                          weights_hash)
                if image is not None:
                    pending.append((key, item, image))
            if len(pending) >= self._batch_size():
                self._score(pending)
                pending = []
            self.reporter.item_done(label)
        self._score(pending)
        self.store.put_cell(cell_key=content_key(spec.name, group.name), upscaler=spec.name,
                            dataset=group.name, status="ok", chain=chain.label())
        self.reporter.cell_finished(label)

    def _batch_size(self) -> int:
        return max((m.spec.batch_size for m in self.metrics.values()), default=1)

    def _single_item(self, spec: UpscalerSpec, group: DatasetGroup, item: Item, chain: Chain,
                     instances: dict[int, Upscaler], key: str,
                     weights_hash: str) -> np.ndarray | None:
        row: dict[str, Any] = dict(
            output_key=key, cell_key=content_key(spec.name, group.name), upscaler=spec.name,
            upscaler_version=spec.version, mode=spec.mode, dataset=group.name,
            domain=item.domain, image_id=item.image_id, input_hash=group.hashes[item.image_id],
            scale=self.config.scale, chain=chain.label(), precision=self.config.precision,
            seed=self.config.seed, weights_hash=weights_hash, device=self.device,
        )
        start = time.perf_counter()
        try:
            result = run_chain(instances, chain, group.lr[item.image_id], self.config.tile,
                               self.config.tile_overlap,
                               on_backoff=lambda t: self.reporter.note(
                                   f"{spec.name}: out of memory, retrying with {t}px tiles"))
        except Exception as exc:  # noqa: BLE001 - one failed item, the run goes on
            reason = f"{type(exc).__name__}: {exc}"
            self.store.put_output(**row, status="failed", reason=reason,
                                  seconds=time.perf_counter() - start)
            self._note_failure(group.name, item.image_id, reason)
            return None
        seconds = time.perf_counter() - start
        image8 = to_uint8(result.image)
        path = self._image_path(spec.name, group.name, item.image_id)
        save_png(path, image8)
        side = self._save_side_outputs(spec.name, group.name, item.image_id, result.side_outputs)
        tiles = [t for t in result.tiles if t is not None]
        self.store.put_output(**row, status="ok", reason=None, path=self.store.relative(path),
                              side_outputs=side, info=result.info,
                              tiling=str(min(tiles)) if tiles else "none", seconds=seconds,
                              peak_memory_mb=peak_memory_mb(self.device))
        self.summary.computed += 1
        return from_uint8(image8)

    def _image_path(self, upscaler: str, dataset: str, image_id: str) -> Path:
        from ..store import safe_name

        return self.store.path_for("images", upscaler, dataset, safe_name(image_id) + ".png")

    def _save_side_outputs(self, upscaler: str, dataset: str, image_id: str,
                           outputs: dict[str, np.ndarray]) -> dict[str, str]:
        from ..store import safe_name

        saved = {}
        for name, array in outputs.items():
            path = self.store.path_for("side", upscaler, dataset,
                                       f"{safe_name(image_id)}__{safe_name(name)}.npy")
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.asarray(array))
            saved[name] = self.store.relative(path)
        return saved

    # ------------------------------------------------------------ generative
    def _run_generative(self, spec: UpscalerSpec, groups: list[DatasetGroup],
                        weight_paths: dict[str, Path], weights_hash: str) -> None:
        context = self._context(spec, weight_paths)
        try:
            generator: GenerativeUpscaler = spec.load()(spec, context)
        except Exception as exc:  # noqa: BLE001
            for group in groups:
                self._cell_failed(spec, group, f"{type(exc).__name__}: {exc}")
            return
        try:
            for group in groups:
                self._generative_cell(spec, group, generator, weights_hash)
        finally:
            generator.close()

    def _generative_cell(self, spec: UpscalerSpec, group: DatasetGroup,
                         generator: GenerativeUpscaler, weights_hash: str) -> None:
        if not group.lr:
            return
        sizes = Counter(max(a.shape[:2]) for a in group.lr.values())
        size = sizes.most_common(1)[0][0] * self.config.scale
        fit_key = self._output_key(spec, weights_hash, "fit", group.content_hash, size)
        fit_dir = self.store.path_for("fits", spec.name, f"{group.name}-{fit_key[:12]}")
        fit_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = fit_dir / "fitted"
        fit_cell = content_key("fit", fit_key)
        label = f"{spec.name} · {group.name}"
        count = self.config.generate or len(group.lr)
        seeds = range(self.config.generate_seed, self.config.generate_seed + count)
        keys = {seed: self._output_key(spec, weights_hash, fit_key, "seed", seed)
                for seed in seeds}
        done = self.store.done_outputs(keys.values())
        self.reporter.cell_started(label, count)
        try:
            fitted = self.store.db.execute(
                "SELECT 1 FROM cells WHERE cell_key = ? AND status = 'ok'", (fit_cell,)
            ).fetchone()
            if not fitted:
                self.reporter.note(f"{spec.name}: fitting on {group.name} ({size}²)")
                start = time.perf_counter()
                generator.fit([group.lr[i] for i in sorted(group.lr)], size, checkpoint)
                self.store.put_cell(cell_key=fit_cell, upscaler=spec.name, dataset=group.name,
                                    status="ok", info={"fit_key": fit_key, "size": size,
                                                       "seconds": time.perf_counter() - start,
                                                       "checkpoint": str(checkpoint)})
            if len(done) < len(keys):
                generator.load(checkpoint)
        except Exception as exc:  # noqa: BLE001
            self._cell_failed(spec, group, f"fit failed: {type(exc).__name__}: {exc}")
            return
        pending: list[tuple[str, Item, np.ndarray]] = []
        for seed, key in keys.items():
            image_id = f"seed{seed:04d}"
            item = Item(image_id=image_id, dataset=group.name, domain=group.domain,
                        lr=lambda: np.zeros((1, 1, 3), np.float32))
            if key in done:
                self.summary.reused += 1
                pending.append((key, item, load_image(self.store.folder / done[key]["path"])))
            else:
                image = self._generate_one(spec, group, generator, seed, size, key, weights_hash)
                if image is not None:
                    pending.append((key, item, image))
            if len(pending) >= self._batch_size():
                self._score(pending)
                pending = []
            self.reporter.item_done(label)
        self._score(pending)
        self.store.put_cell(cell_key=content_key(spec.name, group.name), upscaler=spec.name,
                            dataset=group.name, status="ok", chain=f"generate{size}")
        self.reporter.cell_finished(label)

    def _generate_one(self, spec: UpscalerSpec, group: DatasetGroup,
                      generator: GenerativeUpscaler, seed: int, size: int, key: str,
                      weights_hash: str) -> np.ndarray | None:
        image_id = f"seed{seed:04d}"
        row: dict[str, Any] = dict(
            output_key=key, cell_key=content_key(spec.name, group.name), upscaler=spec.name,
            upscaler_version=spec.version, mode=spec.mode, dataset=group.name,
            domain=group.domain, image_id=image_id, scale=self.config.scale,
            chain=f"generate{size}", precision=self.config.precision, seed=seed,
            weights_hash=weights_hash, device=self.device,
        )
        start = time.perf_counter()
        try:
            result = generator.generate(seed, size)
            from .single import check_output

            result = check_output(result, (size, size), spec.name)
        except Exception as exc:  # noqa: BLE001
            reason = f"{type(exc).__name__}: {exc}"
            self.store.put_output(**row, status="failed", reason=reason)
            self._note_failure(group.name, image_id, reason)
            return None
        seconds = time.perf_counter() - start
        image8 = to_uint8(result.image)
        path = self._image_path(spec.name, group.name, image_id)
        save_png(path, image8)
        side = self._save_side_outputs(spec.name, group.name, image_id, result.side_outputs)
        self.store.put_output(**row, status="ok", reason=None, path=self.store.relative(path),
                              side_outputs=side, info=result.info, tiling="none",
                              seconds=seconds, peak_memory_mb=peak_memory_mb(self.device))
        self.summary.computed += 1
        return from_uint8(image8)

    # --------------------------------------------------------------- scoring
    def _score(self, pending: list[tuple[str, Item, np.ndarray]]) -> None:
        if not pending or not self.metrics:
            return
        for name, metric in self.metrics.items():
            spec = metric.spec
            keys = [content_key(key, name, spec.version, spec.options) for key, _, _ in pending]
            done = self.store.done_scores(keys)
            todo = [(k, p) for k, p in zip(keys, pending, strict=True) if k not in done]
            if spec.kind == "full-reference":
                todo = [(k, p) for k, p in todo if p[1].hr is not None]
            if not todo:
                continue
            images = [p[2] for _, p in todo]
            references = [p[1].hr() if spec.kind == "full-reference" and p[1].hr else None
                          for _, p in todo]
            for (score_key, (output_key, item, _)), outcome in zip(
                todo, score_batch(metric, images, references), strict=True
            ):
                self.store.put_score(score_key=score_key, output_key=output_key, metric=name,
                                     metric_version=spec.version, value=outcome.value,
                                     status=outcome.status, reason=outcome.reason,
                                     seconds=outcome.seconds)
                if outcome.status == "ok":
                    self.summary.scores += 1
                else:
                    self._note_failure(item.dataset, item.image_id, outcome.reason or "")
