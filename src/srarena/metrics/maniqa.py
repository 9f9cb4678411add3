"""MANIQA (Yang et al., CVPR-W 2022) on pyiqa's network, under two protocols.

``study``: each image, quantised to 8 bits as it is stored, is resized to 224×224 with
Pillow's bicubic filter and scored by one forward pass on the whole 224² image, as the
study did (``down_HR_MANIQA.py`` then IIGROUP's ``inference.py``, whose five-point crop of
224 on a 224 image is the whole image). pyiqa's crop helper would upsample a 224 input to
225 and take 20 crops of it; under this protocol it is bypassed.

``pyiqa``: pyiqa's own evaluation on the image as given: a fixed 5×5 grid of 224² crops
(the first 20), inputs of 224 or less per side bilinearly upsampled to 225 first.

The network is pyiqa's ``MANIQA`` with its ViT-B/8 backbone built without pretrained
weights (pyiqa asks timm for them unconditionally): every weight, the backbone's
included, comes from the checkpoint, which the weights service provides. Nothing here
reaches the network. Importing this module imports neither torch nor pyiqa.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..components import Context, Metric, batches_by_shape
from ..specs import MetricSpec, Source, WeightFile, WeightSet
from .pyiqa_metrics import patched, pyiqa_environment

if TYPE_CHECKING:
    import torch

STUDY_SIZE = 224
FP16_TOLERANCE = 1e-3
REQUIRES = ("torch", "pyiqa", "timm", "einops")
INSTALL_HINT = "pip install 'srarena[iqa]'"
HF_REPO = "chaofengc/IQA-PyTorch-Weights"
VALIDATOR = "srarena.metrics.maniqa:check_checkpoint"


def _hf(filename: str) -> Source:
    return Source("huggingface", repo=HF_REPO, filename=filename, revision="main")


@dataclass(frozen=True)
class Checkpoint:
    """One published MANIQA checkpoint and the network settings it was trained with."""

    key: str
    weights: WeightSet
    scale: float
    trained_on: str

    @property
    def filename(self) -> str:
        return self.weights.files[0].filename


def _iigroup_release(key: str, dataset: str, tag: str, filename: str) -> Checkpoint:
    """A checkpoint IIGROUP released on GitHub (March 2023), mirrored by pyiqa's hub."""
    return Checkpoint(
        key=key,
        weights=WeightSet(
            name=f"maniqa-{key}",
            files=(WeightFile(filename, sources=(
                _hf(filename),
                Source("https", url="https://github.com/IIGROUP/MANIQA/releases/download/"
                                    f"{tag}/{filename}"),
            )),),
            licence="Apache-2.0 (IIGROUP/MANIQA)",
            description=f"MANIQA trained on {dataset} (IIGROUP release, March 2023)",
            validator=VALIDATOR,
        ),
        scale=0.8,
        trained_on=dataset,
    )


CHECKPOINTS: dict[str, Checkpoint] = {
    "pipal": Checkpoint(
        key="pipal",
        weights=WeightSet(
            name="maniqa-pipal",
            files=(WeightFile("MANIQA_PIPAL-ae6d356b.pth", sources=(
                _hf("MANIQA_PIPAL-ae6d356b.pth"),
                Source("https", url="https://github.com/chaofengc/IQA-PyTorch/releases/"
                                    "download/v0.1-weights/MANIQA_PIPAL-ae6d356b.pth"),
            )),),
            licence="Apache-2.0 (IIGROUP/MANIQA)",
            description="MANIQA trained on PIPAL (the NTIRE 2022 NR-IQA winner, IIGROUP's "
                        "'ckpt_valid'), as a state dict converted by pyiqa",
            validator=VALIDATOR,
        ),
        scale=0.13,
        trained_on="PIPAL (NTIRE 2022 NR-IQA)",
    ),
    "koniq": _iigroup_release("koniq", "KonIQ-10k", "Koniq10k", "ckpt_koniq10k.pt"),
    "kadid": _iigroup_release("kadid", "KADID-10k", "Kadid10k", "ckpt_kadid10k.pt"),
}

PROTOCOLS = {
    "study": (
        "the image (8-bit) resized to 224x224 with Pillow BICUBIC, then one forward pass on "
        "the whole 224x224 image (no crops), as the study"
    ),
    "pyiqa": (
        "pyiqa's protocol: the image as given, a fixed grid of 20 crops of 224x224 "
        "(sides <= 224 bilinearly upsampled to 225 first), patch-weighted mean"
    ),
}


