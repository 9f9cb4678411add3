"""Registration of the DAN upscalers (no torch here: the implementation loads on use).

Four upscalers, one per official (version, setting): ``dan-v1`` and ``dan-v2`` (setting 1,
isotropic kernels, x2/x3/x4; ``dan-v1`` is the study's most likely choice) and
``dan-v1-setting2`` and ``dan-v2-setting2`` (anisotropic kernels, x2/x4). Each has a weight
set of the same name holding the official checkpoint files under their official names and
the PCA matrix file(s) its official test options load.
"""

from __future__ import annotations

from srarena import Resources, Source, UpscalerSpec, WeightFile, WeightSet, hookimpl

from .config import ARCH_OPTIONS, OFFICIAL_COMMIT, OFFICIAL_URL, SETTINGS, pca_file, variant

SRARENA_API = 1

DRIVE_URL = "https://drive.google.com/drive/folders/1aOaxXFfMAM6GvvPz56lzUwVmg7BMM_mR"
BAIDU_URL = "https://pan.baidu.com/s/15843FMaiGoREB-8sdmJc4g"
RAW_URL = f"https://raw.githubusercontent.com/greatlog/DAN/{OFFICIAL_COMMIT}/pca_matrix"
CODE_LICENCE = (
    "MIT (this reimplementation); the official code greatlog/DAN publishes no licence "
    "(default copyright)"
)
WEIGHTS_LICENCE = (
    "no licence published by the authors (default copyright): fetched from the official "
    "Google Drive folder (or BaiduYun by hand); srarena does not redistribute them. The PCA "
    "matrices come from the official repository, which publishes no licence either"
)
PAPERS = {
    "v1": "Luo et al., Unfolding the Alternating Optimization for Blind Super Resolution, "
    "NeurIPS 2020",
    "v2": "Luo et al., End-to-end Alternating Optimization for Blind Super Resolution, "
    "arXiv 2105.06878",
}
SETTING_TEXT = {
    1: "setting 1 (isotropic Gaussian kernels)",
    2: "setting 2 (anisotropic kernels, DIV2KRK)",
}
# (size, sha256) of the official PCA files at OFFICIAL_COMMIT; DANv1 and DANv2 hold the same
# pca_matrix.pth and pca_aniso_matrix_x2.pth; DANv1's pca_aniso_matrix_x4.pth equals its
# pca_matrix.pth, DANv2's is a 961x15 matrix.
PCA_FILES = {
    ("v1", "pca_matrix.pth"): (
        17971, "d9437eaf6b55a819797184998bdaeab81d42d91737a6bff8d29da230affa60ce"),
    ("v1", "pca_aniso_matrix_x2.pth"): (
        5170, "0eceb41f99e96335016db3898687d75a0da8485da425cf7334b7c47e221a4e93"),
    ("v1", "pca_aniso_matrix_x4.pth"): (
        17971, "d9437eaf6b55a819797184998bdaeab81d42d91737a6bff8d29da230affa60ce"),
    ("v2", "pca_matrix.pth"): (
        17971, "d9437eaf6b55a819797184998bdaeab81d42d91737a6bff8d29da230affa60ce"),
    ("v2", "pca_aniso_matrix_x2.pth"): (
        5170, "0eceb41f99e96335016db3898687d75a0da8485da425cf7334b7c47e221a4e93"),
    ("v2", "pca_aniso_matrix_x4.pth"): (
        58354, "f3645e84a601e9ffed2f301e8d37a3676c8b03e89c79bd3e445f4fec5ebd0f62"),
}


def upscaler_name(version: str, setting: int) -> str:
    return f"dan-{version}" + ("" if setting == 1 else "-setting2")


def _checkpoint_file(version: str, setting: int, scale: int) -> WeightFile:
    name = variant(version, setting, scale).checkpoint
    folder = f"DAN{version}"
    return WeightFile(
        name,
        sources=(
            # found by its name anywhere in the folder (its subfolder, DANv1/DANv2 as the
            # README's layout suggests, is not knowable without listing it)
            Source(kind="gdrive", url=DRIVE_URL, filename=name),
            Source(kind="manual", url=BAIDU_URL, instructions=f"password cbjv, file "
                   f"{folder}/{name}", reason="needs a browser (Baidu)"),
        ),
        scales=(scale,),
    )


def _pca_file(version: str, name: str, scales: tuple[int, ...]) -> WeightFile:
    size, sha256 = PCA_FILES[(version, name)]
    return WeightFile(
        name,
        sources=(Source(kind="https", url=f"{RAW_URL}/DAN{version}/{name}"),),
        sha256=sha256,
        size=size,
        scales=scales,
    )


def weight_set(version: str, setting: int) -> WeightSet:
    """The official files of one (version, setting): a checkpoint per scale, the PCA file(s)."""
    scales = SETTINGS[setting]
    pcas: dict[str, tuple[int, ...]] = {}
    for scale in scales:
        pcas[pca_file(setting, scale)] = pcas.get(pca_file(setting, scale), ()) + (scale,)
    return WeightSet(
        name=upscaler_name(version, setting),
        files=tuple(_checkpoint_file(version, setting, s) for s in scales)
        + tuple(_pca_file(version, name, used) for name, used in pcas.items()),
        licence=WEIGHTS_LICENCE,
        description=f"DAN{version} {SETTING_TEXT[setting]}: official checkpoints "
        f"({', '.join(f'x{s}' for s in scales)}) and PCA matrix",
        validator=f"srarena_dan.checkpoint:validate_{version}",
    )


def spec(version: str, setting: int) -> UpscalerSpec:
    """The upscaler of one official (version, setting)."""
    return UpscalerSpec(
        name=upscaler_name(version, setting),
        factory="srarena_dan.upscaler:DANUpscaler",
        scales=SETTINGS[setting],
        description=(
            f"DAN{version} ({PAPERS[version]}), {SETTING_TEXT[setting]}: a Restorer and a "
            "kernel Estimator alternate 4 times from a Dirac kernel; the last SR is the "
            "output, the estimated blur kernel a side output. Output rounded to 8 bits as "
            "the official inference script writes it. 8x is x2 then x4, as in the study."
        ),
        fp16=False,
        bf16=False,
        tiling="discouraged",
        weights=weight_set(version, setting),
        licence=f"code: {CODE_LICENCE}; weights: {WEIGHTS_LICENCE}",
        url=OFFICIAL_URL,
        resources=Resources(memory_gb=4.0),
        options={"version": version, "setting": setting, "quantize": True},
        fixed_options=("version", "setting"),
        extra_options=ARCH_OPTIONS,
        side_outputs=("kernel", "kernel_code"),
        published_results="srarena_dan:published.json",
    )


SPECS = tuple(spec(version, setting) for version in ("v1", "v2") for setting in (1, 2))


@hookimpl
def srarena_register_upscalers(register):
    for item in SPECS:
        register(item)
