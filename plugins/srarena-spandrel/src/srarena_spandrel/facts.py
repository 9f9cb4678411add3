"""What srarena knows about a spandrel model file, and the spec made from it (no torch here).

A model's *facts* are what spandrel's descriptor says about it, recorded once (when a file is
added, or written into the zoo table), as a JSON-ready dict::

    {"architecture": "ESRGAN", "architecture_name": "ESRGAN", "tags": ["64nf", "23nb"],
     "purpose": "SR", "scale": 4, "input_channels": 3, "output_channels": 3,
     "supports_half": true, "supports_bfloat16": true,
     "size_requirements": {"minimum": 2, "multiple_of": 1, "square": false},
     "tiling": "supported", "spandrel": "0.4.2"}

An added file's facts also hold ``filename``, ``sha256``, ``size``, ``source`` and ``added``,
and ``precision`` (the fp16/bf16 agreement check made when it was added). An upscaler is made
from the facts of one file per native scale: :func:`model_spec`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from srarena import Resources, Source, UpscalerSpec, WeightFile, WeightSet

from . import protocols

GENERIC = "spandrel"
"""The generic upscaler (``-u spandrel --weights FILE``), the importer (``srarena weights add
spandrel FILE``) and the weight set whose cache folder holds the manifest of added models."""
GENERIC_FILE = "model"
PREFIX = "spandrel:"
SET_PREFIX = "spandrel-"
SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
FACTORY = "srarena_spandrel.upscaler:SpandrelUpscaler"
VALIDATOR = "srarena_spandrel.loading:validate"
URL = "https://github.com/chaiNNer-org/spandrel"
CODE_LICENCE = "srarena-spandrel and spandrel: MIT"
USER_WEIGHTS_LICENCE = ("the model file's own licence: a file you added, srarena knows "
                        "nothing of its terms; see where it came from")
TILING_ORDER = ("supported", "discouraged", "internal")
PRECISION_RULE = "max |fp - fp32| <= 1 grey level (8-bit) on the probe image"
PROTOCOL_DEFAULT = {"protocol": "official"}
"""Every spandrel upscaler's option (``-o NAME.protocol=official|spandrel``): a default in the
spec, so that the protocol enters every output's key (:mod:`.protocols`)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_FILE = re.compile(r"^(?P<arch>[A-Za-z0-9_.+]+?)-x(?P<scale>[0-9]+)(?P<suffix>\.[a-z]+)$")


def upscaler_name(model: str) -> str:
    return PREFIX + model


def set_name(model: str) -> str:
    return SET_PREFIX + model


def check_model_name(name: str) -> str:
    """A model name as given after ``--name``; raises ValueError when it cannot be one."""
    if not _NAME.match(name):
        raise ValueError(
            f"model name {name!r}: use lower-case letters, digits, '-', '_' and '.', starting "
            "with a letter or digit (it becomes the upscaler spandrel:NAME)")
    return name


def file_name(architecture: str, scale: int, suffix: str) -> str:
    """The name an added file is kept under in its set folder: ``ESRGAN-x4.pth``."""
    arch = re.sub(r"[^A-Za-z0-9_.+]+", "_", architecture) or "model"
    return f"{arch}-x{scale}{suffix.lower()}"


def parse_filename(filename: str) -> tuple[str, int] | None:
    """(architecture, scale) from a name made by :func:`file_name`, None for another name."""
    found = _FILE.match(filename)
    if not found or found["suffix"] not in SUFFIXES:
        return None
    return found["arch"], int(found["scale"])


def combined_tiling(files: Sequence[Mapping[str, Any]]) -> str:
    """The most cautious tiling flag of the files (supported < discouraged < internal)."""
    flags = [f.get("tiling", "discouraged") for f in files]
    return max(flags, key=lambda flag: TILING_ORDER.index(flag) if flag in TILING_ORDER else 1)


def precision_ok(facts: Mapping[str, Any], precision: str) -> bool:
    """Whether a file may run in fp16/bf16: spandrel says the architecture supports it and
    the check made when it was added found it within one grey level of fp32."""
    supported = facts["supports_half" if precision == "fp16" else "supports_bfloat16"]
    check = (facts.get("precision") or {}).get(precision) or {}
    return bool(supported and check.get("ok"))


