"""Built-in dataset sources: the embedded samples, folders, the study layout, degraded HR."""

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
            description="The study's layout: 'study:ROOT' with ROOT/<Domain>/<dataset>/<images>.",
            takes_argument=True,
            licence="the user's",
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
