"""Conformance checks for plugin authors: import them in your plugin's own tests.

Each check raises :class:`ConformanceError` saying, in the plugin's terms, what breaks the
contract. Example (in ``tests/test_conformance.py`` of a plugin)::

    from srarena import testing

    def test_spec():
        testing.check_spec(testing.registered("upscaler", "mytech"))

    def test_registration_imports_no_torch():
        testing.check_registration_without_torch("srarena_mytech.plugin")

    def test_upscaler():
        spec = testing.registered("upscaler", "mytech")
        testing.check_upscaler(spec, testing.context(weights=...))

Nothing here imports torch at module level.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .components import Context, InputRefused, Item, Metric, Upscaler, interface_of
from .specs import DatasetSpec, MetricSpec, SpecError, UpscalerSpec, WeightSet

Spec = UpscalerSpec | MetricSpec | DatasetSpec


class ConformanceError(AssertionError):
    """A plugin breaks the srarena contract; the message says how."""


def _fail(spec: Any, text: str) -> ConformanceError:
    kind = type(spec).__name__.replace("Spec", "").lower()
    return ConformanceError(f"{kind} {getattr(spec, 'name', '?')!r}: {text}")


def registered(kind: str, name: str) -> Spec:
    """The spec of an installed component as srarena's registry sees it (fails if absent)."""
    from .plugins import get_registry

    registry = get_registry(refresh=True)
    table = {"upscaler": registry.upscalers, "metric": registry.metrics,
             "dataset": registry.datasets}[kind]
    if name not in table:
        problems = [f"{p.distribution} ({p.module}): {p.error}" for p in registry.plugins
                    if p.error]
        raise ConformanceError(
            f"no {kind} named {name!r} is registered; is the plugin installed with an entry "
            f"point in the 'srarena' group? Plugins that failed: {problems or 'none'}"
        )
    return table[name]


def context(**overrides: Any) -> Context:
    """A CPU, fp32, seed-0 context for tests; override any field."""
    return Context(**{"device": "cpu", "precision": "fp32", "seed": 0, **overrides})


def check_spec(spec: Spec) -> None:
    """The static spec is complete: factory importable, licence stated, weights declared well."""
    try:
        spec.__post_init__()  # type: ignore[union-attr]
    except SpecError as exc:
        raise _fail(spec, str(exc)) from exc
    if spec.licence in ("", "unknown"):
        raise _fail(spec, "licence is not stated (set licence=...: the code's and the weights')")
    try:
        factory = spec.load()
    except Exception as exc:  # noqa: BLE001
        raise _fail(spec, f"factory {spec.factory!r} cannot be imported: {exc}") from exc
    expected = interface_of(spec)
    if not (isinstance(factory, type) and issubclass(factory, expected)):
        raise _fail(spec, f"factory {spec.factory!r} must be a subclass of "
                          f"srarena.{expected.__name__}")
    weights = getattr(spec, "weights", None)
    if weights is not None:
        _check_weightset(spec, weights)
    if getattr(spec, "published_results", ""):
        check_published_results(spec)


def check_published_results(spec: UpscalerSpec) -> None:
    """The spec's published-results table is packaged, well formed, and every value names
    its source."""
    from .analysis.replication import TableError, load_table, rows_of

    try:
        rows, _ = rows_of(load_table(spec.published_results))
    except TableError as exc:
        raise _fail(spec, f"published_results: {exc}") from exc
    for row in rows:
        if not row.source.strip():
            raise _fail(spec, f"published_results: the {row.metric} of {row.dataset} names "
                              "no source")


def _check_weightset(spec: Spec, weights: WeightSet) -> None:
    if weights.licence in ("", "unknown"):
        raise _fail(spec, f"weight set {weights.name!r} states no licence")
    for file in weights.files:
        if not file.sources:
            raise _fail(spec, f"weight file {file.filename!r} lists no source")
        if file.sha256 is not None and len(file.sha256) != 64:
            raise _fail(spec, f"weight file {file.filename!r}: sha256 must be 64 hex digits")
        for source in file.sources:
            if source.kind == "manual" and not source.url:
                raise _fail(spec, f"manual source of {file.filename!r} needs the page URL")
            if source.kind == "gdrive":
                _check_drive(spec, file.filename, source)


