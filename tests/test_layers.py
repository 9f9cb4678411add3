"""The house rules of docs/architecture.md, checked on the source: no module imports from a
higher layer, and the module-level imports have no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "srarena"

LAYERS = {
    0: ("specs", "hookspecs", "components", "status"),
    1: ("atomic", "imageio", "store", "runlock", "weights", "availability", "plugins"),
    2: ("builtins", "datasets", "metrics", "upscalers"),
    3: ("engine", "analysis", "report"),
    4: ("cli",),
}
FACADES = ("srarena", "srarena.kit", "srarena.testing", "srarena.__main__")
"""The plugin-facing entry points (and ``python -m srarena``): they gather from every layer."""
UPWARD = {("srarena.components", "srarena.weights"):
          "Upscaler.weight_paths() finds an implementation's files through the weights "
          "service when it is called (a function-level import)"}
"""The one call from a lower layer to a higher one, with its reason."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    if module in FACADES:
        return None
    room = module.split(".")[1]
    for layer, rooms in LAYERS.items():
        if room in rooms:
            return layer
    raise AssertionError(f"{module} is in no layer: add its room to docs/architecture.md "
                         "and LAYERS")


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The srarena modules a file imports (resolving relative imports)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(
        ".", 1)[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "srarena"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "srarena":
                found.add(target)
    return found


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def known(target: str, names: dict[str, Path]) -> str:
    """The module an import names (``from .x import y`` may name a module or a package)."""
    while target not in names and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def violations() -> list[str]:
    names = modules()
    problems = []
    for module, path in names.items():
        mine = layer_of(module)
        if mine is None:
            continue
        for target in imports(path, top_level_only=False):
            other = layer_of(known(target, names))
            if other is not None and other > mine and (module, target) not in UPWARD:
                problems.append(f"{module} (layer {mine}) imports {target} (layer {other})")
    return problems


def cycles() -> list[list[str]]:
    names = modules()
    graph = {m: {known(t, names) for t in imports(p, top_level_only=True)} - {m}
             for m, p in names.items()}
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # a package importing its own submodules at the top (re-exports) is not a cycle of rooms
    return [c for c in found if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]


def test_no_module_imports_from_a_higher_layer():
    assert violations() == []


def test_module_level_imports_have_no_cycles():
    assert cycles() == []


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """A store that imported the engine would be caught."""
    fake = {"srarena.store": tmp_path / "store.py", "srarena.engine": tmp_path / "engine.py"}
    fake["srarena.store"].write_text("from srarena.engine import runner\n")
    fake["srarena.engine"].write_text("import srarena.store\n")
    monkeypatch.setattr(f"{__name__}.modules", lambda: fake)
    monkeypatch.setattr(f"{__name__}.module_name",
                        lambda path: {v: k for k, v in fake.items()}[path])
    assert violations() == ["srarena.store (layer 1) imports srarena.engine (layer 3)"]
    assert cycles()


@pytest.mark.parametrize("room", sorted({p.parts[0] for p in (
    q.relative_to(SRC) for q in SRC.rglob("*.py")) if len(p.parts) > 1} - {"templates"}))
def test_every_room_is_in_a_layer(room):
    assert any(room in rooms for rooms in LAYERS.values())
