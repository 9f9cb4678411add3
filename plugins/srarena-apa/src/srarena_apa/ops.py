"""Pure-PyTorch versions of StyleGAN2-ADA's custom operations.

The official code ships CUDA kernels for ``upfirdn2d`` (upsample, FIR filter, downsample)
and ``bias_act`` (bias, activation, gain, clamp), each with a reference fallback in plain
PyTorch; the networks build on them with ``conv2d_resample`` (a convolution fused with 2x
up- or downsampling) and ``modulated_conv2d`` (StyleGAN2's weight modulation and
demodulation). These are srarena's own implementations of the same operations, computed
in the same order of elementary steps so that results agree with the official reference
path to float rounding. They run on any device and dtype (float16 included) and support
the higher-order gradients that R1 and path-length regularisation take.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Padding = int | Sequence[int]


def _lrelu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return F.leaky_relu(x, alpha)


# name -> (function of (x, alpha), default alpha, default gain)
ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor, float], torch.Tensor], float, float]] = {
    "linear": (lambda x, a: x, 0.0, 1.0),
    "relu": (lambda x, a: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": (_lrelu, 0.2, math.sqrt(2)),
    "tanh": (lambda x, a: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, a: torch.sigmoid(x), 0.0, 1.0),
    "elu": (lambda x, a: F.elu(x), 0.0, 1.0),
    "selu": (lambda x, a: F.selu(x), 0.0, 1.0),
    "softplus": (lambda x, a: F.softplus(x), 0.0, 1.0),
    "swish": (lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def default_gain(activation: str) -> float:
    """The gain that keeps activations' magnitude for ``activation`` (sqrt 2 for lrelu)."""
    return ACTIVATIONS[activation][2]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Add a bias along ``dim``, apply an activation, scale by ``gain``, clamp to ±``clamp``."""
    func, default_alpha, gain_default = ACTIVATIONS[act]
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.reshape(shape)
    x = func(x, float(default_alpha if alpha is None else alpha))
    gain = float(gain_default if gain is None else gain)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def setup_filter(
    taps: Sequence[float] | torch.Tensor,
    normalize: bool = True,
    flip: bool = False,
    gain: float = 1.0,
    separable: bool | None = None,
) -> torch.Tensor:
    """A FIR filter as float32: a 1-D list becomes its outer product (2-D) unless it is
    separable (8 taps or more by default); normalised to unit DC gain."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip:
        f = f.flip(list(range(f.ndim)))
    return f * (gain ** (f.ndim / 2))