def _check_drive(spec: Spec, filename: str, source: Any) -> None:
    from .weights import gdrive
    from .weights.errors import WeightsError

    try:
        kind, _ = gdrive.target(source)
    except WeightsError as exc:
        raise _fail(spec, f"gdrive source of {filename!r}: {exc}") from None
    if kind == "folder" and not source.filename:
        raise _fail(spec, f"gdrive folder source of {filename!r} must name the file in it "
                          "(filename=)")


HEAVY_MODULES = ("torch", "torchvision", "pyiqa", "tensorflow", "gdown", "requests",
                 "huggingface_hub")
"""Libraries that registering a plugin must not import."""


def fresh_imports(code: str, modules: Sequence[str] = HEAVY_MODULES, *,
                  failure: str = "the code fails") -> tuple[list[str], str]:
    """Run ``code`` in a fresh interpreter: ``(which of modules it left imported, what it
    printed)``. If it fails, raise :class:`ConformanceError` with ``failure`` and its stderr."""
    probe = (f"{code}\nimport sys as _sys, json as _json\n"
             f"print(_json.dumps([n for n in {list(modules)!r} if n in _sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise ConformanceError(f"{failure}:\n{out.stderr[-2000:]}")
    *printed, imported = out.stdout.rstrip("\n").split("\n")
    return json.loads(imported), "\n".join(printed)


def check_registration_without_torch(module: str) -> None:
    """Importing the plugin module and calling its hooks imports no torch (fast CLI)."""
    code = (
        f"import {module} as m\n"
        "specs = []\n"
        "for hook in ('srarena_register_upscalers', 'srarena_register_metrics',"
        " 'srarena_register_datasets'):\n"
        "    if hasattr(m, hook):\n"
        "        getattr(m, hook)(register=specs.append)\n"
        "print(len(specs))\n"
    )
    heavy, count = fresh_imports(
        code, failure=f"plugin module {module!r} fails to import or register")
    if heavy:
        raise ConformanceError(
            f"plugin module {module!r} imports {', '.join(heavy)} when it registers; "
            "import heavy libraries inside the implementation (spec.factory) instead"
        )
    if not int(count.split()[-1]):
        raise ConformanceError(f"plugin module {module!r} registers nothing")


def _rng_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured test image (random images are unfair to SR networks)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(4 * (x + y))], -1)
    return np.clip(0.5 + 0.35 * base + 0.05 * rng.standard_normal((height, width, 3)),
                   0, 1).astype(np.float32)


def _make_upscaler(spec: UpscalerSpec, scale: int, ctx: Context) -> Upscaler:
    from .engine.instances import open_steps

    try:
        return open_steps(spec, (scale,), ctx)[scale]
    except Exception as exc:  # noqa: BLE001
        raise _fail(spec, f"cannot be created at x{scale}: {type(exc).__name__}: {exc}") from exc


def _run(upscaler: Upscaler, scale: int, image: np.ndarray, tile: int | None = None,
         overlap: int = 16) -> np.ndarray:
    """The engine's own path (padding, checks, tiling) for one native scale."""
    from .engine.chain import Chain
    from .engine.single import run_chain

    try:
        return run_chain({scale: upscaler}, Chain((scale,), scale), image, tile, overlap).image
    except Exception as exc:  # noqa: BLE001
        raise _fail(upscaler.spec, f"x{scale} on a {image.shape[1]}x{image.shape[0]} image: "
                                   f"{type(exc).__name__}: {exc}") from exc


