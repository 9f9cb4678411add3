"""The official DAN configurations (from the test options of greatlog/DAN); no torch here.

Every shipped test configuration unrolls 4 loops and uses a 64-channel Restorer. DANv1 has
40 conditional residual blocks; DANv2 5 groups of 10 dual-path blocks. Setting 1 (isotropic
Gaussian kernels) exists at x2, x3 and x4; setting 2 (anisotropic kernels, DIV2KRK) at x2
and x4. ``kernel_size`` is the side of the blur kernel and ``code_len`` the length of its
PCA code; each configuration names its checkpoint and the PCA matrix file its options load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARCH_OPTIONS = ("nf", "nb", "ng", "loop")
"""Options that replace the official network settings (for checkpoints trained otherwise)."""

OFFICIAL_URL = "https://github.com/greatlog/DAN"
OFFICIAL_COMMIT = "4c4de00714e2a3ea541071da182a4e792128d128"
VERSIONS = ("v1", "v2")
SETTINGS = {1: (2, 3, 4), 2: (2, 4)}


@dataclass(frozen=True)
class Variant:
    """One official configuration: a version, a setting and a scale."""

    version: str
    setting: int
    scale: int
    nf: int
    nb: int
    ng: int
    kernel_size: int
    code_len: int
    loop: int
    pca_file: str

    @property
    def checkpoint(self) -> str:
        """The official checkpoint file name, e.g. ``danv1_x2_setting1.pth``."""
        return f"dan{self.version}_x{self.scale}_setting{self.setting}.pth"

    @property
    def label(self) -> str:
        return f"DAN{self.version} setting {self.setting} x{self.scale}"


def pca_file(setting: int, scale: int) -> str:
    """The PCA matrix file of a configuration (the same names under DANv1/ and DANv2/)."""
    return "pca_matrix.pth" if setting == 1 else f"pca_aniso_matrix_x{scale}.pth"


def pca_shape(version: str, name: str) -> tuple[int, int]:
    """(kernel_size², code_len) of an official PCA matrix file."""
    if name == "pca_aniso_matrix_x2.pth":
        return (121, 10)
    if name == "pca_aniso_matrix_x4.pth" and version == "v2":
        return (961, 15)
    return (441, 10)


def variant(version: str, setting: int, scale: int) -> Variant:
    """The official configuration; ``ValueError`` for one the authors did not release."""
    if version not in VERSIONS:
        raise ValueError(f"DAN version {version!r} does not exist; use one of {VERSIONS}")
    if setting not in SETTINGS:
        raise ValueError(f"DAN setting {setting!r} does not exist; use 1 or 2")
    if scale not in SETTINGS[setting]:
        raise ValueError(
            f"DAN{version} setting {setting} has no x{scale} model; official scales are "
            f"{', '.join(f'x{s}' for s in SETTINGS[setting])}"
        )
    name = pca_file(setting, scale)
    k2, code_len = pca_shape(version, name)
    return Variant(
        version=version,
        setting=setting,
        scale=scale,
        nf=64,
        nb=40 if version == "v1" else 10,
        ng=0 if version == "v1" else 5,
        kernel_size=round(k2**0.5),
        code_len=code_len,
        loop=4,
        pca_file=name,
    )


_CHECKPOINT = re.compile(r"dan(v[12])_x(\d)_setting([12])\.pth")


def parse_checkpoint_name(filename: str) -> Variant | None:
    """The configuration an official checkpoint file name stands for, or None."""
    match = _CHECKPOINT.fullmatch(filename)
    if match is None:
        return None
    return variant(match.group(1), int(match.group(3)), int(match.group(2)))
