"""How each model's authors run it: the official inference protocols (no torch at import).

A model runs, by default, as its official inference script runs it (``-o
spandrel:NAME.protocol=official``): the script's padding (mode and multiple), its tiling, its
crop back, its clamp to [0, 1], its 8-bit rounding, and its treatment of alpha and grey. The
other choice, ``protocol=spandrel``, is spandrel's own call (``descriptor(tensor)``: its
reflect/replicate padding to the descriptor's size requirements, no tiling) with srarena's
rounding, as direct spandrel inference gives it. A zoo model takes the protocol of the script
its authors publish with it; an added model the protocol of its architecture's authors
(:data:`BY_ARCHITECTURE`); an architecture with none recorded runs spandrel's call under both
settings, and its output says so. The README's table gives each rule with the file and line
it comes from.

Every official script reads 8-bit images as ``value / 255`` in float32 and runs the network
in fp32 unless said otherwise; srarena runs every upscaler at the run's ``--precision``
(fp32 by default), so :attr:`Protocol.precision` is written down (with the script and the
lines each protocol comes from, as in the README), not applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from srarena import InputRefused

CHOICES = ("official", "spandrel")
OPTION = "protocol"


@dataclass(frozen=True)
class Pad:
    """Padding of the LR input before the network, cut off the output after it."""

    mode: Literal["reflect", "mirror"]
    """``reflect``: ``F.pad(x, (0, w, 0, h), 'reflect')`` at the bottom and right (the edge
    row is not repeated); ``mirror``: the image followed by its flipped copy
    (``torch.cat([x, x.flip(d)], d)``), cut to the target (the edge row is repeated)."""
    multiple: int = 0
    """Pad each side to a multiple of this; 0: of the network's ``window_size``."""
    scales: tuple[int, ...] | None = None
    """Only models of these scales are padded (None: every model)."""
    always: bool = False
    """Add a whole ``multiple`` even to a side that is one already (``main_test_swinir.py``)."""


@dataclass(frozen=True)
class Protocol:
    """One official inference script's rules (the README's table)."""

    name: str
    script: str
    source: str
    pad: Pad | None
    tile: tuple[int, int] | None
    """(tile size, tile pad) in LR pixels of the padded image, tiled as
    ``RealESRGANer.tile_process`` / ``HATModel.tile_process`` do; None: the whole image."""
    alpha: Literal["model", "dropped"]
    """``model``: the alpha channel is upscaled by the network (three copies, luma back);
    ``dropped``: the script reads colour only (``cv2.IMREAD_COLOR``) and writes RGB."""
    grey: Literal["one channel", "three channels"]
    """What the script writes for a grey input: the luma of the RGB output, or the RGB."""
    precision: str
    """The script's default precision (written down: srarena runs at ``--precision``)."""

    @property
    def label(self) -> str:
        """The protocol as an output's info names it."""
        return f"official:{self.name}"

    @property
    def alpha_method(self) -> str:
        """:attr:`srarena.components.Upscaler.alpha` for this protocol: the model where the
        script upscales alpha with it, else srarena's default filter (the script drops it)."""
        return "model" if self.alpha == "model" else "bilinear"


REAL_ESRGAN = Protocol(
    name="real-esrgan",
    script="xinntao/Real-ESRGAN inference_realesrgan.py (RealESRGANer.enhance)",
    source="xinntao/Real-ESRGAN@a4abfb2 inference_realesrgan.py L32-46, L107-116, L137-147; "
           "realesrgan/utils.py L88-111, L182-191, L194-254",
    pad=Pad("reflect", multiple=2, scales=(2,)), tile=None, alpha="model",
    grey="one channel", precision="fp16 (the script's default; --fp32 for fp32)")
BSRGAN = Protocol(
    name="bsrgan",
    script="cszn/BSRGAN main_test_bsrgan.py",
    source="cszn/BSRGAN@5ce1a9c main_test_bsrgan.py L69-77, L104-116; utils/utils_image.py "
           "L186-198, L276-279, L290-294",
    pad=None, tile=None, alpha="dropped", grey="three channels", precision="fp32")
