"""Unit tests of MoESR's pieces: networks, transforms, kernel, Sobel, selection rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from srarena_moesr import arch, method
from srarena_moesr.upscaler import as_official_input


def test_official_architectures_have_official_sizes_and_keys():
    sr, ise, ken = arch.SRNet(), arch.ISENet(), arch.KENNet()
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert (count(sr), count(ise), count(ken)) == (372_803, 1_594_241, 7_003)
    assert [k for k in sr.state_dict() if k.endswith("weight")] == [
        f"model.{i}.weight" for i in range(0, 23, 2)
    ]
    assert [k for k in ise.state_dict() if k.endswith("weight")] == [
        f"model.{i}.weight" for i in (0, 2, 4, 6, 8, 9)
    ]
    assert list(ken.state_dict()) == [
        f"layers.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")
    ]
    with torch.no_grad():
        out = ise(torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256))
    assert out.shape == (1, 1, 26, 26)


def test_sr_net_is_bicubic_plus_residual():
    torch.manual_seed(0)
    net = arch.SRNet(features=4)
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        for p in net.model[-1].parameters():
            p.zero_()
        out = net(x)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.equal(out, up)


def test_ken_standardises_clamps_and_scales():
    torch.manual_seed(0)
    ken = arch.KENNet()
    x = torch.rand(2, 85, dtype=torch.float64)
    ken = ken.double()
    with torch.no_grad():
        ken.layers[4].bias.copy_(torch.tensor([-5.0, 0.5, 8.0]))
        out = ken(x).numpy()
    xn = x.numpy()
    z = (xn - xn.mean(1, keepdims=True)) / xn.std(1, ddof=1, keepdims=True)
    layers = [(m.weight.detach().numpy(), m.bias.detach().numpy())
              for m in ken.layers if isinstance(m, torch.nn.Linear)]
    h = np.maximum(z @ layers[0][0].T + layers[0][1], 0)
    h = np.maximum(h @ layers[1][0].T + layers[1][1], 0)
    y = h @ layers[2][0].T + layers[2][1]
    expected = np.concatenate([np.maximum(y[:, :2], 0.01), y[:, 2:] * math.pi / 16], 1)
    np.testing.assert_allclose(out, expected, rtol=1e-10)
    assert (out[:, 0] == 0.01).all()


@pytest.mark.parametrize("sector", [1, 3])
def test_weight_transform_equals_input_transform(sector):
    torch.manual_seed(1)
    net = arch.SRNet(features=4).eval()
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        reference = method.from_sector(net(method.to_sector(x, sector)), sector)
        method.transform_weights(net, sector)
        turned = net(x)
    torch.testing.assert_close(turned, reference, atol=1e-5, rtol=0)


def test_weight_rotation_turns_opposite_to_sweep_rotation():
    """The official selection's ``rot90(+1)`` on weights matches rot90(+1)∘net∘rot90(-1),
    not the sweep's rot90(-1)∘net∘rot90(+1); kept as official."""
    torch.manual_seed(2)
    net = arch.SRNet(features=4).eval()
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        sweep = method.from_sector(net(method.to_sector(x, 2)), 2)
        opposite = net(x.rot90(-1, dims=[2, 3])).rot90(1, dims=[2, 3])
        method.transform_weights(net, 2)
        turned = net(x)
    torch.testing.assert_close(turned, opposite, atol=1e-5, rtol=0)
    assert (turned - sweep).abs().max() > 1e-3


def test_transform_leaves_biases():
    net = arch.SRNet(features=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    method.transform_weights(net, 1)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.endswith("bias"))
    assert not torch.equal(before["model.0.weight"], after["model.0.weight"])


