"""FastGAN networks (Liu et al., ICLR 2021), written for srarena.

The module tree, parameter order and state-dict keys follow the official ``models.py`` so
that official checkpoints load strictly and the ``g_ema`` list (parameters in
``Generator.parameters()`` order) maps onto the right tensors. Every convolution is wrapped in
``torch.nn.utils.spectral_norm`` (the hook API: ``weight_orig``, ``weight_u``, ``weight_v``),
bias-free; widths follow the official per-resolution multipliers of ``ngf`` / ``ndf``.

Noise: :class:`NoiseInjection` draws its noise from an explicit ``torch.Generator`` when one
is passed to the generator's forward (srarena's seeded generation and training); without
one it draws from the global CPU RNG like the official code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

SIZES = (256, 512, 1024)
G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
D_MULT = {4: 16, 8: 16, 16: 8, 32: 4, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
DECODER_WIDTH = 32


def widths(mult: dict[int, float], base: int) -> dict[int, int]:
    """Channels per resolution: ``int(multiplier * base)``, as official."""
    return {res: int(m * base) for res, m in mult.items()}


def sn_conv(cin: int, cout: int, k: int, stride: int = 1, pad: int = 0) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, stride, pad, bias=False))


def init_weights(module: nn.Module) -> None:
    """Official initialisation, for ``Module.apply``: conv N(0, 0.02), BN weight N(1, 0.02)."""
    kind = type(module).__name__
    if "Conv" in kind:
        # spectral_norm keeps the raw weight in ``weight_orig``
        weight = getattr(module, "weight_orig", None)
        if weight is None:
            weight = module.weight
        weight.data.normal_(0.0, 0.02)
    elif "BatchNorm" in kind:
        module.weight.data.normal_(1.0, 0.02)
        module.bias.data.fill_(0)


class GLU(nn.Module):
    """Gated linear unit over channels: first half times sigmoid of the second half.

    Written out rather than ``F.glu``: the fused kernel's backward differs from the official
    autograd graph in the last bits, which the training golden test resolves.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[1] // 2
        return x[:, :half] * torch.sigmoid(x[:, half:])


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class NoiseInjection(nn.Module):
    """Adds ``weight * N(0, 1)`` noise, one map per sample broadcast over channels."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, feat: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        shape = (feat.shape[0], 1, feat.shape[2], feat.shape[3])
        if rng is None:
            noise = torch.randn(shape)
        else:
            noise = torch.randn(shape, generator=rng, device=rng.device)
        return feat + self.weight * noise.to(device=feat.device, dtype=feat.dtype)


class Stage(nn.Sequential):
    """A sequential block whose noise layers take the caller's RNG."""

    def forward(self, x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        for layer in self:
            x = layer(x, rng) if isinstance(layer, NoiseInjection) else layer(x)
        return x


class SEBlock(nn.Module):
    """Skip-layer excitation: a low-resolution map gates the channels of a high-resolution one."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), sn_conv(cin, cout, 4), Swish(),
            sn_conv(cout, cout, 1), nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.main(small)


class InitLayer(nn.Module):
    """z -> 4x4 feature map (transposed conv, BN, GLU)."""

    def __init__(self, nz: int, channels: int) -> None:
        super().__init__()
        self.init = nn.Sequential(
            spectral_norm(nn.ConvTranspose2d(nz, channels * 2, 4, 1, 0, bias=False)),
            nn.BatchNorm2d(channels * 2), GLU(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.init(z.view(z.shape[0], -1, 1, 1))


def up_block(cin: int, cout: int) -> Stage:
    """Nearest x2, 3x3 conv to twice the width, BN, GLU."""
    return Stage(nn.Upsample(scale_factor=2, mode="nearest"), sn_conv(cin, cout * 2, 3, 1, 1),
                 nn.BatchNorm2d(cout * 2), GLU())


def up_block_noisy(cin: int, cout: int) -> Stage:
    """Two conv layers with noise injection before each BN (the official "Comp" block)."""
    return Stage(
        nn.Upsample(scale_factor=2, mode="nearest"), sn_conv(cin, cout * 2, 3, 1, 1),
        NoiseInjection(), nn.BatchNorm2d(cout * 2), GLU(),
        sn_conv(cout, cout * 2, 3, 1, 1), NoiseInjection(), nn.BatchNorm2d(cout * 2), GLU(),
    )


class Generator(nn.Module):
    """z (B, nz) -> [image at ``im_size``, image at 128], values about [-1, 1].

    As official, only the 1024 generator ends with tanh; at 256 and 512 the outputs are the
    raw convolution outputs.
    """

    def __init__(self, ngf: int = 64, nz: int = 256, nc: int = 3, im_size: int = 1024) -> None:
        super().__init__()
        if im_size not in SIZES:
            raise ValueError(f"FastGAN generates at {SIZES}, not {im_size}")
        ch = widths(G_MULT, ngf)
        self.im_size = im_size
        self.nz = nz
        self.init = InitLayer(nz, ch[4])
        self.feat_8 = up_block_noisy(ch[4], ch[8])
        self.feat_16 = up_block(ch[8], ch[16])
        self.feat_32 = up_block_noisy(ch[16], ch[32])
        self.feat_64 = up_block(ch[32], ch[64])
        self.feat_128 = up_block_noisy(ch[64], ch[128])
        self.feat_256 = up_block(ch[128], ch[256])
        self.se_64 = SEBlock(ch[4], ch[64])
        self.se_128 = SEBlock(ch[8], ch[128])
        self.se_256 = SEBlock(ch[16], ch[256])
        self.to_128 = sn_conv(ch[128], nc, 1)
        self.to_big = sn_conv(ch[im_size], nc, 3, 1, 1)
        if im_size > 256:
            self.feat_512 = up_block_noisy(ch[256], ch[512])
            self.se_512 = SEBlock(ch[32], ch[512])
        if im_size > 512:
            self.feat_1024 = up_block(ch[512], ch[1024])

    def forward(
        self, z: torch.Tensor, rng: torch.Generator | None = None
    ) -> list[torch.Tensor]:
        f4 = self.init(z)
        f8 = self.feat_8(f4, rng)
        f16 = self.feat_16(f8)
        f32 = self.feat_32(f16, rng)
        f64 = self.se_64(f4, self.feat_64(f32))
        f128 = self.se_128(f8, self.feat_128(f64, rng))
        f256 = self.se_256(f16, self.feat_256(f128))
        if self.im_size == 256:
            return [self.to_big(f256), self.to_128(f128)]
        f512 = self.se_512(f32, self.feat_512(f256, rng))
        if self.im_size == 512:
            return [self.to_big(f512), self.to_128(f128)]
        f1024 = self.feat_1024(f512)
        return [torch.tanh(self.to_big(f1024)), torch.tanh(self.to_128(f128))]


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(sn_conv(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout),
                                  nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class DownBlockComp(nn.Module):
    """Stride-2 residual-style block: mean of a two-conv path and a pooled 1x1 path."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            sn_conv(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2),
            sn_conv(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2),
        )
        self.direct = nn.Sequential(nn.AvgPool2d(2, 2), sn_conv(cin, cout, 1),
                                    nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class SimpleDecoder(nn.Module):
    """Self-supervision decoder: any map -> 8x8 pool -> four x2 up blocks -> 128x128 RGB."""

    def __init__(self, cin: int, nc: int = 3) -> None:
        super().__init__()
        ch = widths(G_MULT, DECODER_WIDTH)
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(8),
            up_block(cin, ch[16]), up_block(ch[16], ch[32]),
            up_block(ch[32], ch[64]), up_block(ch[64], ch[128]),
            sn_conv(ch[128], nc, 3, 1, 1), nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


QUADRANTS = ((slice(0, 8), slice(0, 8)), (slice(0, 8), slice(8, 16)),
             (slice(8, 16), slice(0, 8)), (slice(8, 16), slice(8, 16)))


class Discriminator(nn.Module):
    """Two-branch discriminator with reconstruction decoders.

    ``forward(images, label, part)``: ``images`` is a tensor (resized nearest to ``im_size``
    and 128 here, as official for real images) or the generator's ``[big, small]`` list.
    Returns the concatenated logits (25 per image from each branch); for ``label == "real"``
    also the reconstructions ``[whole (from 8x8), small (from the 128 branch), quadrant
    ``part`` of the 16x16 map]``, each 128x128.
    """

    def __init__(self, ndf: int = 64, nc: int = 3, im_size: int = 1024) -> None:
        super().__init__()
        if im_size not in SIZES:
            raise ValueError(f"FastGAN discriminates at {SIZES}, not {im_size}")
        ch = widths(D_MULT, ndf)
        self.ndf = ndf
        self.im_size = im_size
        if im_size == 1024:
            self.down_from_big = nn.Sequential(
                sn_conv(nc, ch[1024], 4, 2, 1), nn.LeakyReLU(0.2),
                sn_conv(ch[1024], ch[512], 4, 2, 1), nn.BatchNorm2d(ch[512]), nn.LeakyReLU(0.2),
            )
        elif im_size == 512:
            self.down_from_big = nn.Sequential(sn_conv(nc, ch[512], 4, 2, 1), nn.LeakyReLU(0.2))
        else:
            self.down_from_big = nn.Sequential(sn_conv(nc, ch[512], 3, 1, 1), nn.LeakyReLU(0.2))
        self.down_4 = DownBlockComp(ch[512], ch[256])
        self.down_8 = DownBlockComp(ch[256], ch[128])
        self.down_16 = DownBlockComp(ch[128], ch[64])
        self.down_32 = DownBlockComp(ch[64], ch[32])
        self.down_64 = DownBlockComp(ch[32], ch[16])
        self.rf_big = nn.Sequential(sn_conv(ch[16], ch[8], 1), nn.BatchNorm2d(ch[8]),
                                    nn.LeakyReLU(0.2), sn_conv(ch[8], 1, 4))
        self.se_2_16 = SEBlock(ch[512], ch[64])
        self.se_4_32 = SEBlock(ch[256], ch[32])
        self.se_8_64 = SEBlock(ch[128], ch[16])
        self.down_from_small = nn.Sequential(
            sn_conv(nc, ch[256], 4, 2, 1), nn.LeakyReLU(0.2),
            DownBlock(ch[256], ch[128]), DownBlock(ch[128], ch[64]), DownBlock(ch[64], ch[32]),
        )
        self.rf_small = sn_conv(ch[32], 1, 4)
        self.decoder_big = SimpleDecoder(ch[16], nc)
        self.decoder_part = SimpleDecoder(ch[32], nc)
        self.decoder_small = SimpleDecoder(ch[32], nc)

    def forward(
        self, images: torch.Tensor | list[torch.Tensor], label: str, part: int | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if isinstance(images, torch.Tensor):
            images = [F.interpolate(images, size=self.im_size), F.interpolate(images, size=128)]
        f2 = self.down_from_big(images[0])
        f4 = self.down_4(f2)
        f8 = self.down_8(f4)
        f16 = self.se_2_16(f2, self.down_16(f8))
        f32 = self.se_4_32(f4, self.down_32(f16))
        last = self.se_8_64(f8, self.down_64(f32))
        small = self.down_from_small(images[1])
        logits = torch.cat([self.rf_big(last).view(-1), self.rf_small(small).view(-1)])
        if label != "real":
            return logits
        if part not in range(4):
            raise ValueError(f"part must be 0..3 for real images, not {part!r}")
        rows, cols = QUADRANTS[part]
        recs = [self.decoder_big(last), self.decoder_small(small),
                self.decoder_part(f32[:, :, rows, cols])]
        return logits, recs