def summary(facts: Mapping[str, Any]) -> str:
    """E.g. ``ESRGAN x4 (64nf, 23nb)``."""
    tags = ", ".join(facts.get("tags") or ())
    return f"{facts['architecture']} x{facts['scale']}" + (f" ({tags})" if tags else "")


def chain_note(scales: Sequence[int]) -> str:
    if len(scales) == 1:
        return (f"native scale x{scales[0]}: the engine chains it for other scales and "
                "resizes an overshoot, recorded with each output (e.g. x4_x4_resize8)")
    return ("native scales " + ", ".join(f"x{s}" for s in scales)
            + ": the engine chains them (8x is x2 then x4 when both are there)")


def protocol_note(model: str, files: Sequence[Mapping[str, Any]]) -> str:
    """Which protocol runs the model by default (README: "Faithful use")."""
    names = protocols.default_labels(upscaler_name(model), files)
    return (f"runs as {', '.join(names)} by default; -o "
            f"{upscaler_name(model)}.protocol=spandrel for spandrel's own call")


def model_spec(
    model: str,
    files: Sequence[Mapping[str, Any]],
    sources: Mapping[str, tuple[Source, ...]],
    *,
    description: str,
    weights_licence: str,
    url: str = URL,
    fp16: bool | None = None,
    bf16: bool | None = None,
) -> UpscalerSpec:
    """The upscaler ``spandrel:<model>`` of one file per native scale.

    ``sources`` maps each file name to where it comes from; a file's ``sha256`` (None: trust
    on first use) pins it. fp16/bf16 default to :func:`precision_ok` of every file.
    """
    files = sorted(files, key=lambda facts: int(facts["scale"]))
    scales = tuple(int(facts["scale"]) for facts in files)
    if len(set(scales)) != len(scales):
        raise ValueError(f"spandrel:{model}: two files for one scale")
    weights = WeightSet(
        name=set_name(model),
        files=tuple(
            WeightFile(facts["filename"], sources=sources[facts["filename"]],
                       sha256=facts.get("sha256"), size=facts.get("size"),
                       scales=(int(facts["scale"]),))
            for facts in files),
        licence=weights_licence,
        description="; ".join(summary(facts) for facts in files),
        validator=VALIDATOR,
    )
    return UpscalerSpec(
        name=upscaler_name(model),
        factory=FACTORY,
        scales=scales,
        description=f"{description} [{'; '.join(summary(f) for f in files)}; "
                    f"{chain_note(scales)}; {protocol_note(model, files)}]",
        fp16=all(precision_ok(f, "fp16") for f in files) if fp16 is None else fp16,
        bf16=all(precision_ok(f, "bf16") for f in files) if bf16 is None else bf16,
        tiling=combined_tiling(files),  # type: ignore[arg-type]
        weights=weights,
        licence=f"code: {CODE_LICENCE}; weights: {weights_licence}",
        url=url,
        resources=Resources(memory_gb=4.0),
        options=dict(PROTOCOL_DEFAULT),
        option_choices={"protocol": protocols.CHOICES},
    )


def generic_spec() -> UpscalerSpec:
    """``spandrel``: any SR file given with ``--weights FILE``, for one run, fp32."""
    return UpscalerSpec(
        name=GENERIC,
        factory=FACTORY,
        scales=None,
        description=(
            "Any super-resolution model file spandrel loads, for one run: `-u spandrel "
            "--weights FILE` (fp32; the file's own scale, chained inside by the engine's rule "
            "when another scale is asked for). Add a file by name with `srarena weights add "
            "spandrel FILE --name NAME` to run it as spandrel:NAME with its recorded facts."),
        tiling="discouraged",
        weights=WeightSet(
            name=GENERIC,
            files=(WeightFile(GENERIC_FILE, sources=(Source(
                kind="manual", url="https://openmodeldb.info",
                instructions="any .pth/.safetensors SR model spandrel loads: pass it with "
                             "--weights FILE, or add it by name with `srarena weights add "
                             "spandrel FILE --name NAME`",
                reason="any model file you choose"),)),),
            licence="the given file's own licence",
            description="a model file given on the command line",
            validator=VALIDATOR,
        ),
        licence=f"code: {CODE_LICENCE}; weights: the given file's own licence",
        url=URL,
        resources=Resources(memory_gb=4.0),
        options=dict(PROTOCOL_DEFAULT),
        option_choices={"protocol": protocols.CHOICES},
    )