SWINIR = Protocol(
    name="swinir",
    script="JingyunLiang/SwinIR main_test_swinir.py (--task real_sr)",
    source="JingyunLiang/SwinIR@6545850 main_test_swinir.py L29, L63-81, L145-157, L189-190, "
           "L241",
    pad=Pad("mirror", always=True), tile=None, alpha="dropped", grey="three channels",
    precision="fp32")
HAT_REAL = Protocol(
    name="hat-real",
    script="XPixelGroup/HAT hat/test.py -opt options/test/HAT_GAN_Real_SRx4.yml",
    source="XPixelGroup/HAT@1638a9a options/test/HAT_GAN_Real_SRx4.yml L7-9, L25, L43; "
           "hat/models/hat_model.py L16-26, L40-112, L136-144; XPixelGroup/BasicSR@8d56e3a "
           "basicsr/data/single_image_dataset.py L54-61, basicsr/utils/img_util.py L66-90",
    pad=Pad("reflect"), tile=(512, 32), alpha="dropped", grey="three channels",
    precision="fp32")
HAT = Protocol(
    name="hat",
    script="XPixelGroup/HAT hat/test.py -opt options/test/HAT_SRx4.yml (and the other "
           "classical-SR options: no tile)",
    source="XPixelGroup/HAT@1638a9a options/test/HAT_SRx4.yml; hat/models/hat_model.py "
           "L16-37, L110-112, L136-144",
    pad=Pad("reflect"), tile=None, alpha="dropped", grey="three channels", precision="fp32")
DAT = Protocol(
    name="dat",
    script="zhengchen1999/DAT basicsr/test.py -opt options/Test/test_single_x4.yml",
    source="zhengchen1999/DAT@1645c64 options/Test/test_single_x4.yml L40 (use_chop: False); "
           "basicsr/models/dat_model.py L11-22; basicsr/data/single_image_dataset.py L55-62; "
           "basicsr/utils/img_util.py L66-89",
    pad=None, tile=None, alpha="dropped", grey="three channels", precision="fp32")

BY_ZOO = {
    "realesrgan-x4plus": REAL_ESRGAN, "realesrgan-x2plus": REAL_ESRGAN,
    "realesr-general-x4v3": REAL_ESRGAN, "bsrgan-x4": BSRGAN, "bsrgan-x2": BSRGAN,
    "swinir-m-x4-real": SWINIR, "swinir-l-x4-real": SWINIR, "hat-real-x4": HAT_REAL,
    "hat-real-x4-sharper": HAT_REAL, "dat-x4": DAT,
}
"""A zoo model's protocol: the script its authors publish it with."""

BY_ARCHITECTURE = {"ESRGAN": REAL_ESRGAN, "Compact": REAL_ESRGAN, "SwinIR": SWINIR,
                   "HAT": HAT, "DAT": DAT}
"""An added model's protocol, by spandrel's architecture id. Real-ESRGAN's RealESRGANer is
the official runner of both RRDBNet layouts it publishes (ESRGAN's and the x2 pixel-unshuffle
one) and of SRVGGNetCompact; a BSRGAN file added by name runs as Real-ESRGAN runs an RRDBNet
(the same but for alpha, grey and the padding of x2 models): the zoo's bsrgan-x2/-x4 run as
main_test_bsrgan.py does."""


def choice(options: dict[str, Any], name: str) -> str:
    """The ``protocol`` option, checked."""
    chosen = str(options.get(OPTION, "official"))
    if chosen not in CHOICES:
        raise ValueError(f"{name}: protocol {chosen!r} is not one of {', '.join(CHOICES)} "
                         f"(-o {name}.protocol=official|spandrel)")
    return chosen


def official(upscaler: str, architecture: str) -> Protocol | None:
    """The official protocol of a model: its zoo entry's, else its architecture's."""
    zoo_name = upscaler.removeprefix("spandrel:")
    return BY_ZOO.get(zoo_name) or BY_ARCHITECTURE.get(architecture)


