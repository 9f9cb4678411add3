"""Built-in classical upscalers (Pillow resampling; no weights, no torch)."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import UpscalerSpec

SRARENA_API = 1

CLASSICAL = {
    "nearest": "Pillow Image.resize with Resampling.NEAREST",
    "bilinear": "Pillow Image.resize with Resampling.BILINEAR (antialiased triangle filter)",
    "bicubic": "Pillow Image.resize with Resampling.BICUBIC (Keys cubic, a = -0.5)",
    "lanczos": "Pillow Image.resize with Resampling.LANCZOS (Lanczos-3)",
}


@hookimpl
def srarena_register_upscalers(register):
    for name, how in CLASSICAL.items():
        register(
            UpscalerSpec(
                name=name,
                factory="srarena.upscalers.classical:ClassicalUpscaler",
                description=f"Classical interpolation: {how}, on each RGB channel in float32.",
                scales=None,
                tiling="internal",
                fp16=False,
                licence="MIT (srarena); Pillow is MIT-CMU",
                options={"filter": name},
                fixed_options=("filter",),
                batch_size=8,
            )
        )
