"""Opening components from their specs, for every caller alike: the bench runner, ``srarena
score``, ``srarena upscale`` and the conformance kit."""

from __future__ import annotations

from collections.abc import Iterable

from .. import weights as weights_service
from ..availability import record_first_use
from ..components import Context, GenerativeUpscaler, Metric, Upscaler, create
from ..specs import MetricSpec, UpscalerSpec


def metric_context(spec: MetricSpec, device: str, scale: int | None = None) -> Context:
    """The context a metric runs in: its device, its options (and the run's scale), and its
    weight files resolved from the cache (raises ``WeightsMissing`` saying how to install)."""
    options = {**({"scale": scale} if scale is not None else {}), **spec.options}
    paths = weights_service.resolve(spec.weights) if spec.weights is not None else {}
    return Context(device=device, options=options, weights=paths)


def open_metric(spec: MetricSpec, context: Context) -> Metric:
    """A metric instance (its factory must subclass :class:`~srarena.components.Metric`);
    one whose library fetched its own files is noted as ready here from now on."""
    metric = create(spec, context)
    if spec.downloads_on_first_use:
        record_first_use(spec)
    return metric


def open_steps(spec: UpscalerSpec, steps: Iterable[int], context: Context) -> dict[int, Upscaler]:
    """One instance per native scale of a chain (``Chain.steps``), sharing ``context``; if one
    fails to start, those already made are closed and the error is raised."""
    if spec.mode != "single-image":
        raise ValueError(f"{spec.name} is generative: it has no single-image steps")
    instances: dict[int, Upscaler] = {}
    try:
        for step in steps:
            if step not in instances:
                instances[step] = create(spec, step, context)
    except BaseException:
        close_all(instances.values())
        raise
    return instances


def open_generative(spec: UpscalerSpec, context: Context) -> GenerativeUpscaler:
    """A generative upscaler instance (its factory must subclass ``GenerativeUpscaler``)."""
    return create(spec, context)


def close_all(instances: Iterable[Upscaler | GenerativeUpscaler | Metric]) -> None:
    """Release what each instance holds (GPU memory)."""
    for instance in instances:
        instance.close()
