"""Built-in metrics that run on pyiqa (the ``iqa`` extra): MANIQA and ``pyiqa:<name>``.

Registration reads static declarations only; pyiqa is imported when a metric is used.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..metrics import maniqa
from ..metrics.pyiqa_metrics import metric_specs, srarena_name

SRARENA_API = 1

STUDY = (
    "MANIQA under the study's protocol (224x224 PIL bicubic, one pass on the whole image), "
    "checkpoint trained on {}"
)


@hookimpl
def srarena_register_metrics(register):
    register(maniqa.metric_spec(
        "maniqa", "pipal", "study",
        STUDY.format("PIPAL: the setup of the study (AI 2023, 4(3), 598-619)")))
    register(maniqa.metric_spec("maniqa-koniq", "koniq", "study", STUDY.format("KonIQ-10k")))
    register(maniqa.metric_spec("maniqa-kadid", "kadid", "study", STUDY.format("KADID-10k")))
    register(maniqa.metric_spec(
        "maniqa-pyiqa", "pipal", "pyiqa",
        "MANIQA (PIPAL checkpoint, as `maniqa`) under pyiqa's protocol: 20 crops of 224 on "
        "the full image; the same as pyiqa:maniqa-pipal"))
    for pyiqa_name, checkpoint in maniqa.PYIQA_NAMES.items():
        register(maniqa.metric_spec(
            srarena_name(pyiqa_name), checkpoint, "pyiqa",
            f"pyiqa's {pyiqa_name} (checkpoint {checkpoint}) with pyiqa's protocol; weights "
            "through srarena's weights service"))
    for spec in metric_specs():
        register(spec)
