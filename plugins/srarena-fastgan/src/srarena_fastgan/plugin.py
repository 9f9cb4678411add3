"""Registers ``fastgan`` (train on the dataset, with its LPIPS VGG16 weights) and
``fastgan-pretrained`` (generate from a checkpoint of the official ``train.py``); no torch
here, the implementation loads on use."""

from __future__ import annotations

from srarena import Resources, Source, UpscalerSpec, WeightFile, WeightSet, hookimpl

SRARENA_API = 1

OFFICIAL_CODE = "https://github.com/odegeasslbc/FastGAN-pytorch"
VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"

# Official defaults (train.py / eval.py); the engine overrides them per run.
OPTIONS: dict[str, object] = {
    "iterations": 50000,  # train.py --iter: iterations 0..50000
    "batch_size": 8,
    "ngf": 64,
    "ndf": 64,
    "nz": 256,
    "policy": "color,translation",
    "save_interval": 5000,
    "generation": "ema-eval",  # or "official": training-mode batches as eval.py
    "eval_batch": 16,  # eval.py --batch, used by generation="official"
}

GENERATION_MODES = ("ema-eval", "official")
GENERATORS = ("ema", "live")
CHOICES = {"generation": GENERATION_MODES, "generator": GENERATORS}
"""The values of the options that take one of a few (bench refuses any other up front)."""

PRETRAINED_OPTIONS: dict[str, object] = {
    "generator": "ema",  # or "live": all_<iter>.pth's trained generator 'g' without its EMA
    **{key: OPTIONS[key] for key in ("generation", "eval_batch")},
}
CHECKPOINT_FILE = "fastgan-checkpoint.pth"

CHECKPOINT = WeightSet(
    name="fastgan-checkpoint",
    files=(
        WeightFile(
            filename=CHECKPOINT_FILE,
            sources=(Source(
                kind="manual", url=OFFICIAL_CODE,
                instructions=(
                    "an all_<iter>.pth or <iter>.pth that the official train.py writes into "
                    "train_results/<name>/models/ (or srarena's fastgan fit); no public "
                    "checkpoints exist for the study's datasets. Add it under this name, or "
                    "pass it with --weights FILE; it is read with torch's weights-only loader"
                ),
                reason="no public file: a checkpoint of your own training",
            ),),
        ),
    ),
    licence=(
        "the terms of whoever trained it (and of its training images); the official FastGAN "
        "code is GPL-3.0"
    ),
    description=(
        "A FastGAN generator checkpoint in the official layout: all_<iter>.pth ('g', 'g_ema', "
        "...) or <iter>.pth ('g' = EMA parameters, what the official eval.py loads)."
    ),
    validator="srarena_fastgan.checkpoint:validate_generator_file",
)

LPIPS_VGG16 = WeightSet(
    name="fastgan-lpips-vgg16",
    files=(
        WeightFile(
            filename="vgg16-397923af.pth",
            sources=(Source(kind="https", url=VGG16_URL),),
        ),
    ),
    licence=(
        "no explicit licence: torchvision (BSD-3-Clause) publishes its ImageNet weights noting "
        "they may carry terms from the training data (ImageNet: non-commercial research)"
    ),
    description=(
        "VGG16 trunk of the LPIPS reconstruction loss FastGAN trains with; needed by fit only. "
        "torchvision checks that the file's sha256 starts with 397923af, and so does srarena."
    ),
    validator="srarena_fastgan.checkpoint:validate",
)


COMMON: dict[str, object] = dict(
    mode="generative", input_range=(-1.0, 1.0), tiling="unsupported", fp16=False, bf16=False,
    url=OFFICIAL_CODE, generation_options=("generation", "eval_batch"))
"""What FastGAN's two upscalers share."""


@hookimpl
def srarena_register_upscalers(register):
    register(
        UpscalerSpec(
            name="fastgan",
            factory="srarena_fastgan.upscaler:FastGANUpscaler",
            description=(
                "FastGAN (Liu et al., ICLR 2021): a few-shot unconditional GAN trained on the "
                "dataset's LR images resized (bilinear) to the target size, then sampled from "
                "seeds. Not paired with the inputs."
            ),
            weights=LPIPS_VGG16,
            licence=(
                "plugin code MIT (independent reimplementation); official FastGAN code GPL-3.0; "
                "LPIPS linear heads BSD-2-Clause (lpips package); VGG16 weights: see weights"
            ),
            resources=Resources(gpus=1.0, memory_gb=24.0),
            options=dict(OPTIONS),
            option_choices={"generation": GENERATION_MODES},
            published_results="srarena_fastgan:published.json",
            **COMMON,
        )
    )
    register(
        UpscalerSpec(
            name="fastgan-pretrained",
            factory="srarena_fastgan.upscaler:FastGANPretrained",
            description=(
                "FastGAN (Liu et al., ICLR 2021) generating from a checkpoint of the official "
                "train.py instead of training: its EMA generator by default (g_ema of "
                "all_<iter>.pth, or the g of <iter>.pth, as the official eval.py), "
                "-o fastgan-pretrained.generator=live for all_<iter>.pth's trained g. Needs "
                "only the checkpoint (weight set fastgan-checkpoint, or --weights FILE); its "
                "resolution must equal the generated size."
            ),
            weights=CHECKPOINT,
            licence=(
                "plugin code MIT (independent reimplementation); official FastGAN code "
                "GPL-3.0; weights: see weights"
            ),
            resources=Resources(memory_gb=4.0),
            options=dict(PRETRAINED_OPTIONS),
            option_choices=CHOICES,
            **COMMON,
        )
    )
