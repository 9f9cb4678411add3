"""The interfaces that component implementations follow.

Images cross these interfaces as NumPy arrays: RGB, ``float32``, shape ``(H, W, 3)``, values
in [0, 1]. Implementations convert to whatever their network expects (channel order,
range) and back. Nothing here imports torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .specs import DatasetSpec, MetricSpec, UpscalerSpec

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: an implementation's report of an inner loop."""


def no_progress(done: int, total: int, what: str) -> None:
    """The default :data:`Progress`: report nothing."""
    return None


class FactoryError(TypeError):
    """A spec's ``factory`` is not a subclass of the interface its kind or mode requires."""


def interface_of(spec: Any) -> type:
    """The interface a spec's factory must subclass: by kind, and for upscalers by mode."""
    from .specs import DatasetSpec, MetricSpec, UpscalerSpec

    if isinstance(spec, UpscalerSpec):
        return GenerativeUpscaler if spec.mode == "generative" else Upscaler
    if isinstance(spec, MetricSpec):
        return Metric
    if isinstance(spec, DatasetSpec):
        return Dataset
    raise TypeError(f"{type(spec).__name__} is not a component spec")


def create(spec: Any, *args: Any) -> Any:
    """The one place a component is built: ``spec.factory(spec, *args)``, after checking that
    the factory subclasses the interface the spec's kind (and mode) requires."""
    factory, base = spec.load(), interface_of(spec)
    if not (isinstance(factory, type) and issubclass(factory, base)):
        what = factory.__name__ if isinstance(factory, type) else type(factory).__name__
        mode = f" of mode {spec.mode!r}" if getattr(spec, "mode", None) else ""
        raise FactoryError(
            f"{spec.name}: factory {spec.factory!r} is {what}, not a subclass of "
            f"srarena.{base.__name__}, as a {type(spec).__name__}{mode} requires"
        )
    return factory(spec, *args)


class InputRefused(ValueError):
    """A component cannot process this input (too small, wrong kind); the message says why."""


@dataclass
class Context:
    """What the engine hands every implementation when it is created."""

    device: str = "cpu"
    precision: str = "fp32"
    seed: int = 0
    weights: dict[str, Path] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    workdir: Path | None = None
    progress: Progress = no_progress


@dataclass
class UpscaleResult:
    """An SR image and optional side outputs (e.g. ``{"kernel": 2-D array}``) and facts."""

    image: np.ndarray
    side_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class _UsesWeights:
    """What every upscaler offers its implementation: its weight files, found and verified."""

    spec: UpscalerSpec
    context: Context

    def weight_paths(
        self, scales: tuple[int, ...] | None = None, optional: Sequence[str] = ()
    ) -> dict[str, Path]:
        """The weight files for ``scales`` (all when None): ``context.weights``, the rest
        from the cache, checksum-verified; raises ``WeightsMissing`` saying how to install
        (``optional`` files that are nowhere are left out instead)."""
        from .weights import paths_for

        return paths_for(self.spec.weights, self.context.weights, scales, optional)


class Upscaler(_UsesWeights, ABC):
    """A single-image upscaler at one of its native scales.

    It always receives RGB; the engine keeps an input's alpha and greyness around it
    (``engine/single.py``). Two attributes, which an implementation may set per instance
    (e.g. from an option), say how:
    """

    alpha: str = "bilinear"
    """How the engine upscales an input's alpha channel: ``"model"`` (this upscaler runs on
    the alpha replicated to RGB and the BT.601 luma of its output is the new alpha, as
    Real-ESRGAN's inference does) or a filter of :data:`srarena.imageio.FILTERS`."""

    rounding: str = "float64"
    """How the output is rounded to 8 bits: ``"float64"`` (``round(x * 255)`` at full
    precision) or ``"float32"`` (the product in float32, as ``(x * 255.0).round()`` on a
    float32 NumPy array in most official inference scripts; they differ in about 1e-5 of
    the pixels)."""

    def __init__(self, spec: UpscalerSpec, scale: int, context: Context) -> None:
        self.spec = spec
        self.scale = scale
        self.context = context

    @abstractmethod
    def upscale(self, image: np.ndarray) -> UpscaleResult:
        """Return the image ``scale`` times larger in both sides."""

    def upscale_batch(self, images: Sequence[np.ndarray]) -> list[UpscaleResult]:
        """Upscale same-shaped images at once; the engine calls it with up to the spec's
        ``batch_size`` images. Override it with a stacked implementation whose results equal
        one-by-one :meth:`upscale` calls; the default makes those calls."""
        return [self.upscale(image) for image in images]

    def close(self) -> None:
        """Release memory (GPU) held by the implementation."""


class GenerativeUpscaler(_UsesWeights, ABC):
    """A few-shot generator: fitted on a whole dataset, then generates images at a size."""

    def __init__(self, spec: UpscalerSpec, context: Context) -> None:
        self.spec = spec
        self.context = context

    @abstractmethod
    def fit(self, images: Sequence[np.ndarray], size: int, checkpoint: Path) -> None:
        """Train on ``images`` brought to ``size``² and save the fitted state at ``checkpoint``.

        When ``checkpoint`` exists from an interrupted fit, resume from it.
        """

    @abstractmethod
    def load(self, checkpoint: Path) -> None:
        """Load a fitted state written by :meth:`fit`."""

    @abstractmethod
    def generate(self, seed: int, size: int) -> UpscaleResult:
        """Generate one image of ``size``² from ``seed``."""

    def close(self) -> None:
        """Release memory (GPU) held by the implementation."""


class Metric(ABC):
    """A quality metric over batches of images."""

    def __init__(self, spec: MetricSpec, context: Context) -> None:
        self.spec = spec
        self.context = context

    @abstractmethod
    def score(
        self, images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None
    ) -> list[float]:
        """One score per image; raise :class:`InputRefused` for an input it cannot score."""

    def close(self) -> None:
        """Release memory held by the implementation."""


def batches_by_shape(
    images: Sequence[np.ndarray],
    size: int | None = None,
    key: Callable[[np.ndarray], Any] = lambda image: image.shape,
) -> list[list[int]]:
    """Indices of ``images`` with the same ``key`` (their shape), group by group in order of
    first appearance, each group cut into batches of at most ``size``: what one stacked
    array can hold."""
    groups: dict[Any, list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault(key(image), []).append(index)
    return [indices[start : start + (size or len(indices))]
            for indices in groups.values()
            for start in range(0, len(indices), size or len(indices))]


@dataclass(frozen=True)
class Item:
    """One LR image of a dataset, with its HR ground truth when there is one.

    ``image_id`` is stable across runs (the relative path without extension).
    """

    image_id: str
    dataset: str
    domain: str
    lr: Callable[[], np.ndarray]
    hr: Callable[[], np.ndarray] | None = None
    source: str = ""


class Dataset(ABC):
    """A source of LR images, possibly spanning several named datasets and domains."""

    def __init__(self, spec: DatasetSpec, argument: str | None = None) -> None:
        self.spec = spec
        self.argument = argument

    @abstractmethod
    def items(self) -> Iterator[Item]:
        """Yield the images in a stable order."""

    def describe(self) -> dict[str, Any]:
        """Facts recorded in the run's configuration (e.g. the degradation used)."""
        return {"source": self.spec.name, "argument": self.argument}
