"""Registration of srarena-spandrel (no torch: the zoo table and the manifest are plain data).

- ``spandrel``: the generic upscaler, one run with ``--weights FILE``;
- ``spandrel:<zoo-name>``: the curated official models (:mod:`.zoo`), fetched with
  ``srarena weights fetch spandrel:<zoo-name>``;
- ``spandrel:<name>``: every model added with ``srarena weights add spandrel FILE --name
  NAME``, read from the manifest of added models (:mod:`.manifest`);
- the importer ``spandrel`` behind ``srarena weights add spandrel FILE``, and the commands
  ``srarena spandrel list|remove``.
"""

from __future__ import annotations

from srarena import ImporterSpec, hookimpl

SRARENA_API = 1


@hookimpl
def srarena_register_upscalers(register):
    from . import manifest, zoo
    from .facts import generic_spec

    register(generic_spec())
    taken = set()
    for spec in zoo.specs():
        taken.add(spec.name)
        register(spec)
    for spec in manifest.specs():
        if spec.name not in taken:  # a zoo name is refused when adding; never shadow one
            register(spec)


@hookimpl
def srarena_register_importers(register):
    register(ImporterSpec(
        name="spandrel",
        factory="srarena_spandrel.importer:import_model",
        description="a .pth/.pt/.ckpt/.safetensors SR model spandrel loads: installed into the "
                    "weights cache and registered as the upscaler spandrel:NAME",
    ))


@hookimpl
def srarena_register_commands(app):
    from .commands import spandrel_app

    app.add_typer(spandrel_app, name="spandrel")