def _pad4(padding: Padding) -> list[int]:
    """Padding as [x0, x1, y0, y1] from an int, [x, y] or [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        return [padding] * 4
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return [padding[0], padding[0], padding[1], padding[1]]
    return padding


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop), convolve with ``f`` per channel,
    keep every ``down``-th pixel (``scipy.signal.upfirdn`` in 2-D)."""
    n, c, h, w = x.shape
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    x0, x1, y0, y1 = _pad4(padding)
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    kernel = f[None, None].repeat([c, 1] + [1] * f.ndim)
    if f.ndim == 2:
        x = F.conv2d(x, kernel, groups=c)
    else:
        x = F.conv2d(x, kernel.unsqueeze(2), groups=c)
        x = F.conv2d(x, kernel.unsqueeze(3), groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


def _pad_up(pad: list[int], f: torch.Tensor | None, up: int) -> list[int]:
    """``pad`` ([x0, x1, y0, y1]) widened so that filtering after ``up``x zero insertion
    keeps the image centred and ``up`` times larger."""
    fw, fh = _filter_size(f)
    x0, x1, y0, y1 = pad
    return [x0 + (fw + up - 1) // 2, x1 + (fw - up) // 2, y0 + (fh + up - 1) // 2,
            y1 + (fh - up) // 2]


def _pad_down(pad: list[int], f: torch.Tensor | None, down: int) -> list[int]:
    """``pad`` ([x0, x1, y0, y1]) widened so that filtering then keeping every ``down``-th
    pixel leaves the image centred and ``down`` times smaller."""
    fw, fh = _filter_size(f)
    x0, x1, y0, y1 = pad
    return [x0 + (fw - down + 1) // 2, x1 + (fw - down) // 2, y0 + (fh - down + 1) // 2,
            y1 + (fh - down) // 2]


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2, padding: Padding = 0,
               flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """2x (or ``up``x) upsampling with the FIR filter ``f``; output is ``up`` times larger."""
    return upfirdn2d(x, f, up=up, padding=_pad_up(_pad4(padding), f, up),
                     flip_filter=flip_filter, gain=gain * up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2, padding: Padding = 0,
                 flip_filter: bool = False, gain: float = 1.0) -> torch.Tensor:
    """``down``x downsampling after filtering with ``f``; output is ``down`` times smaller."""
    return upfirdn2d(x, f, down=down, padding=_pad_down(_pad4(padding), f, down),
                     flip_filter=flip_filter, gain=gain)


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: Sequence[int] = (0, 0),
          groups: int = 1, transpose: bool = False, flip_weight: bool = True) -> torch.Tensor:
    """conv2d (correlation) or conv_transpose2d; ``flip_weight=False`` makes it a convolution."""
    if not flip_weight:
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=list(padding), groups=groups)
    return F.conv2d(x, w, stride=stride, padding=list(padding), groups=groups)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
) -> torch.Tensor:
    """A 2-D convolution with optional FIR-filtered up- or downsampling around it.

    ``padding`` is with respect to the upsampled image and is applied once. Upsampling
    runs as a strided transposed convolution followed by the filter; downsampling as the
    filter followed by a strided convolution; 1x1 kernels resample on the cheaper side.
    """
    out_ch, in_per_group, kh, kw = (int(s) for s in w.shape)
    pad = _pad4(padding)
    if up > 1:
        pad = _pad_up(pad, f, up)
    if down > 1:
        pad = _pad_down(pad, f, down)
    x0, x1, y0, y1 = pad

    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up**2, flip_filter=flip_filter)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=pad, flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        x0, x1, y0, y1 = x0 - (kw - 1), x1 - (kw - up), y0 - (kh - 1), y1 - (kh - up)
        pxt, pyt = max(min(-x0, -x1), 0), max(min(-y0, -y1), 0)
        x = _conv(x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True,
                  flip_weight=not flip_weight)
        x = upfirdn2d(x, f, padding=[x0 + pxt, x1 + pxt, y0 + pyt, y1 + pyt], gain=up**2,
                      flip_filter=flip_filter)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x
    if x0 == x1 and y0 == y1 and x0 >= 0 and y0 >= 0:
        return _conv(x, w, padding=[y0, x0], groups=groups, flip_weight=flip_weight)
    x = upfirdn2d(x, None, padding=pad, flip_filter=flip_filter)
    return _conv(x, w, groups=groups, flip_weight=flip_weight)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale ``x`` to unit mean square along ``dim`` (the mapping network's input norm)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution: per-sample input-channel scales (``styles``),
    optional demodulation to unit output variance, plus optional noise.

    ``fused_modconv`` runs it as one grouped convolution with per-sample weights; otherwise
    the activations are scaled before and after a shared convolution. In float16 the
    weights and styles are first normalised by their maxima to avoid overflow.
    """
    batch = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (
            1 / math.sqrt(in_ch * kh * kw)
            / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    w = dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        assert w is not None
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
    if demodulate and fused_modconv:
        assert w is not None and dcoefs is not None
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, down=down,
                            padding=padding, flip_weight=flip_weight)
        if demodulate and noise is not None:
            assert dcoefs is not None
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.to(x.dtype).reshape(batch, -1, 1, 1))
        if demodulate:
            assert dcoefs is not None
            return x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        if noise is not None:
            return x.add_(noise.to(x.dtype))
        return x

    assert w is not None
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_ch, kh, kw)
    x = conv2d_resample(x, w.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding,
                        groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise)
    return x
