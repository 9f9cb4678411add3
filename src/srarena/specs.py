"""Static descriptions of components: what a plugin registers, readable without importing torch.

A spec carries everything the core needs to plan, list and check a component; its
``factory`` names the implementation (``"package.module:Class"``), imported only when the
component is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Literal

UpscalerMode = Literal["single-image", "generative"]
MetricKind = Literal["no-reference", "full-reference"]
Tiling = Literal["supported", "discouraged", "internal", "unsupported"]
Precision = Literal["fp32", "fp16", "bf16"]
SourceKind = Literal["https", "huggingface", "gdrive", "manual"]
SOURCE_KINDS = ("https", "huggingface", "gdrive", "manual")

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.:")


class SpecError(ValueError):
    """A spec is not valid; the message says which field and why."""


def load_factory(factory: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = factory.partition(":")
    if not module_name or not attr:
        raise SpecError(f"factory {factory!r} must look like 'package.module:Name'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _check_name(name: str) -> None:
    if not name or not set(name) <= NAME_CHARS or name[0] in "-_.:":
        raise SpecError(
            f"name {name!r}: use lower-case letters, digits and '-', '_', '.', ':' only"
        )


@dataclass(frozen=True)
class Source:
    """Where a weight file can be had.

    ``https``: ``url`` is downloaded directly. ``huggingface``: ``repo`` and ``filename`` on
    the Hugging Face Hub (``revision`` optional). ``gdrive``: a public Google Drive folder or
    file; ``url`` is its page (``https://drive.google.com/drive/folders/<id>`` or
    ``.../file/d/<id>``) and, for a folder, ``filename`` is the file's path inside it: a
    name found anywhere in the folder's tree, or a path ending (``x2/ISE.pt``) when one name
    occurs in several subfolders. ``manual``: a host that needs a browser (Baidu) or a file
    only the user has; ``url`` is the page, ``instructions`` says what to download and
    ``reason`` says in a few words why it cannot be fetched.
    """

    kind: SourceKind
    url: str = ""
    repo: str = ""
    filename: str = ""
    revision: str = "main"
    instructions: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise SpecError(f"source kind {self.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
        if self.kind == "gdrive" and not self.url.startswith("https://drive.google.com/"):
            raise SpecError(f"a gdrive source needs a https://drive.google.com/ URL, not "
                            f"{self.url!r}")

    @property
    def host(self) -> str:
        """The host the file comes from, for short listings."""
        if self.kind == "huggingface":
            return "huggingface.co"
        from urllib.parse import urlsplit

        return urlsplit(self.url).hostname or self.url

    def describe(self) -> str:
        if self.kind == "huggingface":
            return f"huggingface:{self.repo}/{self.filename}@{self.revision}"
        if self.kind == "gdrive":
            return self.url + (f" (file {self.filename})" if self.filename else "")
        if self.kind == "manual":
            return f"manual download from {self.url}" + (
                f" ({self.instructions})" if self.instructions else ""
            )
        return self.url


@dataclass(frozen=True)
class WeightFile:
    """One file of a weight set; ``sha256`` is None when the upstream publishes none.

    ``scales``: the native scales that need this file (e.g. a per-scale checkpoint); None
    means every run needs it. A run at 8x through x2 then x4 needs only those files.
    """

    filename: str
    sources: tuple[Source, ...]
    sha256: str | None = None
    size: int | None = None
    scales: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if "/" in self.filename or "\\" in self.filename or self.filename in ("", ".", ".."):
            raise SpecError(f"weight file name {self.filename!r} must be a plain file name")


@dataclass(frozen=True)
class WeightSet:
    """The files one component needs, under a name unique among all plugins.

    ``validator`` optionally names a callable (``"module:func"``) that checks a candidate
    file against the architecture: ``validator(filename, path) -> list[str]`` of problems.
    """

    name: str
    files: tuple[WeightFile, ...]
    licence: str = "unknown"
    description: str = ""
    validator: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not self.files:
            raise SpecError(f"weight set {self.name!r} lists no files")

    def for_scales(self, scales: tuple[int, ...] | None) -> WeightSet:
        """The files a run through these native scales needs (all of them for None)."""
        if scales is None:
            return self
        wanted = set(scales)
        files = tuple(f for f in self.files if f.scales is None or wanted & set(f.scales))
        return self if files == self.files else replace(self, files=files or self.files)


@dataclass(frozen=True)
class SizeRequirements:
    """Input sizes an upscaler accepts; the engine pads (reflect) to satisfy them."""

    minimum: int = 1
    multiple_of: int = 1
    square: bool = False


@dataclass(frozen=True)
class Resources:
    """What one running instance needs (used by distributed executors)."""

    gpus: float = 0.0
    memory_gb: float = 1.0
    needs_gpu: bool = False


@dataclass(frozen=True)
class UpscalerSpec:
    """An upscaler: single-image (LR in, SR out) or generative (fit on a dataset, generate).

    ``scales`` are the native scales; ``None`` means any integer scale in one pass. The
    engine chains native scales to reach the requested scale. ``input_range`` is the value
    range the network expects (the core always hands implementations RGB float32 in
    [0, 1] and the implementation converts). ``options`` holds the defaults users override
    with ``srarena bench -o NAME.KEY=VALUE``; ``extra_options`` names options accepted without
    a default; any other key is refused before the run, and so is a value of another type
    than the default's, one outside ``option_choices[KEY]`` where the spec lists choices,
    or any value for a key in ``fixed_options`` (options that say what the upscaler is, e.g.
    a classical upscaler's filter: keyed and shown, never set). ``generation_options`` names the
    options of a generative upscaler that change generation only, so changing them reuses
    the fit. ``batch_size`` > 1 lets the engine hand up to that many same-shaped images to
    :meth:`~srarena.components.Upscaler.upscale_batch` at once (results must equal
    one-by-one calls). ``published_results`` names a JSON table packaged with the plugin,
    ``"package:file.json"``, of the values the technique's paper reports (benchmark, scale,
    metric, value and where each was read; ``docs/plugins.md``); ``srarena replicate``
    compares a run with it.
    """

    name: str
    factory: str
    mode: UpscalerMode = "single-image"
    scales: tuple[int, ...] | None = None
    description: str = ""
    input_range: tuple[float, float] = (0.0, 1.0)
    channels: int = 3
    size: SizeRequirements = field(default_factory=SizeRequirements)
    fp16: bool = False
    bf16: bool = False
    tiling: Tiling = "supported"
    weights: WeightSet | None = None
    licence: str = "unknown"
    url: str = ""
    resources: Resources = field(default_factory=Resources)
    options: dict[str, Any] = field(default_factory=dict)
    side_outputs: tuple[str, ...] = ()
    generation_options: tuple[str, ...] = ()
    extra_options: tuple[str, ...] = ()
    option_choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    fixed_options: tuple[str, ...] = ()
    batch_size: int = 1
    published_results: str = ""
    version: str = "0"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise SpecError(f"upscaler {self.name!r}: batch_size must be an integer >= 1")
        if self.mode not in ("single-image", "generative"):
            raise SpecError(f"upscaler {self.name!r}: mode {self.mode!r} is not a mode")
        if self.scales is not None and (
            not self.scales or any(not isinstance(s, int) or s < 2 for s in self.scales)
        ):
            raise SpecError(f"upscaler {self.name!r}: scales must be integers >= 2")
        if ":" not in self.factory:
            raise SpecError(f"upscaler {self.name!r}: factory must be 'module:Name'")
        if self.tiling not in ("supported", "discouraged", "internal", "unsupported"):
            raise SpecError(f"upscaler {self.name!r}: tiling {self.tiling!r} is not valid")

    @property
    def precisions(self) -> tuple[Precision, ...]:
        return ("fp32",) + (("fp16",) if self.fp16 else ()) + (("bf16",) if self.bf16 else ())

    @property
    def option_names(self) -> list[str]:
        """Every option key a user may set, sorted."""
        return sorted({*self.options, *self.extra_options} - set(self.fixed_options))

    def option_problem(self, key: str, value: Any) -> str | None:
        """Why a user's option value cannot apply (None when it can)."""
        if key in self.fixed_options:
            return f"{key} is what {self.name} is and cannot be set"
        if key not in self.option_names:
            return f"unknown option {key}; {self.name} accepts: " + (
                ", ".join(self.option_names) or "none")
        choices = self.option_choices.get(key)
        if choices is not None:
            if value not in choices:
                listed = ", ".join(repr(c) for c in choices)
                return f"{key}={value!r} is not one of {listed}"
            return None
        default = self.options.get(key)
        if default is None or value is None:
            return None
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        fits = (isinstance(value, bool) if isinstance(default, bool)
                else numeric and isinstance(value, int) if isinstance(default, int)
                else numeric if isinstance(default, float)
                else isinstance(value, type(default)))
        if not fits:
            return (f"{key}={value!r} is not a {type(default).__name__} (the default is "
                    f"{default!r})")
        return None

    def load(self) -> Any:
        return load_factory(self.factory)


