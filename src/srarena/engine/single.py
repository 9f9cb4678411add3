"""Running a single-image upscaler's chain on one LR image.

:func:`run_chain` (and :func:`run_chain_batch`) run the chain on an RGB image.
:func:`run_image` (and :func:`run_image_batch`) take an image of 1-4 channels
(:func:`~srarena.imageio.load_channels`) and give one of the same channels: the colour goes
through the chain as RGB (a grey image replicated, its output brought back to one channel
by :func:`~srarena.imageio.luma`), an alpha channel is upscaled by the chain itself or by a
filter, as the upscaler declares (:attr:`~srarena.components.Upscaler.alpha`), and the output
is rounded as it declares (:attr:`~srarena.components.Upscaler.rounding`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..components import Upscaler, UpscaleResult
from ..imageio import FILTERS, from_uint8, luma, resize, to_uint8_float32
from ..specs import SizeRequirements
from .chain import Chain
from .tiling import upscale_with_backoff


class OutputError(RuntimeError):
    """An upscaler returned something that is not a valid SR image."""


RANGE_TOLERANCE = 1e-5
"""How far outside [0, 1] an output may stray (float rounding) before it is a defect."""


@dataclass
class ChainResult:
    image: np.ndarray
    side_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    tiles: list[int | None] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What was wrong but mended (values outside [0, 1], clipped), one line per step."""


