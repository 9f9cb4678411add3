"""Blur kernels and the blur-then-decimate degradation ``LR = (HR * k)↓s``.

Conventions (``docs/datasets.md`` has the full account):

- A kernel is a (K, K) array of non-negative weights summing to 1, **applied by
  correlation** (not flipped), in HR pixels. Its side K has the parity of the scale, so its
  centre falls on the point the LR pixel samples: LR pixel ``i`` is centred on HR
  coordinate ``i * s + (s - 1) / 2``, the centre of its ``s x s`` block (KernelGAN's and
  the BlindSR dataset generator's alignment: bicubic upsampling of the LR lines up with
  the HR).
- Gaussian kernels are sampled at pixel centres from ``exp(-x^T S^-1 x / 2)`` with
  ``S = R(theta) diag(sigma_1^2, sigma_2^2) R(theta)^T``; ``theta`` is the angle of the
  ``sigma_1`` axis from the image x axis (columns, rightwards) towards the y axis (rows,
  downwards). The support reaches at least 3 sigma unless a size is given.
- Borders are handled by symmetric reflection (``d c b a | a b c d``), as
  ``scipy.ndimage.correlate``'s default ``reflect`` mode.

The DIV2KRK protocol (Bell-Kligler, Shocher, Irani, "Blind Super-Resolution Kernel
Estimation using an Internal-GAN", NeurIPS 2019, section 5), as srarena implements it:
one random x2 kernel per image, an anisotropic Gaussian with "lengths"
``sigma_1, sigma_2 ~ U(0.6, 5)`` (read as standard deviations, as DAN's reimplementation of
this "setting 2" does) and angle ``theta ~ U(-pi, pi)``, on DIV2KRK's 11 x 11
support (here 12 x 12, the even grid centred on the x2 sample point, see above), times
uniform multiplicative noise ``1 + U(-0.25, 0.25)`` per weight, then normalised to sum to
1. For x4 the paper uses the analytic x4 kernel of the x2 kernel (the degradation applied
twice); srarena extends this to any power of two: the x(2^n) kernel is
``k * k↑2 * k↑4 * ... * k↑2^(n-1)`` (``k↑d``: k dilated by d), exactly the x2
degradation applied n times (12 x 12 at x2, 34 x 34 at x4, 78 x 78 at x8).

The Gaussian-8 protocol of IKC (Gu et al., CVPR 2019) and DAN (Luo et al., NeurIPS 2020),
as their official code makes it (``docs/datasets.md`` cites the files and lines): the HR
is mod-cropped at its top-left to a multiple of the scale, blurred with a 21 x 21 isotropic
Gaussian (``exp(-(x^2 + y^2) / (2 sigma^2))`` on integer offsets -10..10, normalised) with
mirror borders (``d c b | a b c d``), downscaled by MATLAB's antialiased bicubic ``imresize``
and rounded to 8 bits; every HR image is degraded with each of 8 widths
``linspace(1.8, 3.2, 8)`` at x4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..imageio import from_uint8, to_uint8

DIV2KRK_SIGMA = (0.6, 5.0)
DIV2KRK_NOISE = 0.25
DIV2KRK_BASE_SIZE = 12
GAUSSIAN8_SIZE = 21
GAUSSIAN8_WIDTHS = {4: (1.8, 3.2)}
"""The Gaussian-8 width range per scale as the official code states it (x4 only)."""
GAUSSIAN8_PROTOCOL = (
    "Gaussian-8 (IKC, DAN setting 1): HR mod-cropped at its top-left to a multiple of the "
    "scale; each image blurred with each of 8 isotropic 21x21 Gaussians of widths "
    "linspace(sigma_min, sigma_max, 8) with mirror borders; MATLAB antialiased bicubic "
    "imresize by 1/scale; rounded to 8 bits (DAN codes/scripts/generate_mod_blur_LR_bic.py, "
    "codes/utils/deg_utils.py SRMDPreprocessing, codes/data/util.py imresize)"
)


@dataclass(frozen=True)
class Kernel:
    """A blur kernel for one scale, with the parameters that made it."""

    weights: np.ndarray
    scale: int
    kind: str
    params: dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.weights.shape[0])


def _check_scale(scale: int) -> None:
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be a positive integer, not {scale!r}")


def kernel_size(scale: int, sigma: float) -> int:
    """The smallest side with the parity of ``scale`` whose half-width reaches 3 sigma."""
    _check_scale(scale)
    half = max(1, math.ceil(3.0 * sigma))
    return 2 * half + 1 if scale % 2 else 2 * half + 2


def gaussian(
    scale: int,
    sigma_1: float,
    sigma_2: float | None = None,
    theta: float = 0.0,
    size: int | None = None,
) -> np.ndarray:
    """A normalised Gaussian kernel (isotropic when ``sigma_2`` is None) for ``scale``."""
    sigma_2 = sigma_1 if sigma_2 is None else sigma_2
    if sigma_1 <= 0 or sigma_2 <= 0:
        raise ValueError("Gaussian standard deviations must be positive")
    size = kernel_size(scale, max(sigma_1, sigma_2)) if size is None else size
    if size < 1 or (size - scale) % 2:
        raise ValueError(f"kernel side {size} must have the parity of the scale {scale}")
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    x = coords[None, :]
    y = coords[:, None]
    c, s = math.cos(theta), math.sin(theta)
    along = c * x + s * y
    across = -s * x + c * y
    weights = np.exp(-0.5 * ((along / sigma_1) ** 2 + (across / sigma_2) ** 2))
    return weights / weights.sum()


def with_noise(weights: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply each weight by ``1 + U(-amplitude, amplitude)`` and renormalise."""
    if not 0.0 <= amplitude < 1.0:
        raise ValueError(f"kernel noise amplitude must be in [0, 1), not {amplitude}")
    noisy = weights * (1.0 + rng.uniform(-amplitude, amplitude, size=weights.shape))
    return noisy / noisy.sum()


