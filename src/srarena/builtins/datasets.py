"""Built-in dataset sources: the embedded samples, folders, the study layout, degraded HR,
and the zoo's benchmarks (DIV2KRK, Gaussian-8)."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..specs import DatasetSpec

SRARENA_API = 1


@hookimpl
def srarena_register_datasets(register):
    register(
        DatasetSpec(
            name="samples",
            factory="srarena.datasets.samples:SampleDataset",
            description=(
                "Embedded real photographs of five domains (People, Fauna, Food, Astronomy, "
                "Medical) with HR ground truth; LR by Gaussian blur (sigma 4) and x8 decimation."
            ),
            has_hr=True,
            licence="public domain / CC0 images from scikit-image (see PROVENANCE.md)",
        )
    )
    register(
        DatasetSpec(
            name="folder",
            factory="srarena.datasets.folder:FolderDataset",
            description=(
                "Every image under a folder, recursively: 'folder:PATH[?name=N&domain=D]'."
            ),
            takes_argument=True,
            licence="the user's",
        )
    )
    register(
        DatasetSpec(
            name="study",
            factory="srarena.datasets.study:StudyDataset",
            description=(
                "The study's 14 datasets: 'study' (fetched by `srarena datasets fetch study`) "
                "or 'study:ROOT' with ROOT/<Domain>/<dataset>/<images>."
            ),
            takes_argument=True,
            argument_optional=True,
            licence="the study's datasets: see `srarena datasets list`; a folder: the user's",
        )
    )
    for scale in (2, 4):
        register(
            DatasetSpec(
                name=f"div2krk-x{scale}",
                factory="srarena.datasets.zoo_sources:DIV2KRKDataset",
                description=(
                    f"DIV2KRK at x{scale} (KernelGAN's 100 images with random anisotropic "
                    "kernels), HR and ground-truth kernels; `srarena datasets fetch div2krk`."
                ),
                has_hr=True,
                licence="research use (KernelGAN authors; DIV2K images)",
            )
        )
    register(
        DatasetSpec(
            name="gaussian8-x4",
            factory="srarena.datasets.zoo_sources:Gaussian8Dataset",
            description=(
                "The Gaussian-8 setting of IKC/DAN at x4 on Set5, Set14, B100, Urban100 "
                "(and Manga109 once added), HR kept; `srarena datasets fetch sr-benchmarks`."
            ),
            has_hr=True,
            licence="research use (see `srarena datasets list`)",
        )
    )
    register(
        DatasetSpec(
            name="degrade",
            factory="srarena.datasets.synthetic:DegradedDataset",
            description=(
                "An HR folder degraded with seeded blur kernels (DIV2KRK protocol by default), "
                "HR kept: 'degrade:PATH[?scale=8&kernel=div2krk|aniso|iso&seed=0]'."
            ),
            takes_argument=True,
            has_hr=True,
            licence="the user's",
        )
    )
