"""``srarena new-plugin``: write a working plugin package from the templates."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from .. import __version__
from ..plugins import API_VERSION

KINDS = ("upscaler", "metric", "dataset")
"""Each kind has the templates ``<kind>.py``, ``plugin_<kind>.py`` and ``test_<kind>.py``."""


class ScaffoldError(ValueError):
    """The plugin cannot be written (bad name, folder not empty)."""


def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write ``parent/srarena-NAME`` for a component of ``kind``; return the folder."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ScaffoldError(f"plugin name {name!r}: use lower-case letters, digits and '-'")
    if kind not in KINDS:
        raise ScaffoldError(f"kind must be one of {', '.join(KINDS)}")
    name = name.removeprefix("srarena-")
    package = "srarena_" + name.replace("-", "_")
    root = parent / f"srarena-{name}"
    if root.exists() and any(root.iterdir()):
        raise ScaffoldError(f"{root} exists and is not empty")
    major = API_VERSION[0]
    values = {
        "name": name, "package": package, "kind": kind,
        "title": name.replace("-", " ").title(), "api": str(major),
        "core_version": ".".join(__version__.split(".")[:2]), "next_major": str(major + 1),
    }
    files = {
        "pyproject.toml": "pyproject.toml",
        "README.md": "README.md",
        f"src/{package}/__init__.py": None,
        f"src/{package}/plugin.py": f"plugin_{kind}.py",
        f"src/{package}/{kind}.py": f"{kind}.py",
        f"tests/test_{package}.py": f"test_{kind}.py",
    }
    templates = resources.files("srarena") / "templates" / "plugin"
    for target, template in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        if template is None:
            path.write_text(f'"""srarena-{name}: a {kind} plugin for srarena."""\n')
            continue
        text = (templates / f"{template}.tmpl").read_text()
        path.write_text(Template(text).substitute(values))
    return root