def default_label(upscaler: str, architecture: str) -> str:
    """What a model runs by default, as its output's info names it."""
    found = official(upscaler, architecture)
    return found.label if found else \
        f"spandrel (no official protocol recorded for {architecture})"


def default_labels(upscaler: str, files: Any) -> list[str]:
    """:func:`default_label` of each of a model's files (their facts), each once."""
    return list(dict.fromkeys(default_label(upscaler, f["architecture"]) for f in files))


# --- applying a protocol (torch, imported by the caller) -------------------------------------


def run(protocol: Protocol, network: Any, tensor: Any, scale: int) -> Any:
    """``network`` (spandrel's module, called directly: its descriptor's padding is left
    out) on an NCHW tensor as the protocol's script runs it: padded, whole or tiled, cropped
    back (the clamp to [0, 1] follows, in :func:`.convert.from_tensor`)."""
    height, width = tensor.shape[-2:]
    if protocol.pad is not None and (protocol.pad.scales is None or scale in protocol.pad.scales):
        multiple = protocol.pad.multiple or _window(network)
        pad = _mirror if protocol.pad.mode == "mirror" else _reflect
        tensor = pad(tensor, multiple, protocol)
    if protocol.tile is None:
        out = network(tensor)
    else:
        out = _tiled(network, tensor, scale, *protocol.tile)
    return out[..., : height * scale, : width * scale]


def _window(network: Any) -> int:
    size = getattr(network, "window_size", None)
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"{type(network).__name__} has no window size to pad to")
    return size


def _too_small(protocol: Protocol, tensor: Any, why: str) -> InputRefused:
    height, width = tensor.shape[-2:]
    return InputRefused(f"{width}x{height} is too small for {protocol.label} ({why}; the "
                        "official script fails on it too): use -o NAME.protocol=spandrel")


def _reflect(tensor: Any, multiple: int, protocol: Protocol) -> Any:
    """Reflect-pad the bottom and right to a multiple (``F.pad(..., 'reflect')``)."""
    from torch.nn import functional

    height, width = tensor.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h >= height or pad_w >= width:
        raise _too_small(protocol, tensor, f"reflect padding to a multiple of {multiple}")
    if pad_h or pad_w:
        tensor = functional.pad(tensor, (0, pad_w, 0, pad_h), "reflect")
    return tensor


def _mirror(tensor: Any, multiple: int, protocol: Protocol) -> Any:
    """Each side followed by its flipped copy, cut to the next multiple above it (a whole
    ``multiple`` more when it is one already); the network pads what the copy cannot reach
    with its own reflect padding, as it does in the official script."""
    import torch

    always = protocol.pad.always  # run() pads only with a protocol that has a Pad
    for dim in (2, 3):
        size = tensor.shape[dim]
        target = (size // multiple + 1) * multiple if always else \
            math.ceil(size / multiple) * multiple
        tensor = torch.cat([tensor, tensor.flip(dim)], dim).narrow(dim, 0, min(target, 2 * size))
        short = target - tensor.shape[dim]
        if short >= tensor.shape[dim]:
            raise _too_small(protocol, tensor, "mirrored padding to a multiple of "
                                               f"{multiple}, then the network's reflect padding")
    return tensor


def _tiled(network: Any, image: Any, scale: int, size: int, pad: int) -> Any:
    """Tiles of ``size`` from the top left, each run with ``pad`` more pixels on every side
    that the image has, its own part of the output kept (the official tile_process)."""
    height, width = image.shape[-2:]
    out = None
    for top in range(0, height, size):
        for left in range(0, width, size):
            bottom, right = min(top + size, height), min(left + size, width)
            y0, x0 = max(top - pad, 0), max(left - pad, 0)
            y1, x1 = min(bottom + pad, height), min(right + pad, width)
            result = network(image[..., y0:y1, x0:x1])
            if out is None:
                out = result.new_zeros((*result.shape[:2], height * scale, width * scale))
            out[..., top * scale:bottom * scale, left * scale:right * scale] = result[
                ..., (top - y0) * scale:(bottom - y0) * scale,
                (left - x0) * scale:(right - x0) * scale]
    return out
