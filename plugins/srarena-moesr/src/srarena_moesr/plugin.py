"""Registration of ``moesr-emad2022`` (no torch here: the implementation loads on use)."""

from __future__ import annotations

from srarena import (
    Resources,
    SizeRequirements,
    Source,
    UpscalerSpec,
    WeightFile,
    WeightSet,
    hookimpl,
)

from .checkpoint import OFFICIAL_NAMES, SCALES, filename

SRARENA_API = 1

NAME = "moesr-emad2022"
OFFICIAL_URL = "https://github.com/memad73/MoESR"
DRIVE_URL = "https://drive.google.com/drive/folders/1v7Lthkp-nLwdXGGkqolBgl5H88oNDH6l"
CODE_LICENCE = "MIT (this reimplementation); official code memad73/MoESR states no licence"
WEIGHTS_LICENCE = (
    "no licence stated by the authors (default copyright); fetched from the official "
    "Google Drive folder, not redistributed by srarena"
)

WEIGHTS = WeightSet(
    name=NAME,
    files=tuple(
        WeightFile(
            filename(scale, official),
            # the folder holds datasets and checkpoints/x2, checkpoints/x4 with the same
            # three names: the path ending x<scale>/<name> picks the file
            sources=(Source(kind="gdrive", url=DRIVE_URL, filename=f"x{scale}/{official}"),),
            scales=(scale,),
        )
        for scale in SCALES
        for official in OFFICIAL_NAMES
    ),
    licence=WEIGHTS_LICENCE,
    description="MoESR (Emad et al., WACV 2022) official checkpoints, x2 and x4: the 25 "
    "kernel experts, the Image Sharpness Evaluator (ISE) and the Kernel Estimation Network (KEN)",
    validator="srarena_moesr.checkpoint:validate",
)

SPEC = UpscalerSpec(
    name=NAME,
    factory="srarena_moesr.upscaler:MoESRUpscaler",
    scales=SCALES,
    description=(
        "MoESR: Blind Super-Resolution using Kernel-Aware Mixture of Experts (Emad, Peemen, "
        "Corporaal, WACV 2022; memad73/MoESR), not spandrel's unrelated 'MoESR' architecture. "
        "Runs 25 kernel-specific experts over 85 blur hypotheses, scores them with ISE, "
        "estimates the kernel with KEN, picks and rotates the matching expert, fine-tunes it "
        "on the image (DualSR cycle losses, 1000 iterations by default), then upscales. "
        "8x is x2 then x4, as in the study."
    ),
    size=SizeRequirements(minimum=128),
    fp16=False,
    bf16=False,
    tiling="unsupported",
    weights=WEIGHTS,
    licence=f"code: {CODE_LICENCE}; weights: {WEIGHTS_LICENCE}",
    url=OFFICIAL_URL,
    resources=Resources(memory_gb=4.0),
    options={"iterations": 1000, "crop_size": 128, "real": True, "max_lr": 1e-5},
    side_outputs=("kernel", "kernel_params", "ise_errors"),
    published_results="srarena_moesr:published.json",
)


@hookimpl
def srarena_register_upscalers(register):
    register(SPEC)
