"""Registers ``apa`` (train on the dataset) and ``apa-pretrained`` (generate from an
official snapshot); no torch here, the implementation loads on use."""

from __future__ import annotations

from srarena import Resources, Source, UpscalerSpec, WeightFile, WeightSet, hookimpl

from .config import GENERATE_OPTIONS, NOISE_MODES, TRAIN_OPTIONS

SRARENA_API = 1

OFFICIAL_CODE = "https://github.com/EndlessSora/DeceiveD"
CODE_LICENCE = (
    "plugin code MIT (srarena's own implementation); the official DeceiveD/StyleGAN2-ADA "
    "code is under NVIDIA's Source Code License (non-commercial use only) and is not "
    "included"
)
SNAPSHOT_LICENCE = (
    "official snapshots embed NVIDIA's StyleGAN2-ADA source code, under NVIDIA's Source "
    "Code License (non-commercial research/evaluation use only); the weights' own terms are "
    "those of whoever trained them (and of their training images)"
)

SNAPSHOT = WeightSet(
    name="apa-snapshot",
    files=(
        WeightFile(
            "network-snapshot.pkl",
            sources=(
                Source(
                    kind="manual",
                    url=OFFICIAL_CODE,
                    instructions=(
                        "a network-snapshot-*.pkl written by DeceiveD's (or StyleGAN2-ADA's) "
                        "train.py, e.g. the study's APA training; no public snapshots exist "
                        "for the study's datasets. Add it under this name; srarena reads it "
                        "without running any code from it"
                    ),
                    reason="no public file: a snapshot of your own training",
                ),
            ),
        ),
    ),
    licence=SNAPSHOT_LICENCE,
    description=(
        "An official APA/StyleGAN2-ADA network snapshot; its EMA generator (G_ema) is "
        "converted to srarena's modules. Its resolution must equal the generated size "
        "(1024 for the study's 8x of 128² inputs)."
    ),
    validator="srarena_apa.checkpoint:validate",
)

DESCRIPTION = (
    "APA, Deceive D: Adaptive Pseudo Augmentation (Jiang et al., NeurIPS 2021): "
    "StyleGAN2-ADA whose discriminator sees, with an adaptive probability p, the "
    "generator's fakes in place of real images. A few-shot unconditional GAN trained on "
    "the dataset's images resized (Lanczos) to the target size, then sampled by seed as "
    "generate.py (seed1000.png...). Not paired with the inputs."
)


@hookimpl
def srarena_register_upscalers(register):
    register(
        UpscalerSpec(
            name="apa",
            factory="srarena_apa.upscaler:ApaGenerator",
            mode="generative",
            description=DESCRIPTION + " Training needs a CUDA GPU (days at 1024²).",
            input_range=(-1.0, 1.0),
            tiling="unsupported",
            fp16=False,
            bf16=False,
            licence=CODE_LICENCE,
            url=OFFICIAL_CODE,
            resources=Resources(gpus=1.0, memory_gb=8.0, needs_gpu=True),
            options={**TRAIN_OPTIONS, **GENERATE_OPTIONS},
            option_choices={"noise_mode": NOISE_MODES},
            published_results="srarena_apa:published.json",
        )
    )
    register(
        UpscalerSpec(
            name="apa-pretrained",
            factory="srarena_apa.upscaler:ApaSnapshotGenerator",
            mode="generative",
            description=DESCRIPTION + " This variant skips training: it generates from a "
            "user-supplied official network snapshot (weight set apa-snapshot).",
            input_range=(-1.0, 1.0),
            tiling="unsupported",
            fp16=False,
            bf16=False,
            weights=SNAPSHOT,
            licence=f"code: {CODE_LICENCE}; weights: {SNAPSHOT_LICENCE}",
            url=OFFICIAL_CODE,
            resources=Resources(memory_gb=4.0),
            options=dict(GENERATE_OPTIONS),
            option_choices={"noise_mode": NOISE_MODES},
            published_results="srarena_apa:published.json",
        )
    )