def test_gaussian_kernel_geometry():
    params = np.array([3.0, 1.0, 0.0], np.float32)
    k = method.gaussian_kernel(params, 13, 2)
    assert k.shape == (13, 13) and abs(k.sum() - 1) < 1e-12
    rows, cols = np.mgrid[:13, :13]
    mu_r, mu_c = (k * rows).sum(), (k * cols).sum()
    # mean off-centre at 6.5 (kernel truncation pulls the wide axis by ~1e-3)
    assert mu_r == pytest.approx(6.5, abs=1e-6) and mu_c == pytest.approx(6.5, abs=5e-3)
    var_c = (k * (cols - mu_c) ** 2).sum()
    var_r = (k * (rows - mu_r) ** 2).sum()
    assert var_c == pytest.approx(3.0, rel=2e-2) and var_r == pytest.approx(1.0, rel=2e-2)
    theta = np.float32(np.pi / 5)
    k = method.gaussian_kernel(np.array([4.0, 1.0, theta], np.float32), 33, 4)
    rows, cols = np.mgrid[:33, :33]
    assert (k * cols).sum() == pytest.approx(17.5, abs=1e-3)
    cov_rc = (k * (rows - 17.5) * (cols - 17.5)).sum()
    q = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    sigma = q @ np.diag([4.0, 1.0]) @ q.T  # in (x = column, y = row) order
    assert cov_rc == pytest.approx(sigma[0, 1], rel=2e-2)


def test_sobel_magnitude_matches_reference():
    x = torch.rand(1, 3, 12, 14, dtype=torch.float64)
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    xn = x[0].numpy()
    gx = np.stack([ndimage.correlate(c, kx, mode="constant") for c in xn])
    gy = np.stack([ndimage.correlate(c, kx.T, mode="constant") for c in xn])
    np.testing.assert_allclose(method.sobel_magnitude(x)[0].numpy(), np.hypot(gx, gy),
                               rtol=1e-12)


def test_selection_rules():
    pi16 = math.pi / 16
    sel = method.select_expert(np.array([2.0, 1.0, 0.3], np.float32), 2)
    assert (sel.expert_id, sel.sector) == ("U_2.27_0.85_0.20", 0)
    sel = method.select_expert(np.array([3.0, 0.9, 12.8 * pi16], np.float32), 2)
    assert (sel.expert_id, sel.sector, sel.transform) == ("U_3.23_0.85_0.59", 3, "flip")
    sel = method.select_expert(np.array([3.0, 0.9, 14.8 * pi16], np.float32), 2)
    assert (sel.expert_id, sel.sector) == ("U_3.23_0.85_0.20", 3)
    sel = method.select_expert(np.array([1.0, 2.0, 1.9], np.float32), 2)  # λ2 > λ1
    assert (sel.expert_id, sel.sector) == ("U_2.27_2.27_0.00", 2)
    sel = method.select_expert(np.array([5.0, 4.3, -1.0], np.float32), 2)  # θ < 0
    assert sel.snapped[2] == pytest.approx(pi16) and sel.expert_id == "U_4.37_4.37_0.00"
    sel = method.select_expert(np.array([12.0, 4.0, 5.2 * pi16], np.float32), 4)
    assert (sel.expert_id, sel.transform) == ("U_11.35_4.25_0.59", "flip+rot90")


def test_sweep_covers_85_hypotheses_and_25_experts():
    for scale in (2, 4):
        hyps = method.sweep_hypotheses(scale)
        assert len(hyps) == 85
        assert {h.expert_id for h in hyps} == set(method.expert_ids(scale))
        iso = [h for h in hyps if h.lambda1 == h.lambda2]
        assert len(iso) == 5 and all(h.theta == 0 and h.sector == 0 for h in iso)
    assert method.sweep_hypotheses(2)[:4] == [
        method.Hypothesis(0.85, 0.85, 0.0, 0),
        method.Hypothesis(1.47, 0.85, math.pi / 16, 0),
        method.Hypothesis(1.47, 0.85, 3 * math.pi / 16, 0),
        method.Hypothesis(1.47, 0.85, 5 * math.pi / 16, 1),
    ]


def test_crop_sizes():
    assert method.crop_problem(2, 128) is None and method.crop_problem(4, 128) is None
    assert "kernel" in method.crop_problem(4, 32)
    assert method.crop_problem(2, 12) is not None


def test_official_input_recovers_8_bit_levels():
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, 2)
    as_float32 = u8.astype(np.float32) / 255.0
    assert np.array_equal(as_official_input(as_float32), u8 / 255.0)
    other = np.full((4, 4, 3), 0.1234567, np.float32)
    assert np.array_equal(as_official_input(other), other.astype(np.float64))