def pad_to_requirements(image: np.ndarray, size: SizeRequirements) -> np.ndarray:
    """Reflect-pad (bottom/right) so the image meets an upscaler's size requirements."""
    height, width = image.shape[:2]
    target_h, target_w = max(height, size.minimum), max(width, size.minimum)
    if size.square:
        target_h = target_w = max(target_h, target_w)
    multiple = size.multiple_of
    target_h, target_w = -(-target_h // multiple) * multiple, -(-target_w // multiple) * multiple
    if (target_h, target_w) == (height, width):
        return image
    mode = "reflect" if min(height, width) > 1 and target_h < 2 * height and target_w < 2 * width \
        else "edge"
    return np.pad(image, ((0, target_h - height), (0, target_w - width), (0, 0)), mode=mode)


def check_output(result: Any, expected: tuple[int, int], name: str,
                 ) -> tuple[UpscaleResult, str | None]:
    """The result as a valid SR image, and a warning when values outside [0, 1] had to be
    clipped (the contract asks upscalers for [0, 1]: a defect its author needs to see)."""
    if not isinstance(result, UpscaleResult):
        result = UpscaleResult(np.asarray(result))
    image = np.asarray(result.image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise OutputError(f"{name} returned an array of shape {image.shape}, expected (H, W, 3)")
    if image.shape[:2] != expected:
        raise OutputError(f"{name} returned {image.shape[1]}x{image.shape[0]}, "
                          f"expected {expected[1]}x{expected[0]}")
    if not np.isfinite(image).all():
        raise OutputError(f"{name} returned NaN or infinite values")
    low, high = float(image.min()), float(image.max())
    warning = None
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        outside = float(np.mean((image < 0) | (image > 1)))
        warning = (f"{name} returned values in [{low:.4g}, {high:.4g}], outside [0, 1] "
                   f"({outside:.2%} of values): clipped")
    result.image = np.clip(image, 0.0, 1.0)
    return result, warning


def _step_function(
    upscaler: Upscaler, step: int, sink: dict[str, UpscaleResult]
) -> Any:
    """Upscale one array (whole image or tile) and keep the full result in ``sink``."""

    def one(patch: np.ndarray) -> np.ndarray:
        expected = (patch.shape[0] * step, patch.shape[1] * step)
        result, warning = check_output(upscaler.upscale(patch), expected, upscaler.spec.name)
        sink["result"] = result
        if warning is not None:
            sink["warning"] = warning
        return result.image

    return one


def run_chain_batch(instances: dict[int, Upscaler], chain: Chain,
                    images: list[np.ndarray]) -> list[ChainResult]:
    """:func:`run_chain` on same-shaped images at once, untiled, each step through
    ``upscale_batch``: the same results as one image at a time."""
    current = list(images)
    outs = [ChainResult(image) for image in images]
    for index, step in enumerate(chain.steps):
        upscaler = instances[step]
        height, width = current[0].shape[:2]
        padded = [pad_to_requirements(image, upscaler.spec.size) for image in current]
        expected = (padded[0].shape[0] * step, padded[0].shape[1] * step)
        results = upscaler.upscale_batch(padded)
        if len(results) != len(padded):
            raise OutputError(f"{upscaler.spec.name} returned {len(results)} results for "
                              f"{len(padded)} images")
        prefix = f"step{index + 1}_x{step}"
        for i, raw in enumerate(results):
            result, warning = check_output(raw, expected, upscaler.spec.name)
            if warning is not None:
                outs[i].warnings.append(f"step {index + 1} (x{step}): {warning}")
            current[i] = result.image[: height * step, : width * step]
            outs[i].tiles.append(None)
            for name, array in result.side_outputs.items():
                outs[i].side_outputs[f"{prefix}_{name}"] = np.asarray(array)
            if result.info:
                outs[i].info[prefix] = result.info
    for image, out, sr in zip(images, outs, current, strict=True):
        out.image = _to_target(sr, image, chain)
    return outs


def _to_target(sr: np.ndarray, image: np.ndarray, chain: Chain) -> np.ndarray:
    """The chain's output brought to the requested scale (bicubic) when it overshoots."""
    if not chain.needs_resize:
        return sr
    height, width = image.shape[:2]
    return np.clip(resize(sr, width * chain.target, height * chain.target, "bicubic"), 0.0, 1.0)


def run_chain(
    instances: dict[int, Upscaler],
    chain: Chain,
    image: np.ndarray,
    tile: int | None,
    overlap: int = 16,
) -> ChainResult:
    """Pass ``image`` through each step of ``chain``; resize to the target if needed."""
    current = image
    out = ChainResult(image)
    for index, step in enumerate(chain.steps):
        upscaler = instances[step]
        spec = upscaler.spec
        height, width = current.shape[:2]
        padded = pad_to_requirements(current, spec.size)
        last: dict[str, Any] = {}
        one = _step_function(upscaler, step, last)
        step_tile = tile if spec.tiling in ("supported", "discouraged") else None
        sr, used = upscale_with_backoff(one, padded, step, step_tile, overlap=overlap)
        out.tiles.append(used)
        if "warning" in last:
            out.warnings.append(f"step {index + 1} (x{step}): {last['warning']}")
        current = sr[: height * step, : width * step]
        prefix = f"step{index + 1}_x{step}"
        result = last.get("result")  # with tiles: the last tile's side outputs
        if result is not None:
            for name, array in result.side_outputs.items():
                out.side_outputs[f"{prefix}_{name}"] = np.asarray(array)
            if result.info:
                out.info[prefix] = result.info
    out.image = _to_target(current, image, chain)
    return out


GREY = "bt601-luma"
"""How a grey input's output is brought back to one channel (recorded as ``info["grey"]``)."""


def _declared(instances: dict[int, Upscaler], chain: Chain, name: str) -> list[str]:
    return [str(getattr(instances[step], name)) for step in dict.fromkeys(chain.steps)]


def alpha_method(instances: dict[int, Upscaler], chain: Chain) -> str:
    """How the chain's alpha channel is upscaled: ``model`` when every step's upscaler says
    so, else the first filter a step names."""
    declared = _declared(instances, chain, "alpha")
    method = next((how for how in declared if how != "model"), "model")
    if method != "model" and method not in FILTERS:
        raise OutputError(f"{instances[chain.steps[0]].spec.name} upscales alpha with "
                          f"{method!r}, which is neither 'model' nor one of {sorted(FILTERS)}")
    return method


def rounding_of(instances: dict[int, Upscaler], chain: Chain) -> str:
    """``float32`` when every step's upscaler asks for it, else ``float64``."""
    return "float32" if set(_declared(instances, chain, "rounding")) == {"float32"} else \
        "float64"


RunRgb = Callable[[list[np.ndarray]], list[ChainResult]]


def run_image(instances: dict[int, Upscaler], chain: Chain, image: np.ndarray,
              tile: int | None, overlap: int = 16) -> ChainResult:
    """:func:`run_chain` on an image of 1-4 channels; the output has the same channels."""
    def run(rgbs: list[np.ndarray]) -> list[ChainResult]:
        return [run_chain(instances, chain, rgb, tile, overlap) for rgb in rgbs]

    return _with_channels(instances, chain, [image], run)[0]


def run_image_batch(instances: dict[int, Upscaler], chain: Chain,
                    images: list[np.ndarray]) -> list[ChainResult]:
    """:func:`run_chain_batch` on same-shaped images of 1-4 channels."""
    return _with_channels(instances, chain, images,
                          lambda rgbs: run_chain_batch(instances, chain, rgbs))


def _with_channels(instances: dict[int, Upscaler], chain: Chain,
                   images: Sequence[np.ndarray], run: RunRgb) -> list[ChainResult]:
    """Split same-shaped images into colour (RGB) and alpha, run the chain on the colour,
    bring a grey output back to one channel, upscale and join the alpha, round."""
    images = [image[..., None] if image.ndim == 2 else image for image in images]
    channels = images[0].shape[-1]
    if channels == 3:
        outs = run(list(images))
    else:
        grey = channels in (1, 2)
        colours = [np.repeat(im[..., :1], 3, axis=-1) if grey
                   else np.ascontiguousarray(im[..., :3]) for im in images]
        outs = run(colours)
        if grey:
            for out in outs:
                out.image, out.info["grey"] = luma(out.image), GREY
        if channels in (2, 4):
            _join_alpha(instances, chain, [im[..., -1:] for im in images], outs, run)
    if rounding_of(instances, chain) == "float32":
        for out in outs:
            out.image = from_uint8(to_uint8_float32(out.image))
    return outs


def _join_alpha(instances: dict[int, Upscaler], chain: Chain, alphas: list[np.ndarray],
                outs: list[ChainResult], run: RunRgb) -> None:
    method = alpha_method(instances, chain)
    height, width = outs[0].image.shape[:2]
    if method == "model":
        planes = [luma(out.image) for out in run([np.repeat(a, 3, axis=-1) for a in alphas])]
    else:
        planes = [np.clip(resize(a, width, height, method), 0.0, 1.0) for a in alphas]
    for out, plane in zip(outs, planes, strict=True):
        out.image = np.concatenate([out.image, plane.astype(np.float32)], axis=-1)
        out.info["alpha"] = method if method == "model" else f"filter:{method}"
