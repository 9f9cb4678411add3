"""The pure-PyTorch resampling and modulation operations against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal
from srarena_apa import ops


def _upfirdn_reference(x: np.ndarray, taps: np.ndarray, up: int, down: int) -> np.ndarray:
    """scipy's 1-D upfirdn along both axes (a separable filter's 2-D upfirdn)."""
    rows = np.stack([signal.upfirdn(taps, row, up, down) for row in x])
    return np.stack([signal.upfirdn(taps, col, up, down) for col in rows.T]).T


@pytest.mark.parametrize("up, down", [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_upfirdn2d_is_scipy_upfirdn(up, down):
    rng = np.random.RandomState(up * 10 + down)
    x = rng.randn(9, 11)
    taps = rng.randn(8)
    f = torch.from_numpy(taps).float()
    expected = _upfirdn_reference(x, taps, up, down)
    # scipy's full output: pad by taps - 1 on both sides of the upsampled signal
    pad = len(taps) - 1
    got = ops.upfirdn2d(torch.from_numpy(x).float()[None, None], f, up=up, down=down,
                        padding=[pad, pad, pad, pad])[0, 0].numpy()
    # scipy stops where the last input sample's response ends (it drops up - 1 zeros)
    h, w = expected.shape
    np.testing.assert_allclose(got[:h, :w], expected, atol=1e-5)
    assert f.ndim == 1 and ops.setup_filter(taps).ndim == 1  # 8 taps: kept separable


def test_setup_filter_and_resampling_keep_dc():
    f = ops.setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and float(f.sum()) == pytest.approx(1.0)
    x = torch.full([1, 2, 8, 8], 0.5)
    up = ops.upsample2d(x, f)
    down = ops.downsample2d(x, f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    np.testing.assert_allclose(up[..., 2:-2, 2:-2].numpy(), 0.5, atol=1e-6)
    np.testing.assert_allclose(down[..., 1:-1, 1:-1].numpy(), 0.5, atol=1e-6)


def test_bias_act():
    x = torch.tensor([[-2.0, 1.0], [3.0, -4.0]])
    b = torch.tensor([1.0, -1.0])
    y = ops.bias_act(x, b, act="lrelu", clamp=1.0)
    expected = torch.nn.functional.leaky_relu(x + b, 0.2) * 2**0.5
    assert torch.allclose(y, expected.clamp(-1, 1))
    assert torch.equal(ops.bias_act(x), x)


@pytest.mark.parametrize("up, down, k", [(2, 1, 3), (1, 2, 3), (2, 1, 1), (1, 2, 1), (1, 1, 3)])
def test_conv2d_resample_is_filter_then_conv(up, down, k):
    """Each fast path equals the plain composition: upsample-filter then convolve, or
    convolve then filter-downsample."""
    rng = torch.Generator().manual_seed(up + 2 * down + k)
    x = torch.randn(2, 3, 8, 8, generator=rng, dtype=torch.float64)
    w = torch.randn(4, 3, k, k, generator=rng, dtype=torch.float64)
    f = ops.setup_filter([1, 3, 3, 1])
    got = ops.conv2d_resample(x, w, f=f, up=up, down=down, padding=k // 2)
    if up > 1:
        ref = ops.upsample2d(x, f, up=up)
        ref = torch.nn.functional.conv2d(ref, w, padding=k // 2)
    else:
        ref = torch.nn.functional.conv2d(x, w, padding=k // 2)
        if down > 1:
            ref = ops.downsample2d(ref, f, down=down)
    assert got.shape == ref.shape
    # filtering and convolving commute; they differ only where zero padding enters
    m = 3 if k > 1 else 0
    torch.testing.assert_close(got[..., m:got.shape[-2] - m, m:got.shape[-1] - m],
                               ref[..., m:ref.shape[-2] - m, m:ref.shape[-1] - m])


def test_modulated_conv_fused_equals_unfused_and_is_twice_differentiable():
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 8, 8, generator=rng, requires_grad=True)
    weight = torch.randn(5, 4, 3, 3, generator=rng)
    styles = torch.randn(3, 4, generator=rng)
    noise = torch.randn(3, 1, 16, 16, generator=rng)
    f = ops.setup_filter([1, 3, 3, 1])
    a = ops.modulated_conv2d(x, weight, styles, noise=noise, up=2, padding=1,
                             resample_filter=f, flip_weight=False, fused_modconv=True)
    b = ops.modulated_conv2d(x, weight, styles, noise=noise, up=2, padding=1,
                             resample_filter=f, flip_weight=False, fused_modconv=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    (grad,) = torch.autograd.grad(a.square().sum(), x, create_graph=True)
    grad.square().sum().backward()  # second order (R1 needs it)
    assert x.grad is not None and torch.isfinite(x.grad).all()