# pyiqa's MANIQA metric names and the checkpoint each uses (pyiqa's DEFAULT_CONFIGS).
PYIQA_NAMES = {"maniqa": "koniq", "maniqa-kadid": "kadid", "maniqa-pipal": "pipal"}


# --- the study's input -----------------------------------------------------------------------


def study_input(image: np.ndarray) -> np.ndarray:
    """The study's MANIQA input: the 8-bit image resized to 224×224 by Pillow BICUBIC (uint8)."""
    from PIL import Image

    from ..imageio import to_uint8

    pixels = Image.fromarray(to_uint8(image), "RGB")
    return np.asarray(pixels.resize((STUDY_SIZE, STUDY_SIZE), Image.Resampling.BICUBIC))


# --- building and loading the network ----------------------------------------------------

_WHOLE_IMAGE: ContextVar[bool] = ContextVar("srarena_maniqa_whole_image", default=False)
_BUILD_LOCK = threading.Lock()


def _install_crop_switch(arch: Any) -> None:
    """Make pyiqa's crop helper in ``maniqa_arch`` pass whole 224² images through on request.

    The replacement behaves exactly as pyiqa's own helper unless :data:`_WHOLE_IMAGE` is set
    in the calling context (only :meth:`Maniqa._run` sets it), so other users of pyiqa's
    MANIQA in the process are unaffected.
    """
    original = arch.uniform_crop
    if getattr(original, "srarena_switch", False):
        return

    def crop(input_list: Any, crop_size: int, crop_num: int) -> Any:
        if not _WHOLE_IMAGE.get():
            return original(input_list, crop_size, crop_num)
        if tuple(input_list.shape[-2:]) != (crop_size, crop_size):
            raise ValueError(f"whole-image MANIQA needs {crop_size}² inputs, "
                             f"got {tuple(input_list.shape[-2:])}")
        return input_list

    crop.srarena_switch = True  # type: ignore[attr-defined]
    arch.uniform_crop = crop


