"""``srarena weights add spandrel FILE [--name NAME]``: a model file becomes ``spandrel:NAME``.

The file is read once, safely (:func:`.loading.read_state`), and described by spandrel; a
model that is not super-resolution is refused. It is then installed through the weights
service into ``<cache>/spandrel-<NAME>/<architecture>-x<scale><suffix>`` with its sha256
recorded, fp16/bf16 are checked against fp32 (:func:`.loading.check_precisions`) and its facts
are written to the manifest of added models, from which the plugin registers
``spandrel:NAME`` at every start without torch.

A name holds one file per scale: adding a file of another scale under a taken name makes a
family (an x2 and an x4 file: 8x runs x2 then x4, the engine's chain); adding one of a scale
the name already has replaces that file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from pathlib import Path

from srarena import Source, WeightFile, WeightSet
from srarena.kit import add_weights, weights_folder

from . import loading, manifest, zoo
from .facts import (
    GENERIC,
    USER_WEIGHTS_LICENCE,
    VALIDATOR,
    check_model_name,
    file_name,
    set_name,
    summary,
)


def import_model(path: Path, name: str | None = None) -> str:
    """Install ``path`` as (a scale of) the model ``name`` (default: from the file name) and
    return the line saying what was added. Raises ``ValueError`` or a weights error with a
    clear message for a file it cannot take."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    loading.check_suffix(path)
    given = name.removeprefix("spandrel:") if name is not None else None
    model = check_model_name(given if given is not None else loading.default_name(path))
    if model in zoo.BY_NAME or model == GENERIC:
        raise ValueError(
            f"{model!r} is the name of a zoo model (spandrel:{model}); fetch it with `srarena "
            f"weights fetch spandrel:{model}`, or give this file another --name")
    state = loading.read_state(path)
    descriptor = loading.load_descriptor(path, state=state)
    facts = loading.describe(descriptor)
    del descriptor
    loading.require_sr(facts, path)
    loading.remember(path, facts)
    scale = facts["scale"]
    filename = file_name(facts["architecture"], scale, path.suffix)
    precision = loading.check_precisions(path, state, facts)
    del state
    weights = WeightSet(
        name=set_name(model),
        files=(WeightFile(filename, sources=(Source(
            kind="manual", url=path.resolve().as_uri(),
            instructions=f"add it with `srarena weights add {GENERIC} FILE --name {model}`"),),
            scales=(scale,)),),
        licence=USER_WEIGHTS_LICENCE,
        validator=VALIDATOR,
    )
    (installed,) = add_weights(weights, [path])
    facts.update(
        filename=filename, sha256=installed.sha256, size=installed.size, source=path.name,
        source_url=path.resolve().as_uri(), precision=precision,
        added=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    models = manifest.read()
    entry = dict(models.get(model) or {"files": []})
    replaced = [f for f in entry["files"] if f.get("scale") == scale]
    entry["files"] = [f for f in entry["files"] if f.get("scale") != scale] + [facts]
    models[model] = entry
    manifest.write(models)
    for old in replaced:
        if old.get("filename") and old["filename"] != filename:
            with contextlib.suppress(OSError):
                (weights_folder(weights) / old["filename"]).unlink()
    scales = sorted(f["scale"] for f in entry["files"])
    precisions = ["fp32"] + [p for p in ("fp16", "bf16") if precision[p].get("ok")]
    what = "replaced the x{scale} file of" if replaced else "added"
    family = (f"; scales {', '.join(f'x{s}' for s in scales)} (8x chains them)"
              if len(scales) > 1 else "")
    return (f"spandrel:{model}: {what.format(scale=scale)} {summary(facts)} from {path.name}, "
            f"sha256 {installed.sha256}; precisions {', '.join(precisions)}{family}")
