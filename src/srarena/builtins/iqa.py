"""Built-in metrics that run on pyiqa (the ``iqa`` extra): MANIQA and ``pyiqa:<name>``.

Registration reads static declarations only; pyiqa is imported when a metric is used.
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..metrics import maniqa, pyiqa_metrics
from ..metrics.pyiqa_metrics import srarena_name
from ..specs import MetricSpec

SRARENA_API = 1

STUDY = (
    "MANIQA under the study's protocol (224x224 PIL bicubic, one pass on the whole image), "
    "checkpoint trained on {}"
)


@hookimpl
def srarena_register_metrics(register):
    register(metric_spec(
        "maniqa", "pipal", "study",
        STUDY.format("PIPAL: the setup of the study (AI 2023, 4(3), 598-619)")))
    register(metric_spec("maniqa-koniq", "koniq", "study", STUDY.format("KonIQ-10k")))
    register(metric_spec("maniqa-kadid", "kadid", "study", STUDY.format("KADID-10k")))
    register(metric_spec(
        "maniqa-pyiqa", "pipal", "pyiqa",
        "MANIQA (PIPAL checkpoint, as `maniqa`) under pyiqa's protocol: 20 crops of 224 on "
        "the full image; the same as pyiqa:maniqa-pipal"))
    for pyiqa_name, checkpoint in maniqa.PYIQA_NAMES.items():
        register(metric_spec(
            srarena_name(pyiqa_name), checkpoint, "pyiqa",
            f"pyiqa's {pyiqa_name} (checkpoint {checkpoint}) with pyiqa's protocol; weights "
            "through srarena's weights service"))
    for spec in metric_specs():
        register(spec)


def metric_spec(name: str, checkpoint: str, protocol: str, description: str) -> MetricSpec:
    """The spec of a MANIQA metric using one checkpoint under one protocol."""
    ckpt = maniqa.CHECKPOINTS[checkpoint]
    return MetricSpec(
        name=name,
        factory="srarena.metrics.maniqa:Maniqa",
        kind="no-reference",
        higher_is_better=True,
        min_size=1,
        protocol=maniqa.PROTOCOLS[protocol] + f"; checkpoint trained on {ckpt.trained_on}",
        description=description,
        weights=ckpt.weights,
        requires=maniqa.REQUIRES,
        install_hint=maniqa.INSTALL_HINT,
        batch_size=16 if protocol == "study" else 4,
        licence="Apache-2.0 (MANIQA); pyiqa's network code is NTU S-Lab License 1.0",
        options={"checkpoint": checkpoint, "protocol": protocol},
    )


def metric_specs() -> list[MetricSpec]:
    """A spec for every per-image pyiqa metric of the table (MANIQA's are the ones above)."""
    version = pyiqa_metrics.table()["pyiqa_version"]
    specs = []
    for row in pyiqa_metrics.table()["metrics"]:
        if not row["per_image"] or row["arch"] == "MANIQA":
            continue
        full_reference = row["mode"] == "FR"
        specs.append(MetricSpec(
            name=row["name"],
            factory="srarena.metrics.pyiqa_metrics:PyiqaMetric",
            kind="full-reference" if full_reference else "no-reference",
            higher_is_better=not row["lower_better"],
            protocol=f"pyiqa {row['pyiqa']!r} with its defaults, on the image as given"
                     + (" against the HR ground truth" if full_reference else ""),
            description=f"pyiqa metric {row['pyiqa']} ({row['arch']}), score range "
                        f"{row['score_range'] or 'not stated'}; table from pyiqa {version}",
            requires=("torch", "pyiqa"),
            install_hint=pyiqa_metrics.INSTALL_HINT,
            batch_size=8,
            licence="pyiqa: NTU S-Lab License 1.0 (non-commercial); weights: see pyiqa",
            options={"pyiqa_name": row["pyiqa"]},
            downloads_on_first_use=row["downloads"],
        ))
    return specs