def dilate(weights: np.ndarray, factor: int) -> np.ndarray:
    """Insert ``factor - 1`` zeros between the taps: the kernel of ``k`` at a coarser grid."""
    size = weights.shape[0]
    out = np.zeros((factor * (size - 1) + 1,) * 2)
    out[::factor, ::factor] = weights
    return out


def full_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full 2-D convolution of two small kernels."""
    from scipy.signal import fftconvolve

    out = np.clip(fftconvolve(a, b, mode="full"), 0.0, None)
    return out / out.sum()


def compose_x2(base: np.ndarray, scale: int) -> np.ndarray:
    """The kernel of applying the x2 degradation with ``base`` log2(scale) times, in one step."""
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"composition of x2 steps reaches powers of two only, not x{scale}")
    total = base
    factor = 2
    while factor < scale:
        total = full_convolve(total, dilate(base, factor))
        factor *= 2
    return total


def isotropic(scale: int, sigma: float, size: int | None = None) -> Kernel:
    """A fixed isotropic Gaussian kernel."""
    return Kernel(gaussian(scale, sigma, size=size), scale, "iso", {"sigma": float(sigma)})


def default_sigma_range(kind: str, scale: int) -> tuple[float, float]:
    """The default range of the random sigmas of a kernel ``kind`` (iso, aniso, div2krk)."""
    return {
        "iso": (0.2, float(scale)),
        "aniso": (0.3 * scale, 2.5 * scale),
        "div2krk": DIV2KRK_SIGMA,
    }[kind]


def random_isotropic(
    scale: int, rng: np.random.Generator, sigma_range: tuple[float, float] | None = None
) -> Kernel:
    """Isotropic Gaussian, ``sigma ~ U(sigma_range)``; default ``(0.2, scale)``.

    The default range extends the usual "setting 1" of blind SR (IKC, DAN: sigma in
    [0.2, 2.0] at x2, [0.2, 3.0] at x3, [0.2, 4.0] at x4) to any scale.
    """
    low, high = sigma_range if sigma_range is not None else default_sigma_range("iso", scale)
    sigma = float(rng.uniform(low, high))
    return Kernel(gaussian(scale, sigma), scale, "iso", {"sigma": sigma})


def _random_gaussian(
    scale: int,
    rng: np.random.Generator,
    sigma_range: tuple[float, float],
    noise: float,
    size: int | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Random anisotropic Gaussian weights, optionally noisy, and their parameters."""
    sigma_1, sigma_2 = (float(v) for v in rng.uniform(*sigma_range, size=2))
    theta = float(rng.uniform(-math.pi, math.pi))
    weights = gaussian(scale, sigma_1, sigma_2, theta, size)
    if noise:
        weights = with_noise(weights, noise, rng)
    params = {"sigma_1": sigma_1, "sigma_2": sigma_2, "theta": theta, "noise": float(noise)}
    return weights, params


