"""The curated zoo: well-known blind / real-world SR models at their official homes (no torch).

Each entry is the official file under its official name, from where its authors publish it
(a GitHub release; the authors' Google Drive folder for HAT and DAT, where ``srarena weights
fetch`` finds the file by its name, with their Baidu share as the manual alternative), with
the licence of the repository that publishes it. No upstream publishes a sha256 for these
files: a shipped record (``srarena/weights/checksums.json``) checks them where srarena has
one, else the sha256 of the first copy installed is recorded (trust on first use). The
facts (architecture, scale, size requirements, tiling) are what spandrel 0.4.2 reports for
the architecture with the official hyperparameters; the validator checks architecture and
scale when a file is fetched or added. fp16/bf16 are not declared: they are only declared
after the agreement check that ``srarena weights add spandrel FILE`` makes (README:
"Precision").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srarena import Source, UpscalerSpec

from .facts import model_spec

REAL_ESRGAN = "https://github.com/xinntao/Real-ESRGAN"
REAL_ESRGAN_RELEASES = f"{REAL_ESRGAN}/releases/download"
KAIR_RELEASE = "https://github.com/cszn/KAIR/releases/download/v1.0"
SWINIR_RELEASE = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0"
HAT_DRIVE = "https://drive.google.com/drive/folders/1HpmReFfoUqUbnAOQ7rvOeNU3uf_m69w0"
HAT_BAIDU = "https://pan.baidu.com/s/1u2r4Lc2_EEeQqra2-w85Xg"
DAT_DRIVE = "https://drive.google.com/drive/folders/1iBdf_-LVZuz_PAbFtuxSKd_11RL1YKxM"
DAT_BAIDU = "https://pan.baidu.com/s/1rgkCyqEJdZlHvQ6_Dwb3rA?pwd=4rfr"

REAL_ESRGAN_LICENCE = ("BSD-3-Clause (xinntao/Real-ESRGAN, which publishes the weights in "
                       "its GitHub releases)")
BSRGAN_LICENCE = ("Apache-2.0 (cszn/BSRGAN); the file is published in cszn/KAIR's release "
                  "v1.0 (KAIR: MIT)")
SWINIR_LICENCE = "Apache-2.0 (JingyunLiang/SwinIR, which publishes the weights in release v0.0)"
HAT_LICENCE = "Apache-2.0 (XPixelGroup/HAT; weights on the authors' Google Drive / Baidu)"
DAT_LICENCE = "Apache-2.0 (zhengchen1999/DAT; weights on the authors' Google Drive / Baidu)"


def _facts(arch: str, name: str, scale: int, tags: tuple[str, ...], minimum: int,
           multiple_of: int = 1, tiling: str = "supported", half: bool = True) -> dict[str, Any]:
    return {
        "architecture": arch, "architecture_name": name, "tags": list(tags), "purpose": "SR",
        "scale": scale, "input_channels": 3, "output_channels": 3, "supports_half": half,
        "supports_bfloat16": True,
        "size_requirements": {"minimum": minimum, "multiple_of": multiple_of, "square": False},
        "tiling": tiling, "spandrel": "0.4.2",
    }


RRDB = ("64nf", "23nb")


@dataclass(frozen=True)
class ZooModel:
    """One official model file: its upscaler is ``spandrel:<name>``."""

    name: str
    filename: str
    sources: tuple[Source, ...]
    facts: dict[str, Any]
    licence: str
    paper: str
    url: str
    note: str = ""

    def spec(self) -> UpscalerSpec:
        text = f"{self.paper}. Official file {self.filename}." + (
            f" {self.note}" if self.note else "")
        return model_spec(self.name, [{**self.facts, "filename": self.filename}],
                          {self.filename: self.sources}, description=text,
                          weights_licence=self.licence, url=self.url, fp16=False, bf16=False)


def _https(url: str) -> tuple[Source, ...]:
    return (Source(kind="https", url=url),)


def _drive(drive: str, baidu: str, code: str, filename: str) -> tuple[Source, ...]:
    """The authors' Google Drive folder (the file found in it by name when fetched), then
    their Baidu share, which needs a browser."""
    access = f" (access code {code})" if code else ""
    return (Source(kind="gdrive", url=drive, filename=filename),
            Source(kind="manual", url=baidu, instructions=f"file {filename}{access}",
                   reason="needs a browser (Baidu)"))


ZOO: tuple[ZooModel, ...] = (
    ZooModel(
        "realesrgan-x4plus", "RealESRGAN_x4plus.pth",
        _https(f"{REAL_ESRGAN_RELEASES}/v0.1.0/RealESRGAN_x4plus.pth"),
        _facts("ESRGAN", "ESRGAN", 4, RRDB, 2), REAL_ESRGAN_LICENCE,
        "Real-ESRGAN (Wang et al., ICCV Workshops 2021), RRDBNet x4 for real-world images",
        REAL_ESRGAN),
    ZooModel(
        "realesrgan-x2plus", "RealESRGAN_x2plus.pth",
        _https(f"{REAL_ESRGAN_RELEASES}/v0.2.1/RealESRGAN_x2plus.pth"),
        _facts("ESRGAN", "ESRGAN", 2, (*RRDB, "unshuffle"), 4, multiple_of=4),
        REAL_ESRGAN_LICENCE,
        "Real-ESRGAN (Wang et al., ICCV Workshops 2021), RRDBNet x2 (pixel-unshuffle input)",
        REAL_ESRGAN),
    ZooModel(
        "realesr-general-x4v3", "realesr-general-x4v3.pth",
        _https(f"{REAL_ESRGAN_RELEASES}/v0.2.5.0/realesr-general-x4v3.pth"),
        _facts("Compact", "RealESRGAN Compact", 4, ("64nf", "32nc"), 0), REAL_ESRGAN_LICENCE,
        "Real-ESRGAN general v3 (SRVGGNetCompact x4, 'S' size), the small general-scene model",
        REAL_ESRGAN,
        note="The official script blends it with realesr-general-wdn-x4v3 for its denoise "
             "strength option; this is the model itself (denoise strength 1)."),
    ZooModel(
        "bsrgan-x4", "BSRGAN.pth", _https(f"{KAIR_RELEASE}/BSRGAN.pth"),
        _facts("ESRGAN", "ESRGAN", 4, RRDB, 2), BSRGAN_LICENCE,
        "BSRGAN (Zhang et al., ICCV 2021), RRDBNet x4 trained with a practical degradation "
        "model", "https://github.com/cszn/BSRGAN"),
    ZooModel(
        "bsrgan-x2", "BSRGANx2.pth", _https(f"{KAIR_RELEASE}/BSRGANx2.pth"),
        _facts("ESRGAN", "ESRGAN", 2, RRDB, 2), BSRGAN_LICENCE,
        "BSRGAN (Zhang et al., ICCV 2021), RRDBNet x2", "https://github.com/cszn/BSRGAN"),
    ZooModel(
        "swinir-m-x4-real", "003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x4_GAN.pth",
        _https(f"{SWINIR_RELEASE}/003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x4_GAN.pth"),
        _facts("SwinIR", "SwinIR", 4, ("medium", "s64w8", "64nf", "180dim", "1conv",
                                       "1unshuf"), 16, tiling="discouraged", half=False),
        SWINIR_LICENCE,
        "SwinIR (Liang et al., ICCV Workshops 2021), real-world SR, middle size, GAN",
        "https://github.com/JingyunLiang/SwinIR"),
    ZooModel(
        "swinir-l-x4-real", "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth",
        _https(f"{SWINIR_RELEASE}/003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"),
        _facts("SwinIR", "SwinIR", 4, ("large", "s64w8", "64nf", "240dim", "3conv",
                                       "1unshuf"), 16, tiling="discouraged", half=False),
        SWINIR_LICENCE,
        "SwinIR (Liang et al., ICCV Workshops 2021), real-world SR, large size, trained on "
        "more data, GAN", "https://github.com/JingyunLiang/SwinIR"),
    ZooModel(
        "hat-real-x4", "Real_HAT_GAN_SRx4.pth",
        _drive(HAT_DRIVE, HAT_BAIDU, "qyrl", "Real_HAT_GAN_SRx4.pth"),
        _facts("HAT", "HAT", 4, ("medium", "s64w16", "64nf", "180dim", "1conv"), 16,
               half=False), HAT_LICENCE,
        "HAT (Chen et al., CVPR 2023), GAN model for real-world SR (better fidelity)",
        "https://github.com/XPixelGroup/HAT"),
    ZooModel(
        "hat-real-x4-sharper", "Real_HAT_GAN_SRx4_sharper.pth",
        _drive(HAT_DRIVE, HAT_BAIDU, "qyrl", "Real_HAT_GAN_SRx4_sharper.pth"),
        _facts("HAT", "HAT", 4, ("medium", "s64w16", "64nf", "180dim", "1conv"), 16,
               half=False), HAT_LICENCE,
        "HAT (Chen et al., CVPR 2023), GAN model for real-world SR (sharper, better "
        "perceptual quality)", "https://github.com/XPixelGroup/HAT"),
    ZooModel(
        "dat-x4", "DAT_x4.pth", _drive(DAT_DRIVE, DAT_BAIDU, "", "DAT_x4.pth"),
        _facts("DAT", "DAT", 4, ("medium", "s64|8x32", "64nf", "180dim", "4.0ef", "1conv"), 16,
               half=False), DAT_LICENCE,
        "DAT (Chen et al., ICCV 2023), x4", "https://github.com/zhengchen1999/DAT",
        note="Trained on bicubic downsampling (DF2K), not a blind model: the authors publish "
             "no real-world DAT; a reference point for how far bicubic training carries."),
)

BY_NAME = {model.name: model for model in ZOO}
BY_FILE = {model.filename: model for model in ZOO}


def expected(filename: str) -> tuple[str, int] | None:
    """(architecture, scale) a zoo file must have, None when it is no zoo file."""
    model = BY_FILE.get(filename)
    return None if model is None else (model.facts["architecture"], model.facts["scale"])


def specs() -> list[UpscalerSpec]:
    return [model.spec() for model in ZOO]
