"""Reading a model file safely and describing it with spandrel (imports torch: use on demand).

spandrel's own file loader is not used: for ``.pth``/``.ckpt`` it unpickles with its own
restricted unpickler (not torch's ``weights_only`` loader) and for ``.pt`` it first tries
``torch.jit.load``, which runs a TorchScript archive's code. Here every file goes through
:func:`srarena.kit.load_state` instead (safetensors, recognised by content, or
``torch.load(weights_only=True)``): a pickle that names anything but tensors and plain
containers is refused before any of it runs (:class:`srarena.kit.UnsafePickle`), and a
TorchScript archive is refused as unreadable. The state dict then goes to spandrel's
:func:`canonicalize_state_dict` and :class:`ModelLoader` ``.load_from_state_dict``, which
detect the architecture and its hyperparameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srarena.kit import UnsafePickle, WeightsInvalid, load_state

from . import zoo
from .facts import GENERIC_FILE, SUFFIXES, file_name, parse_filename

_registry: Any = None


def registry() -> Any:
    """spandrel's architectures, with spandrel-extra-arches' when it is installed (a copy:
    spandrel's global registry is left as it is)."""
    global _registry
    if _registry is None:
        from spandrel import MAIN_REGISTRY

        chosen = MAIN_REGISTRY.copy()
        try:
            from spandrel_extra_arches import EXTRA_REGISTRY
        except ImportError:
            pass
        else:
            chosen.add(*EXTRA_REGISTRY, ignore_duplicates=True)
        _registry = chosen
    return _registry


def read_state(path: Path) -> dict[str, Any]:
    """The canonical state dict of a model file, read without executing anything from it."""
    from spandrel import canonicalize_state_dict

    path = Path(path)
    try:
        state = load_state(path)
    except UnsafePickle as exc:
        raise UnsafePickle(
            f"{exc}. The file was refused before anything in it ran; if it comes from a "
            "source you trust, convert it to .safetensors"
        ) from exc
    except WeightsInvalid as exc:
        if "TorchScript" in str(exc):
            raise WeightsInvalid(
                f"{path}: a TorchScript archive holds code, which srarena does not run; "
                "export the model's state dict (.pth or .safetensors) instead"
            ) from exc
        raise
    if not isinstance(state, Mapping):
        raise WeightsInvalid(f"{path}: not a state dict (the file holds a {type(state).__name__})")
    return canonicalize_state_dict(dict(state))


def load_descriptor(path: Path, device: str = "cpu", state: dict[str, Any] | None = None) -> Any:
    """spandrel's model descriptor of a file (on ``device``, float32, eval mode)."""
    import spandrel

    path = Path(path)
    state = read_state(path) if state is None else state
    try:
        descriptor = spandrel.ModelLoader(device="cpu", registry=registry()).load_from_state_dict(
            dict(state))
    except spandrel.UnsupportedModelError:
        raise WeightsInvalid(
            f"{path}: spandrel {spandrel.__version__} does not recognise this model's "
            "architecture (architectures with restrictive licences need "
            "`pip install 'srarena-spandrel[extra]'`)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - spandrel raises many types for a foreign file
        raise WeightsInvalid(f"{path}: {cannot_load(state, exc)}") from exc
    return descriptor.to(device).eval()


def detected(state: Mapping[str, Any]) -> str | None:
    """The architecture spandrel detects in a state dict (what it then tries to build)."""
    for support in registry().architectures("detection"):
        if support.detect(state):
            return str(support.architecture.id)
    return None


_RRDB_CONV1 = ("model.1.sub.0.RDB1.conv1.0.weight", "body.0.rdb1.conv1.weight",
               "RRDB_trunk.0.RDB1.conv1.weight")


def _rrdb_growth(state: Mapping[str, Any]) -> str | None:
    """spandrel builds every RRDBNet with 32 growth channels (``num_grow_ch``/``gc``)."""
    conv1 = next((state[key] for key in _RRDB_CONV1 if key in state), None)
    growth = int(conv1.shape[0]) if conv1 is not None and conv1.ndim == 4 else 32
    if growth == 32:
        return None
    return (f"it is an RRDBNet (ESRGAN) with {growth} growth channels (num_grow_ch / gc, the "
            "outputs of each dense block's first convolution); spandrel builds every RRDBNet "
            "with 32, so it cannot run this model")


LIMITS = {"ESRGAN": _rrdb_growth}
"""Known hyperparameters spandrel assumes instead of reading them, per architecture: each
names the limit a file breaks, or None."""

_MISMATCH = re.compile(r"size mismatch for ([^:\s]+): copying a param with shape "
                       r"torch\.Size\(\[([^\]]*)\]\) from checkpoint, the shape in current "
                       r"model is torch\.Size\(\[([^\]]*)\]\)")


def cannot_load(state: Mapping[str, Any], exc: Exception) -> str:
    """Why spandrel could not build a model for a state dict, in one sentence: the limit the
    file breaks when it is a known one, else the layers whose shapes differ from the network
    spandrel built (:func:`srarena.kit.diff_shapes`), else spandrel's own message."""
    import spandrel

    from srarena.kit import diff_shapes

    arch = detected(state)
    limit = LIMITS.get(arch or "", lambda _: None)(state)
    head = f"spandrel {spandrel.__version__} reads it as {arch} but cannot build it: "
    if limit:
        return head + limit
    found = _MISMATCH.findall(str(exc))
    if found:
        def shape(text: str) -> tuple[int, ...]:
            return tuple(int(n) for n in text.split(",") if n.strip())

        problems = diff_shapes({key: shape(model) for key, _, model in found},
                               {key: shape(file) for key, file, _ in found}, limit=3)
        return (head + "; ".join(problems) + " (a variant with a hyperparameter spandrel "
                "does not read from the file)")
    return f"spandrel cannot load it ({type(exc).__name__}: {exc})"


_TILING = {"SUPPORTED": "supported", "DISCOURAGED": "discouraged", "INTERNAL": "internal"}


def describe(descriptor: Any) -> dict[str, Any]:
    """The facts srarena records about a model (JSON-ready; see :mod:`.facts`)."""
    import spandrel

    masked = isinstance(descriptor, spandrel.MaskedImageModelDescriptor)
    size = descriptor.size_requirements
    return {
        "architecture": str(descriptor.architecture.id),
        "architecture_name": str(descriptor.architecture.name),
        "tags": [str(tag) for tag in descriptor.tags],
        "purpose": "Inpainting" if masked else str(descriptor.purpose),
        "scale": int(descriptor.scale),
        "input_channels": int(descriptor.input_channels),
        "output_channels": int(descriptor.output_channels),
        "supports_half": bool(descriptor.supports_half),
        "supports_bfloat16": bool(descriptor.supports_bfloat16),
        "size_requirements": {"minimum": int(size.minimum), "multiple_of": int(size.multiple_of),
                              "square": bool(size.square)},
        "tiling": _TILING.get(descriptor.tiling.name, "discouraged"),
        "spandrel": spandrel.__version__,
    }


PURPOSE_TEXT = {
    "Restoration": "a restoration model (denoising, deblurring, JPEG, colourisation: same size "
                   "out as in)",
    "FaceSR": "a face restoration model (it works on aligned faces, not on whole images)",
    "Inpainting": "an inpainting model (it fills a masked region)",
}


def refusal(facts: Mapping[str, Any]) -> str | None:
    """Why a described model is not an upscaler srarena can run, or None when it is."""
    purpose = facts["purpose"]
    if purpose != "SR":
        what = PURPOSE_TEXT.get(purpose, f"a model of purpose {purpose!r}")
        return (f"it is {what}, not a super-resolution model (spandrel reads it as "
                f"{facts['architecture']}, purpose {purpose}); srarena-spandrel runs SR models "
                "only")
    if facts["scale"] < 2:
        return (f"it is a x{facts['scale']} model ({facts['architecture']}): it does not "
                "upscale, so it is not a super-resolution model")
    if facts["input_channels"] not in (1, 3, 4) or facts["output_channels"] not in (1, 3, 4):
        return (f"it takes {facts['input_channels']} and gives {facts['output_channels']} "
                "channels; srarena feeds RGB (or grey, or RGBA) images")
    return None


def require_sr(facts: Mapping[str, Any], path: Path) -> None:
    """Raise a clear :class:`WeightsInvalid` for a model that is not an SR upscaler."""
    why = refusal(facts)
    if why:
        raise WeightsInvalid(f"{path}: refused: {why}")


def check_suffix(path: Path) -> None:
    if Path(path).suffix.lower() not in SUFFIXES:
        raise ValueError(
            f"{path}: expected a {', '.join(SUFFIXES)} file (a PyTorch state dict or "
            f"safetensors), not {Path(path).suffix or 'a file without a suffix'}")


CHECK_VARIABLE = "SRARENA_SPANDREL_CHECK_PRECISION"
"""Set to 0 to skip the fp16/bf16 check when adding a model (they are then not declared)."""

_described: dict[tuple[str, int, int], dict[str, Any]] = {}


def describe_file(path: Path) -> dict[str, Any]:
    """:func:`describe` of a file, loaded once per file version per process."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _described:
        _described[key] = describe(load_descriptor(path))
    return dict(_described[key])


def validate(filename: str, path: Path) -> list[str]:
    """The weight sets' validator: the file loads safely with spandrel, is an SR model, and
    is the architecture and scale its declared name stands for (a zoo file's, or the
    ``<architecture>-x<scale>`` name under which an added file is kept)."""
    try:
        facts = describe_file(path)
    except (WeightsInvalid, UnsafePickle) as exc:
        return [str(exc)]
    why = refusal(facts)
    if why:
        return [f"refused: {why}"]
    if filename == GENERIC_FILE:
        return []
    expected = zoo.expected(filename)
    if expected is not None:
        if (facts["architecture"], facts["scale"]) != expected:
            return [f"expected a {expected[0]} x{expected[1]} model for {filename}, the file "
                    f"is {facts['architecture']} x{facts['scale']}"]
        return []
    if parse_filename(filename) is not None:  # an added file's <architecture>-x<scale> name
        own = file_name(facts["architecture"], facts["scale"], Path(filename).suffix)
        if own != filename:
            return [f"expected the model {filename} names, the file is "
                    f"{facts['architecture']} x{facts['scale']}"]
    return []


def default_name(path: Path) -> str:
    """A model name made from a file name: lower case, other characters become '-'."""
    stem = re.sub(r"[^a-z0-9_.-]+", "-", Path(path).stem.lower()).strip("-_.")
    return stem or "model"


def remember(path: Path, facts: dict[str, Any]) -> None:
    """Record the facts of a file just described, so that the validator does not load it
    again in this process."""
    path = Path(path)
    stat = path.stat()
    _described[(str(path.resolve()), stat.st_size, stat.st_mtime_ns)] = dict(facts)


def probe_image(size: int = 48) -> Any:
    """A fixed smooth, textured RGB image in [0, 1] (the precision check's input)."""
    import numpy as np

    rng = np.random.default_rng(1234)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(7 * x + 3 * y), np.cos(5 * y - 4 * x), np.sin(6 * (x + y) + 1)], -1)
    edges = (((x * 6).astype(int) + (y * 6).astype(int)) % 2)[..., None] * 0.2
    image = 0.45 + 0.3 * base + edges - 0.1 + 0.04 * rng.standard_normal((size, size, 3))
    return np.clip(image, 0, 1).astype(np.float32)


def _run_once(descriptor: Any, image: Any, dtype: Any, device: str) -> Any:
    import torch

    from srarena.kit import to_uint8

    from .convert import from_tensor, to_tensor

    channels = (descriptor.input_channels, descriptor.output_channels)
    with torch.inference_mode():
        out = descriptor(to_tensor(image[None], channels[0], device, dtype))
    return to_uint8(from_tensor(out, channels[1])[0])


def check_precisions(path: Path, state: dict[str, Any], facts: dict[str, Any],
                     device: str | None = None) -> dict[str, Any]:
    """Whether fp16 and bf16 agree with fp32 within one grey level (8-bit, every pixel) on
    :func:`probe_image`, on ``device`` (CUDA when there is one, else the CPU). A precision
    spandrel says the architecture does not support is not tried."""
    import os

    import numpy as np
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if os.environ.get(CHECK_VARIABLE, "1").strip().lower() in ("0", "no", "false", "off"):
        reason = f"not checked ({CHECK_VARIABLE}=0): fp32 only"
        return {p: {"ok": False, "device": device, "reason": reason} for p in ("fp16", "bf16")}
    image = probe_image()
    reference = _run_once(load_descriptor(path, device, state), image, torch.float32, device)
    found: dict[str, Any] = {}
    for precision, dtype, flag in (("fp16", torch.float16, "supports_half"),
                                   ("bf16", torch.bfloat16, "supports_bfloat16")):
        result: dict[str, Any] = {"device": device, "rule": "max |diff| <= 1 grey level"}
        if not facts[flag]:
            found[precision] = {**result, "ok": False,
                                "reason": "spandrel: the architecture does not support it"}
            continue
        try:
            descriptor = load_descriptor(path, device, state).to(dtype)
            got = _run_once(descriptor, image, dtype, device)
        except Exception as exc:  # noqa: BLE001 - e.g. an op without a half kernel on the CPU
            found[precision] = {**result, "ok": False,
                                "reason": f"fails on {device}: {type(exc).__name__}: {exc}"}
            continue
        diff = np.abs(got.astype(np.int16) - reference.astype(np.int16))
        found[precision] = {**result, "ok": bool(diff.max() <= 1), "max_diff": int(diff.max()),
                            "mean_diff": round(float(diff.mean()), 4)}
    return found