@dataclass(frozen=True)
class MetricSpec:
    """A quality metric. ``min_size`` is the smallest side (pixels) it accepts.

    ``protocol`` says in words how images are prepared before scoring (e.g. the study's
    resize to 224² for MANIQA). ``requires`` lists import names the metric needs beyond the
    core (e.g. ``("torch", "pyiqa")``); a missing one makes the metric unavailable with the
    extra to install in ``install_hint``. ``downloads_on_first_use``: its library fetches the
    files it needs itself, the first time it is built (pyiqa's metrics); srarena notes when
    that has succeeded here, and offline such a metric runs only once it has.
    """

    name: str
    factory: str
    kind: MetricKind = "no-reference"
    higher_is_better: bool = True
    min_size: int = 1
    protocol: str = ""
    description: str = ""
    weights: WeightSet | None = None
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    batch_size: int = 8
    licence: str = "unknown"
    options: dict[str, Any] = field(default_factory=dict)
    version: str = "0"
    downloads_on_first_use: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.kind not in ("no-reference", "full-reference"):
            raise SpecError(f"metric {self.name!r}: kind {self.kind!r} is not valid")
        if ":" not in self.factory:
            raise SpecError(f"metric {self.name!r}: factory must be 'module:Name'")

    @property
    def direction(self) -> str:
        return "higher" if self.higher_is_better else "lower"

    def load(self) -> Any:
        return load_factory(self.factory)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset source. ``factory`` builds it from an optional argument (``NAME:ARG``).

    ``takes_argument``: users write ``NAME:ARG``; with ``argument_optional`` too, ``NAME``
    alone is also accepted and the factory receives ``None`` (e.g. ``study`` reads the fetched
    cache, ``study:ROOT`` a folder).
    """

    name: str
    factory: str
    description: str = ""
    takes_argument: bool = False
    argument_optional: bool = False
    has_hr: bool = False
    licence: str = "unknown"
    version: str = "0"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if ":" not in self.factory:
            raise SpecError(f"dataset {self.name!r}: factory must be 'module:Name'")

    def load(self) -> Any:
        return load_factory(self.factory)


@dataclass(frozen=True)
class ImporterSpec:
    """Turns a model file a user owns into components: ``srarena weights add NAME FILE``.

    ``factory`` names ``func(path: Path, name: str | None) -> str``: it installs the file
    (through the weights cache) so that the plugin registers a component for it from then
    on, and returns a line saying what was added. Raise ``ValueError`` (or a weights error)
    with a clear message for a file it cannot take.
    """

    name: str
    factory: str
    description: str = ""
    version: str = "0"

    def __post_init__(self) -> None:
        _check_name(self.name)
        if ":" not in self.factory:
            raise SpecError(f"importer {self.name!r}: factory must be 'module:func'")

    def load(self) -> Any:
        return load_factory(self.factory)
