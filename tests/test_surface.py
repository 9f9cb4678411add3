"""The declared plugin surface: plugins import srarena's root, ``srarena.kit`` and
``srarena.testing`` only, and every name those promise exists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ALLOWED = ("srarena", "srarena.kit", "srarena.testing")


def private_imports(source: str, where: str) -> list[str]:
    """``file:line module`` for each import of srarena outside the declared surface."""
    tree = ast.parse(source.replace("$", "_"))  # templates hold $placeholders
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [f"{where}:{node.lineno} {name}" for name in names
                  if name.split(".")[0] == "srarena" and name not in ALLOWED]
    return found


def plugin_sources() -> list[Path]:
    files = sorted(REPO.glob("plugins/*/src/**/*.py"))
    files += sorted((REPO / "src/srarena/templates/plugin").glob("*.py.tmpl"))
    return files


def test_plugins_and_the_template_import_only_the_surface():
    assert plugin_sources(), "no plugin sources found"
    problems = [p for path in plugin_sources()
                for p in private_imports(path.read_text(), str(path.relative_to(REPO)))]
    assert problems == []


def test_a_generated_plugin_imports_only_the_surface(tmp_path):
    from srarena.cli.scaffold import new_plugin

    for kind in ("upscaler", "metric", "dataset"):
        folder = new_plugin(f"probe-{kind}", kind, tmp_path / kind)
        for path in (folder / "src").rglob("*.py"):
            assert private_imports(path.read_text(), path.name) == []


def test_the_check_flags_a_private_import():
    source = "from srarena.engine.cuda import exact_cuda\nimport srarena.store\nimport srarena\n"
    assert private_imports(source, "x.py") == ["x.py:1 srarena.engine.cuda",
                                                "x.py:2 srarena.store"]


@pytest.mark.parametrize("module", ["srarena", "srarena.kit"])
def test_every_promised_name_exists(module):
    loaded = importlib.import_module(module)
    missing = [name for name in loaded.__all__ if not hasattr(loaded, name)]
    assert missing == []
