"""Registration of ``blindsr`` and of ``srarena blindsr-train`` (no torch imported here)."""

from __future__ import annotations

from typing import Any

from srarena import Resources, Source, UpscalerSpec, WeightFile, WeightSet, hookimpl

SRARENA_API = 1

NAME = "blindsr"
OFFICIAL_URL = "https://github.com/sunreef/BlindSR"
OFFICIAL_COMMIT = "6e67107620ef7988e5de122ddf503edf6178998d"
RAW = f"https://raw.githubusercontent.com/sunreef/BlindSR/{OFFICIAL_COMMIT}/checkpoints/x2_blind_sr"
GIT_BLOBS = {
    "generator.pth": "182808d209578ae6927d643d346468fbad192f36",
    "discriminator.pth": "6207abf3681abfbe7be62dfcd80c030e143b015d",
}
CODE_LICENCE = "MIT (this reimplementation); official code sunreef/BlindSR is GPL-3.0"
WEIGHTS_LICENCE = "GPL-3.0 (committed in the GPL-3.0 repository sunreef/BlindSR)"

WEIGHTS = WeightSet(
    name="blindsr-x2",
    files=tuple(
        WeightFile(
            filename,
            sources=(
                Source(kind="https", url=f"{RAW}/{filename}"),
                Source(
                    kind="manual",
                    url=f"{OFFICIAL_URL}/tree/{OFFICIAL_COMMIT}/checkpoints/x2_blind_sr",
                    instructions=f"checkpoints/x2_blind_sr/{filename} (git blob {blob})",
                ),
            ),
        )
        for filename, blob in GIT_BLOBS.items()
    ),
    licence=WEIGHTS_LICENCE,
    description="sunreef/BlindSR x2 generator and discriminator (official layout: dict with "
    "'step', '<net>_state_dict', 'optimizer_state_dict'); git blob ids "
    + ", ".join(f"{f} {b}" for f, b in GIT_BLOBS.items()),
    validator="srarena_blindsr.checkpoint:validate",
)

SPEC = UpscalerSpec(
    name=NAME,
    factory="srarena_blindsr.upscaler:BlindSRUpscaler",
    scales=(2,),
    description=(
        "BlindSR (Cornillère, Djelouah, Wang, Sorkine-Hornung, Schroers, SIGGRAPH Asia 2019) "
        "as in the authors' independent reimplementation sunreef/BlindSR: a kernel-conditioned "
        "x2 generator and a discriminator that predicts its error; at test time a 144-kernel "
        "grid search then 50 epochs of Adam over (sigma_x, sigma_y, theta), one step per "
        "patch, estimate one blur kernel for the image. x2 only: 8x is three x2 passes."
    ),
    fp16=False,
    bf16=False,
    tiling="internal",
    weights=WEIGHTS,
    licence=f"code: {CODE_LICENCE}; weights: {WEIGHTS_LICENCE}",
    url=OFFICIAL_URL,
    resources=Resources(memory_gb=4.0),
    options={"patch_size": 200, "epochs": 50, "batch": 1},
    side_outputs=("kernel",),
    published_results="srarena_blindsr:published.json",
)


@hookimpl
def srarena_register_upscalers(register: Any) -> None:
    register(SPEC)


@hookimpl
def srarena_register_commands(app: Any) -> None:
    from .cli import register

    register(app)