def check_upscaler(spec: UpscalerSpec, ctx: Context | None = None, size: int = 16,
                   tile_tolerance: float = 1e-4) -> None:
    """Output shape, dtype and range at every native scale; determinism with a seed; the
    declared size requirements; and, when tiling is declared supported, tiled == whole."""
    if spec.mode != "single-image":
        raise _fail(spec, "check_upscaler is for single-image upscalers: use check_generative")
    ctx = ctx or context()
    for scale in spec.scales or (2,):
        image = _rng_image(size + 1, size + 3)  # odd sizes: padding must be handled
        upscaler = _make_upscaler(spec, scale, ctx)
        first = _run(upscaler, scale, image)
        expected = (image.shape[0] * scale, image.shape[1] * scale, 3)
        if first.shape != expected:
            raise _fail(spec, f"x{scale} gave shape {first.shape}, expected {expected}")
        raw = upscaler.upscale(_pad_for(spec, image))
        raw_image = np.asarray(getattr(raw, "image", raw))
        if raw_image.dtype != np.float32:
            raise _fail(spec, f"x{scale} returned dtype {raw_image.dtype}; return float32")
        if raw_image.min() < -1e-6 or raw_image.max() > 1 + 1e-6:
            raise _fail(spec, f"x{scale} returned values in [{raw_image.min():.4f}, "
                              f"{raw_image.max():.4f}]; return RGB in [0, 1]")
        upscaler.close()
        again = _make_upscaler(spec, scale, ctx)
        second = _run(again, scale, image)
        if not np.array_equal(first, second):
            raise _fail(spec, f"x{scale} is not deterministic for a fixed seed (max diff "
                              f"{np.abs(first - second).max():.3g})")
        if spec.tiling == "supported":
            large = _rng_image(3 * size, 3 * size, 1)
            tiled = _run(again, scale, large, size, overlap=size // 4)
            whole = _run(again, scale, large)
            diff = float(np.abs(tiled - whole).mean())
            if diff > tile_tolerance:
                raise _fail(spec, f"declares tiling='supported' but tiled output differs from "
                                  f"whole by {diff:.3g} on average (> {tile_tolerance}); "
                                  "declare 'discouraged' or 'unsupported'")
        again.close()


def _pad_for(spec: UpscalerSpec, image: np.ndarray) -> np.ndarray:
    from .engine.single import pad_to_requirements

    return pad_to_requirements(image, spec.size)


def check_generative(spec: UpscalerSpec, ctx: Context | None = None, size: int = 16,
                     images: Sequence[np.ndarray] | None = None) -> None:
    """Fit on a tiny dataset, reload the checkpoint, generate reproducibly at ``size``."""
    if spec.mode != "generative":
        raise _fail(spec, "check_generative is for generative upscalers")
    ctx = ctx or context()
    images = images or [_rng_image(size // 2, size // 2, seed) for seed in range(4)]
    from .engine.instances import open_generative

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "fitted"
        generator = open_generative(spec, ctx)
        generator.fit(images, size, checkpoint)
        generator.close()
        if not any(Path(tmp).iterdir()):
            raise _fail(spec, "fit() wrote nothing: save the fitted state at `checkpoint`")
        outputs = []
        for _ in range(2):
            generator = open_generative(spec, ctx)
            generator.load(checkpoint)
            result = generator.generate(1000, size)
            outputs.append(np.asarray(getattr(result, "image", result)))
            generator.close()
    for out in outputs:
        if out.shape != (size, size, 3) or out.dtype != np.float32:
            raise _fail(spec, f"generate() gave {out.shape} {out.dtype}, expected "
                              f"({size}, {size}, 3) float32")
        if out.min() < -1e-6 or out.max() > 1 + 1e-6:
            raise _fail(spec, "generate() returned values outside [0, 1]")
    if not np.array_equal(outputs[0], outputs[1]):
        raise _fail(spec, "generate() is not reproducible for a fixed seed after load()")


def check_metric(spec: MetricSpec, ctx: Context | None = None, size: int | None = None,
                 better: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None) -> None:
    """Batch equals one by one; inputs below ``min_size`` are refused clearly; and, given
    ``better`` (a function returning a (good, bad) image pair), the declared direction holds."""
    from .engine.instances import open_metric
    from .engine.scoring import score_batch

    ctx = ctx or context()
    metric: Metric = open_metric(spec, ctx)
    side = size or max(spec.min_size, 32)
    images = [_rng_image(side, side, seed) for seed in range(3)]
    refs = [_rng_image(side, side, seed + 10) for seed in range(3)]
    refs_or_none = refs if spec.kind == "full-reference" else None
    batch = metric.score(images, refs_or_none)
    single = [metric.score([i], [r] if refs_or_none else None)[0]
              for i, r in zip(images, refs, strict=True)]
    if len(batch) != len(images):
        raise _fail(spec, f"score() returned {len(batch)} values for {len(images)} images")
    if not np.allclose(batch, single, rtol=1e-5, atol=1e-6):
        raise _fail(spec, f"batch scores {batch} differ from one-by-one scores {single}")
    if spec.min_size > 1:
        tiny = _rng_image(spec.min_size - 1, spec.min_size - 1)
        (outcome,) = score_batch(metric, [tiny], [tiny])
        if outcome.status != "refused":
            raise _fail(spec, f"an image of {spec.min_size - 1}px was not refused "
                              f"(status {outcome.status}): raise InputRefused")
        direct_refusal = True
        try:
            metric.score([tiny], [tiny] if refs_or_none else None)
            direct_refusal = False
        except InputRefused:
            pass
        except Exception as exc:  # noqa: BLE001
            raise _fail(spec, f"an input below min_size raised {type(exc).__name__} instead "
                              "of srarena.components.InputRefused") from exc
        if not direct_refusal:
            raise _fail(spec, f"score() accepted an image below min_size={spec.min_size}; "
                              "raise InputRefused with the reason")
    if better is not None:
        good, bad = better()
        reference = [good] if spec.kind == "full-reference" else None
        good_score = metric.score([good], reference)[0]
        bad_score = metric.score([bad], reference)[0]
        if (good_score > bad_score) != spec.higher_is_better:
            raise _fail(spec, f"declares higher_is_better={spec.higher_is_better} but scored "
                              f"the better image {good_score:.4g} and the worse {bad_score:.4g}")
    metric.close()


def check_dataset(spec: DatasetSpec, argument: str | None = None) -> list[Item]:
    """Open the source as the engine does; its items come in a stable order with unique ids,
    every LR image is float32 in [0, 1] with 1-4 channels (grey, grey+alpha, RGB, RGBA) and
    every HR image RGB float32 in [0, 1]. Returns the items."""
    from .components import create

    items = list(create(spec, argument).items())
    again = [item.image_id for item in create(spec, argument).items()]
    ids = [item.image_id for item in items]
    if ids != again:
        raise _fail(spec, "items() is not in a stable order (two passes gave other ids)")
    if len(set(ids)) != len(ids):
        raise _fail(spec, "items() yields the same image_id twice")
    for item in items:
        for what, load in (("lr", item.lr), ("hr", item.hr)):
            if load is None:
                continue
            image = load()
            channels = (1, 2, 3, 4) if what == "lr" else (3,)
            if image.ndim != 3 or image.shape[2] not in channels or image.dtype != np.float32:
                wanted = "(H, W, 1-4)" if what == "lr" else "(H, W, 3)"
                raise _fail(spec, f"{item.image_id}: {what}() gave {image.shape} {image.dtype}, "
                                  f"expected {wanted} float32")
            if image.min() < 0 or image.max() > 1:
                raise _fail(spec, f"{item.image_id}: {what}() has values outside [0, 1]")
    return items


def check_weights_roundtrip(spec: UpscalerSpec | MetricSpec, files: dict[str, Path],
                            broken: dict[str, Path] | None = None) -> dict[str, Path]:
    """Install ``files`` through the weights service (``srarena weights add``) into the
    current ``SRARENA_HOME`` and resolve them back; a ``broken`` set must be refused.

    ``files`` must hold every declared file without a sha256 (those the validator checks).
    A file pinned by a declared sha256 (an upstream file a test cannot make) may be left
    out; the files given are then resolved as a part of the set.
    """
    from . import weights as service
    from .weights.validate import add

    if spec.weights is None:
        raise _fail(spec, "declares no weights")
    if broken:
        try:
            add(spec.weights, list(broken.values()))
        except service.WeightsError:
            pass
        else:
            raise _fail(spec, "the weights service accepted a wrong checkpoint: give the "
                              "WeightSet a validator that compares keys and shapes")
    try:
        installed = {status.filename for status in add(spec.weights, list(files.values()))}
    except service.WeightsError as exc:
        raise _fail(spec, f"`weights add` refused the good files: {exc}") from exc
    unchecked = [f.filename for f in spec.weights.files
                 if f.sha256 is None and f.filename not in installed]
    if unchecked or not installed:
        raise _fail(spec, f"give check_weights_roundtrip every declared file without a "
                          f"sha256 (missing: {', '.join(unchecked) or 'all'})")
    part = replace(spec.weights, files=tuple(f for f in spec.weights.files
                                             if f.filename in installed))
    try:
        resolved = service.resolve(part)
    except service.WeightsError as exc:
        raise _fail(spec, f"after `weights add`, the files do not resolve: {exc}") from exc
    return resolved


def with_options(spec: UpscalerSpec, **options: Any) -> UpscalerSpec:
    """A copy of ``spec`` with options changed (e.g. a tiny configuration for tests)."""
    return replace(spec, options={**spec.options, **options})
