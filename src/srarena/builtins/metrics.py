"""Built-in full-reference metrics: PSNR and SSIM as the SR literature reports them."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import MetricSpec

SRARENA_API = 1

PROTOCOL = (
    "on the Y channel of YCbCr (ITU-R BT.601, as MATLAB's rgb2ycbcr), 8-bit values, "
    "with a border of `scale` pixels cropped from each side"
)


@hookimpl
def srarena_register_metrics(register):
    register(
        MetricSpec(
            name="psnr",
            factory="srarena.metrics.fullref:PSNR",
            kind="full-reference",
            higher_is_better=True,
            min_size=1,
            protocol="PSNR (dB) " + PROTOCOL,
            description="Peak signal-to-noise ratio against the HR ground truth.",
            licence="MIT",
        )
    )
    register(
        MetricSpec(
            name="ssim",
            factory="srarena.metrics.fullref:SSIM",
            kind="full-reference",
            higher_is_better=True,
            min_size=11,
            protocol="SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5) " + PROTOCOL,
            description="Structural similarity against the HR ground truth.",
            licence="MIT",
        )
    )
