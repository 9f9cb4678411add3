"""spandrel for srarena: any SR model file spandrel loads becomes an upscaler in the arena.

Registration lives in :mod:`srarena_spandrel.plugin` (no torch: it reads the zoo table in
:mod:`srarena_spandrel.zoo` and the manifest of added models, :mod:`srarena_spandrel.manifest`).
:mod:`srarena_spandrel.loading` reads a file safely and describes it with spandrel,
:mod:`srarena_spandrel.importer` adds a file by name (``srarena weights add spandrel FILE``) and
:mod:`srarena_spandrel.upscaler` runs a model.
"""