def random_anisotropic(
    scale: int,
    rng: np.random.Generator,
    sigma_range: tuple[float, float] | None = None,
    noise: float = 0.0,
) -> Kernel:
    """Anisotropic Gaussian with random axes and angle, optionally with multiplicative noise.

    ``sigma_1, sigma_2 ~ U(sigma_range)`` (default DIV2KRK's x2 range scaled with the
    scale: ``(0.3 * scale, 2.5 * scale)``), ``theta ~ U(-pi, pi)``.
    """
    if sigma_range is None:
        sigma_range = default_sigma_range("aniso", scale)
    weights, params = _random_gaussian(scale, rng, sigma_range, noise)
    return Kernel(weights, scale, "aniso", params)


def random_div2krk(
    scale: int,
    rng: np.random.Generator,
    sigma_range: tuple[float, float] = DIV2KRK_SIGMA,
    noise: float = DIV2KRK_NOISE,
) -> Kernel:
    """A DIV2KRK kernel (module docstring): random noisy x2 kernel, composed up to ``scale``."""
    base, params = _random_gaussian(2, rng, sigma_range, noise, DIV2KRK_BASE_SIZE)
    return Kernel(compose_x2(base, scale), scale, "div2krk", params)


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so both sides are multiples of ``scale``."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


def blur_downsample(
    image: np.ndarray, weights: np.ndarray, scale: int, method: str = "auto"
) -> np.ndarray:
    """``(image * k)↓scale`` for an (H, W, C) float image with H, W multiples of ``scale``.

    Returns float32 (H/scale, W/scale, C) clipped to [0, 1] (the kernels are non-negative
    and sum to 1; the clip removes round-off). ``method``: ``direct`` computes only the kept
    samples (cheap for small kernels), ``fft`` correlates the whole image by FFT then
    decimates (cheap for large kernels); ``auto`` picks direct when K^2 <= 16 s^2. Both give
    the same values to float64 round-off.
    """
    _check_scale(scale)
    h, w = image.shape[:2]
    if h % scale or w % scale or h == 0 or w == 0:
        raise ValueError(f"image of {h}x{w} is not a positive multiple of the scale {scale}")
    size = weights.shape[0]
    if weights.ndim != 2 or weights.shape[1] != size or (size - scale) % 2:
        raise ValueError(f"kernel must be square with the parity of the scale {scale}")
    if method == "auto":
        method = "direct" if size * size <= 16 * scale * scale else "fft"
    pad = max(0, (size - scale) // 2)
    start = (scale - size) // 2 + pad
    planes = image if image.ndim == 3 else image[..., None]
    padded = np.pad(planes.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    if method == "direct":
        windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(0, 1))
        out = np.einsum("ijckl,kl->ijc", windows[start::scale, start::scale], weights)
    elif method == "fft":
        from scipy.signal import fftconvolve

        blurred = fftconvolve(padded, weights[::-1, ::-1, None], mode="valid", axes=(0, 1))
        out = blurred[start::scale, start::scale]
    else:
        raise ValueError(f"method must be auto, direct or fft, not {method!r}")
    out = np.clip(out[: h // scale, : w // scale], 0.0, 1.0).astype(np.float32)
    return out if image.ndim == 3 else out[..., 0]


def quantise(image: np.ndarray) -> np.ndarray:
    """Round to 8 bits and back, as if saved to an 8-bit PNG and read again."""
    return from_uint8(to_uint8(image))


# --- the Gaussian-8 protocol (IKC, DAN) ---------------------------------------------------


def gaussian8_sigmas(
    scale: int, low: float | None = None, high: float | None = None
) -> list[float]:
    """The 8 kernel widths ``linspace(low, high, 8)``; the range defaults to the official one.

    Only x4 has an official range in code (1.8 to 3.2); other scales need ``low`` and
    ``high`` (the papers' x2/x3 ranges could not be checked against their code).
    """
    if low is None or high is None:
        if scale not in GAUSSIAN8_WIDTHS:
            raise ValueError(
                f"Gaussian-8 at x{scale} needs its width range (sigma_min, sigma_max): the "
                "official code states it for x4 only (1.8 to 3.2)")
        low, high = GAUSSIAN8_WIDTHS[scale]
    if not 0 < low <= high:
        raise ValueError("Gaussian-8 widths need 0 < sigma_min <= sigma_max")
    return [float(v) for v in np.linspace(low, high, 8)]


def centred_gaussian(sigma: float, size: int = GAUSSIAN8_SIZE) -> np.ndarray:
    """An isotropic Gaussian on the integer offsets of an odd ``size``, normalised (the
    Gaussian-8 kernel: :func:`gaussian` at scale 1)."""
    if sigma <= 0 or size < 1 or size % 2 == 0:
        raise ValueError("need sigma > 0 and an odd kernel size")
    return gaussian(1, sigma, size=size)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic with a = -0.5, MATLAB's bicubic."""
    a = np.abs(x)
    return np.where(a <= 1, (1.5 * a - 2.5) * a * a + 1,
                    np.where(a <= 2, ((-0.5 * a + 2.5) * a - 4) * a + 2, 0.0))


def bicubic_down_matrix(length: int, factor: int) -> np.ndarray:
    """The (length // factor, length) matrix of MATLAB's antialiased bicubic downscale.

    Output pixel ``i`` (from 1) sits at input coordinate ``u = i * factor + (1 - factor) / 2``
    (1-based); the cubic is stretched by ``factor`` (antialiasing), its weights normalised,
    and taps beyond the edges folded back symmetrically (``c b a | a b c``).
    """
    out = length // factor
    u = np.arange(1, out + 1, dtype=np.float64) * factor + 0.5 * (1 - factor)
    taps = math.ceil(4.0 * factor) + 2
    first = np.floor(u - 2.0 * factor)
    index = first[:, None] + np.arange(taps)[None, :]
    weights = _cubic((u[:, None] - index) / factor) / factor
    weights /= weights.sum(axis=1, keepdims=True)
    column = index.astype(np.int64) - 1
    column = np.where(column < 0, -column - 1, column)
    column = np.where(column >= length, 2 * length - 1 - column, column)
    matrix = np.zeros((out, length))
    np.add.at(matrix, (np.repeat(np.arange(out), taps), column.ravel()), weights.ravel())
    return matrix


def matlab_downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """MATLAB ``imresize(image, 1/factor)`` (bicubic, antialiased) of an (H, W, C) float image
    whose sides are multiples of ``factor``: rows first, then columns, in float64."""
    rows = bicubic_down_matrix(image.shape[0], factor)
    cols = bicubic_down_matrix(image.shape[1], factor)
    planes = image if image.ndim == 3 else image[..., None]
    out = np.einsum("bj,ajc->abc", cols, np.einsum("ai,ijc->ajc", rows, planes))
    return out if image.ndim == 3 else out[..., 0]


def gaussian8_degrade(image: np.ndarray, sigma: float, scale: int) -> np.ndarray:
    """One Gaussian-8 LR of an HR already mod-cropped: blur (mirror borders), MATLAB bicubic
    downscale, clip to [0, 1]; float64 (:func:`quantise` rounds it to 8 bits, as the official
    ``tensor2img`` does)."""
    from scipy.ndimage import correlate

    h, w = image.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"image of {h}x{w} is not a multiple of the scale {scale}")
    weights = centred_gaussian(sigma)
    planes = np.asarray(image, dtype=np.float64)
    planes = planes if planes.ndim == 3 else planes[..., None]
    blurred = np.stack([correlate(planes[..., c], weights, mode="mirror")
                        for c in range(planes.shape[2])], axis=-1)
    out = np.clip(matlab_downscale(blurred, scale), 0.0, 1.0)
    return out if image.ndim == 3 else out[..., 0]
