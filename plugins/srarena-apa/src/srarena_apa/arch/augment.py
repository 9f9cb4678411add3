"""ADA's differentiable augmentations for discriminator inputs (Karras et al., NeurIPS 2020).

APA (``--with-dataaug=true``) applies them, with APA's probability ``p``, to every image the
discriminator sees. Implemented here: the pixel-blitting (``xflip``, ``rotate90``,
``xint``), general geometric (``scale``, ``rotate``, ``aniso``, ``xfrac``) and colour
(``brightness``, ``contrast``, ``lumaflip``, ``hue``, ``saturation``) groups, i.e. the
official pipelines ``blit``, ``geom``, ``color``, ``bg`` and ``bgc`` (the default).
Random draws happen in the official order and geometric transforms run through the
same 2x oversampled, wavelet-filtered resampling, so a seeded call reproduces the
official pipeline. Buffers ``p`` and ``Hz_geom`` carry the official names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import ops

# Symlet-6 orthogonal low-pass decomposition filter (the standard published coefficients,
# e.g. PyWavelets' ``Wavelet("sym6").dec_lo``), ADA's anti-aliasing filter.
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)

PIPELINES: dict[str, tuple[str, ...]] = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": ("brightness", "contrast", "lumaflip", "hue", "saturation"),
}
PIPELINES["bg"] = PIPELINES["blit"] + PIPELINES["geom"]
PIPELINES["bgc"] = PIPELINES["bg"] + PIPELINES["color"]
GEOMETRIC = PIPELINES["bg"]

Entry = torch.Tensor | float


def _matrix(rows: Sequence[Sequence[Entry]], device: torch.device) -> torch.Tensor:
    """A (batch of) matrices from rows of tensors and numbers; numbers broadcast."""
    elems = [e for row in rows for e in row]
    ref = next((e for e in elems if isinstance(e, torch.Tensor)), None)
    if ref is None:
        return torch.tensor([[float(e) for e in row] for row in rows], dtype=torch.float32,
                            device=device)
    full = [e if isinstance(e, torch.Tensor) else
            torch.full(ref.shape, float(e), dtype=torch.float32, device=ref.device)
            for e in elems]
    return torch.stack(full, dim=-1).reshape(ref.shape + (len(rows), -1))


def _translate2d(tx: Entry, ty: Entry, device: torch.device) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], device)


def _scale2d(sx: Entry, sy: Entry, device: torch.device) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], device)


def _rotate2d(theta: torch.Tensor, device: torch.device) -> torch.Tensor:
    return _matrix([[torch.cos(theta), torch.sin(-theta), 0],
                    [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1]], device)


def _translate3d(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], device)


def _scale3d(s: torch.Tensor, device: torch.device) -> torch.Tensor:
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], device)


def _rotate3d(v: torch.Tensor, theta: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Rotation by ``theta`` about the unit axis ``v`` (Rodrigues)."""
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix([
        [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
        [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
        [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
        [0, 0, 0, 1],
    ], device)


class AugmentPipe(nn.Module):
    """Random augmentations whose probabilities are multiplier x ``p`` (a buffer that
    APA sets). Images are NCHW floats in [-1, 1], 1 or 3 channels."""

    def __init__(self, xflip: float = 0, rotate90: float = 0, xint: float = 0,
                 xint_max: float = 0.125, scale: float = 0, rotate: float = 0,
                 aniso: float = 0, xfrac: float = 0, scale_std: float = 0.2,
                 rotate_max: float = 1, aniso_std: float = 0.2, xfrac_std: float = 0.125,
                 brightness: float = 0, contrast: float = 0, lumaflip: float = 0,
                 hue: float = 0, saturation: float = 0, brightness_std: float = 0.2,
                 contrast_std: float = 0.5, hue_max: float = 1,
                 saturation_std: float = 1) -> None:
        super().__init__()
        self.register_buffer("p", torch.ones([]))
        self.xflip, self.rotate90, self.xint = float(xflip), float(rotate90), float(xint)
        self.xint_max = float(xint_max)
        self.scale, self.rotate = float(scale), float(rotate)
        self.aniso, self.xfrac = float(aniso), float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.lumaflip, self.hue, self.saturation = float(lumaflip), float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        self.register_buffer("Hz_geom", ops.setup_filter(SYM6))

    @classmethod
    def pipeline(cls, name: str) -> AugmentPipe:
        """The official named pipeline (``bgc`` etc.): its augmentations at multiplier 1."""
        if name not in PIPELINES:
            raise ValueError(f"augmentation pipeline {name!r}: choose one of {sorted(PIPELINES)}")
        return cls(**dict.fromkeys(PIPELINES[name], 1.0))

    def _chance(self, shape: list[int], multiplier: float, device: torch.device
                ) -> torch.Tensor:
        return torch.rand(shape, device=device) < multiplier * self.p

    def _random_rotation(self, n: int, p_rot: torch.Tensor, device: torch.device
                         ) -> torch.Tensor:
        """A rotation by U(-rotate_max, rotate_max) half-turns per image, with chance p_rot."""
        theta = (torch.rand([n], device=device) * 2 - 1) * math.pi * self.rotate_max
        theta = torch.where(torch.rand([n], device=device) < p_rot, theta,
                            torch.zeros_like(theta))
        return _rotate2d(theta, device)

    def _geometry(self, n: int, width: int, height: int, device: torch.device) -> torch.Tensor:
        """The inverse homogeneous 2-D transform (output pixel -> input pixel) per image."""
        g_inv = torch.eye(3, device=device)
        if self.xflip > 0:
            i = torch.floor(torch.rand([n], device=device) * 2)
            i = torch.where(self._chance([n], self.xflip, device), i, torch.zeros_like(i))
            g_inv = g_inv @ _scale2d(1 / (1 - 2 * i), 1, device)
        if self.rotate90 > 0:
            i = torch.floor(torch.rand([n], device=device) * 4)
            i = torch.where(self._chance([n], self.rotate90, device), i, torch.zeros_like(i))
            g_inv = g_inv @ _rotate2d(math.pi / 2 * i, device)
        if self.xint > 0:
            t = (torch.rand([n, 2], device=device) * 2 - 1) * self.xint_max
            t = torch.where(self._chance([n, 1], self.xint, device), t, torch.zeros_like(t))
            g_inv = g_inv @ _translate2d(-torch.round(t[:, 0] * width),
                                         -torch.round(t[:, 1] * height), device)
        if self.scale > 0:
            s = torch.exp2(torch.randn([n], device=device) * self.scale_std)
            s = torch.where(self._chance([n], self.scale, device), s, torch.ones_like(s))
            g_inv = g_inv @ _scale2d(1 / s, 1 / s, device)
        # rotation happens before and after the anisotropic scaling, each with p_rot, so
        # that at least one of them does with probability rotate * p
        p_rot = 1 - torch.sqrt((1 - self.rotate * self.p).clamp(0, 1))
        if self.rotate > 0:
            g_inv = g_inv @ self._random_rotation(n, p_rot, device)
        if self.aniso > 0:
            s = torch.exp2(torch.randn([n], device=device) * self.aniso_std)
            s = torch.where(self._chance([n], self.aniso, device), s, torch.ones_like(s))
            g_inv = g_inv @ _scale2d(1 / s, 1 / (1 / s), device)
        if self.rotate > 0:
            g_inv = g_inv @ self._random_rotation(n, p_rot, device)
        if self.xfrac > 0:
            t = torch.randn([n, 2], device=device) * self.xfrac_std
            t = torch.where(self._chance([n, 1], self.xfrac, device), t, torch.zeros_like(t))
            g_inv = g_inv @ _translate2d(-(t[:, 0] * width), -(t[:, 1] * height), device)
        return g_inv

    def _resample(self, images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
        """Apply the transform: reflect-pad, 2x upsample, bilinear sample, 2x downsample."""
        n, c, height, width = images.shape
        device = images.device
        cx, cy = (width - 1) / 2, (height - 1) / 2
        corners = _matrix([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device)
        corners = g_inv @ corners.t()
        hz_pad = self.Hz_geom.shape[0] // 4
        margin = corners[:, :2, :].permute(1, 0, 2).flatten(1)
        margin = torch.cat([-margin, margin]).max(dim=1).values
        margin = margin + torch.tensor([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2,
                                       dtype=torch.float32, device=device)
        margin = margin.max(torch.zeros(4, device=device))
        margin = margin.min(torch.tensor([width - 1, height - 1] * 2, dtype=torch.float32,
                                         device=device))
        mx0, my0, mx1, my1 = (int(m) for m in margin.ceil().to(torch.int32))
        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        g_inv = _translate2d((mx0 - mx1) / 2, (my0 - my1) / 2, device) @ g_inv
        images = ops.upsample2d(images, self.Hz_geom, up=2)
        g_inv = _scale2d(2, 2, device) @ g_inv @ _scale2d(0.5, 0.5, device)
        g_inv = _translate2d(-0.5, -0.5, device) @ g_inv @ _translate2d(0.5, 0.5, device)
        shape = [n, c, (height + hz_pad * 2) * 2, (width + hz_pad * 2) * 2]
        g_inv = (_scale2d(2 / images.shape[3], 2 / images.shape[2], device) @ g_inv
                 @ _scale2d(1 / (2 / shape[3]), 1 / (2 / shape[2]), device))
        grid = F.affine_grid(g_inv[:, :2, :], list(shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                               align_corners=False)
        return ops.downsample2d(images, self.Hz_geom, down=2, padding=-hz_pad * 2,
                                flip_filter=True)

    def _colour(self, n: int, channels: int, device: torch.device) -> torch.Tensor | None:
        """The homogeneous 3-D colour transform (colour in -> colour out) per image, or
        None when no colour augmentation applies."""
        eye = torch.eye(4, device=device)
        c = eye
        if self.brightness > 0:
            b = torch.randn([n], device=device) * self.brightness_std
            b = torch.where(self._chance([n], self.brightness, device), b, torch.zeros_like(b))
            c = _translate3d(b, device) @ c
        if self.contrast > 0:
            s = torch.exp2(torch.randn([n], device=device) * self.contrast_std)
            s = torch.where(self._chance([n], self.contrast, device), s, torch.ones_like(s))
            c = _scale3d(s, device) @ c
        v = torch.tensor([1 / math.sqrt(3)] * 3 + [0.0], dtype=torch.float32, device=device)
        vv = torch.outer(v, v)
        if self.lumaflip > 0:
            i = torch.floor(torch.rand([n, 1, 1], device=device) * 2)
            i = torch.where(self._chance([n, 1, 1], self.lumaflip, device), i,
                            torch.zeros_like(i))
            c = (eye - 2 * vv * i) @ c
        if self.hue > 0 and channels > 1:
            theta = (torch.rand([n], device=device) * 2 - 1) * math.pi * self.hue_max
            theta = torch.where(self._chance([n], self.hue, device), theta,
                                torch.zeros_like(theta))
            c = _rotate3d(v, theta, device) @ c
        if self.saturation > 0 and channels > 1:
            s = torch.exp2(torch.randn([n, 1, 1], device=device) * self.saturation_std)
            s = torch.where(self._chance([n, 1, 1], self.saturation, device), s,
                            torch.ones_like(s))
            c = (vv + (eye - vv) * s) @ c
        return None if c is eye else c

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n, channels, height, width = images.shape
        device = images.device
        if any(getattr(self, name) > 0 for name in GEOMETRIC):
            images = self._resample(images, self._geometry(n, width, height, device))
        c = self._colour(n, channels, device)
        if c is not None:
            flat = images.reshape([n, channels, height * width])
            if channels == 3:
                flat = c[:, :3, :3] @ flat + c[:, :3, 3:]
            elif channels == 1:
                c = c[:, :3, :].mean(dim=1, keepdim=True)
                flat = flat * c[:, :, :3].sum(dim=2, keepdim=True) + c[:, :, 3:]
            else:
                raise ValueError("augmentation needs RGB (3 channels) or grey (1 channel) images")
            images = flat.reshape([n, channels, height, width])
        return images