def build_network(checkpoint: str = "pipal", **overrides: Any) -> torch.nn.Module:
    """pyiqa's MANIQA with random weights, built without any download.

    ``overrides`` are MANIQA arguments (e.g. ``embed_dim``); those prefixed ``vit_`` go to
    the timm ViT backbone (tests build a narrow network with them).
    """
    import timm
    from pyiqa.archs import maniqa_arch

    _install_crop_switch(maniqa_arch)
    vit = {key[4:]: value for key, value in overrides.items() if key.startswith("vit_")}
    head = {key: value for key, value in overrides.items() if not key.startswith("vit_")}
    create = timm.create_model

    def backbone(name: str, pretrained: bool = False, **kwargs: Any) -> Any:
        return create(name, pretrained=False, **{**kwargs, **vit})

    with _BUILD_LOCK, pyiqa_environment("maniqa"), \
            patched(maniqa_arch.timm, "create_model", backbone):
        network = maniqa_arch.MANIQA(
            pretrained=False, pretrained_model_path=None, train_dataset=checkpoint,
            scale=CHECKPOINTS[checkpoint].scale, **head,
        )
    return network.eval()


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A MANIQA state dict from a file, loaded without running code.

    Accepts a plain state dict (IIGROUP's releases, pyiqa's conversion) or one wrapped in
    ``{"params": ...}``; a ``module.`` prefix (DataParallel) is removed.
    """
    from ..weights import WeightsInvalid, load_state

    state = load_state(path)
    if isinstance(state, Mapping) and isinstance(state.get("params"), Mapping):
        state = state["params"]
    if not isinstance(state, Mapping):
        raise WeightsInvalid(f"{path}: not a state dict (the file holds a {type(state).__name__})")
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_checkpoint(network: torch.nn.Module, path: str | Path) -> None:
    """Load a checkpoint into ``network`` strictly; a misfit raises with a readable diff."""
    from ..weights import WeightsInvalid, diff_shapes, shapes

    state = read_checkpoint(path)
    problems = diff_shapes(shapes(network.state_dict()), shapes(state))
    if problems:
        raise WeightsInvalid(f"{path} does not fit MANIQA:\n  - " + "\n  - ".join(problems))
    network.load_state_dict(state, strict=True)


_expected: dict[str, tuple[int, ...]] = {}


def check_checkpoint(filename: str, path: Path) -> list[str]:
    """Weight-set validator: the file's keys and shapes against MANIQA's (all checkpoints)."""
    from ..weights import WeightsError, diff_shapes, shapes

    absent = [module for module in REQUIRES if importlib.util.find_spec(module) is None]
    if absent:
        return [f"checking a MANIQA checkpoint needs {', '.join(absent)}: {INSTALL_HINT}"]
    if not _expected:
        _expected.update(shapes(build_network().state_dict()))
    try:
        state = read_checkpoint(path)
    except WeightsError as exc:
        return [str(exc)]
    return diff_shapes(_expected, shapes(state))


# --- the metric --------------------------------------------------------------------------


class Maniqa(Metric):
    """MANIQA scores (higher is better) under the ``study`` or ``pyiqa`` protocol.

    Options: ``checkpoint`` (pipal, koniq, kadid), ``protocol`` (study, pyiqa) and
    ``precision``: ``fp32``, or ``auto`` (the default) which on CUDA runs fp16 autocast and
    checks the first image of every batch in fp32, falling back to fp32 for good as soon as
    the two differ by more than 1e-3. ``network`` replaces the loaded network (tests,
    benchmarks).
    """

    def __init__(self, spec: MetricSpec, context: Context,
                 network: torch.nn.Module | None = None) -> None:
        super().__init__(spec, context)
        import torch

        options = context.options
        self.protocol = str(options.get("protocol", "study"))
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"{spec.name}: protocol {self.protocol!r} is not one of "
                             f"{', '.join(PROTOCOLS)}")
        key = str(options.get("checkpoint", "pipal"))
        if key not in CHECKPOINTS:
            raise ValueError(f"{spec.name}: checkpoint {key!r} is not one of "
                             f"{', '.join(CHECKPOINTS)}")
        precision = str(options.get("precision", "auto"))
        if precision not in ("auto", "fp32"):
            raise ValueError(f"{spec.name}: precision {precision!r} is not auto or fp32")
        self.device = torch.device(context.device)
        if network is None:
            network = self._load(CHECKPOINTS[key])
        self.net = network.to(self.device).eval()
        self.half = precision == "auto" and self.device.type == "cuda"
        self.half_max_diff = 0.0

    def _load(self, checkpoint: Checkpoint) -> torch.nn.Module:
        from .. import weights as weights_service

        paths = weights_service.paths_for(checkpoint.weights, self.context.weights)
        network = build_network(checkpoint.key)
        load_checkpoint(network, paths[checkpoint.filename])
        return network

    def score(self, images: Sequence[np.ndarray],
              references: Sequence[np.ndarray] | None = None) -> list[float]:
        inputs = ([study_input(image) for image in images] if self.protocol == "study"
                  else list(images))
        scores = np.zeros(len(images), dtype=np.float64)
        for batch in batches_by_shape(inputs, self.spec.batch_size):
            scores[batch] = self._forward(self._tensor(np.stack([inputs[i] for i in batch])))
        return [float(value) for value in scores]

    def _tensor(self, stack: np.ndarray) -> torch.Tensor:
        import torch

        pixels = torch.from_numpy(np.ascontiguousarray(stack)).to(self.device)
        pixels = pixels.float() / 255.0 if stack.dtype == np.uint8 else pixels.float().clamp(0, 1)
        return pixels.permute(0, 3, 1, 2).contiguous()

    def _run(self, batch: torch.Tensor, half: bool) -> np.ndarray:
        import torch

        collected = getattr(self.net, "save_output", None)
        if collected is not None:
            collected.clear()  # a forward that failed may have left block outputs behind
        token = _WHOLE_IMAGE.set(self.protocol == "study")
        try:
            with torch.inference_mode(), torch.autocast(
                    self.device.type, dtype=torch.float16, enabled=half):
                values = self.net(batch)
        finally:
            _WHOLE_IMAGE.reset(token)
        return values.float().reshape(-1).cpu().numpy()

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        if not self.half:
            return self._run(batch, half=False)
        fast = self._run(batch, half=True)
        exact = self._run(batch[:1], half=False)
        difference = float(abs(fast[0] - exact[0]))
        self.half_max_diff = max(self.half_max_diff, difference)
        if difference <= FP16_TOLERANCE:
            return fast
        self.half = False
        warnings.warn(f"{self.spec.name}: fp16 differs from fp32 by {difference:.2e} "
                      f"(> {FP16_TOLERANCE:g}); continuing in fp32", stacklevel=2)
        return self._run(batch, half=False)

    def close(self) -> None:
        import torch

        del self.net
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
