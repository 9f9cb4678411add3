"""Plugin discovery and the registry of components.

Built-in components live in plugin modules of the core (``BUILTIN_PLUGINS``) and register
through the same hooks as installed distributions, which are found through the
``srarena`` entry-point group. A plugin that fails to import, needs another core API, or
registers a name already taken is recorded with its reason and skipped; it never stops
the others. ``SRARENA_PLUGINS`` (comma-separated distribution names) limits which
distributions load; set to empty, only the built-ins load. ``SRARENA_PLUGIN_MODULES``
(comma-separated importable module names) loads plugin modules that are not installed as
distributions, for developing a plugin in place. ``SRARENA_PLUGINS_RAISE=1`` re-raises
plugin errors for debugging.
"""

from __future__ import annotations

import importlib
import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .specs import DatasetSpec, MetricSpec, SpecError, UpscalerSpec

API_VERSION = (1, 0)
ENTRY_POINT_GROUP = "srarena"
BUILTIN_PLUGINS = (
    "srarena.builtins.upscalers",
    "srarena.builtins.metrics",
    "srarena.builtins.niqe",
    "srarena.builtins.datasets",
    "srarena.builtins.iqa",
)


@dataclass
class PluginInfo:
    """What was learnt loading one plugin module."""

    name: str
    distribution: str
    version: str
    module: str
    builtin: bool = False
    error: str | None = None
    api: int | None = None
    registered: list[tuple[str, str]] = field(default_factory=list)
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Registry:
    """Every loaded component spec, by kind and name, and the plugins behind them."""

    upscalers: dict[str, UpscalerSpec] = field(default_factory=dict)
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    owner: dict[tuple[str, str], PluginInfo] = field(default_factory=dict)

    def upscaler(self, name: str) -> UpscalerSpec:
        return _lookup(self.upscalers, "upscaler", name)

    def metric(self, name: str) -> MetricSpec:
        return _lookup(self.metrics, "metric", name)

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup(self.datasets, "dataset", name)

    def plugin_of(self, kind: str, name: str) -> PluginInfo | None:
        return self.owner.get((kind, name))


class UnknownComponent(KeyError):
    """No component of that kind has that name."""

    def __str__(self) -> str:
        return str(self.args[0])


def _lookup(table: dict[str, Any], kind: str, name: str) -> Any:
    if name in table:
        return table[name]
    known = ", ".join(sorted(table)) or "none"
    raise UnknownComponent(
        f"no {kind} named {name!r}; installed: {known}. See `srarena plugins`."
    )


def _raise_errors() -> bool:
    return os.environ.get("SRARENA_PLUGINS_RAISE", "") not in ("", "0")


def _wanted_distributions() -> set[str] | None:
    value = os.environ.get("SRARENA_PLUGINS")
    if value is None:
        return None
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def _check_api(module: Any) -> int | None:
    declared = getattr(module, "SRARENA_API", None)
    if declared is None:
        return None
    major = int(str(declared).split(".")[0])
    if major != API_VERSION[0]:
        raise SpecError(
            f"written for srarena plugin API {major}, this srarena provides API "
            f"{API_VERSION[0]} (srarena {_core_version()}); install a version of the plugin "
            f"made for API {API_VERSION[0]}"
        )
    return major


def _core_version() -> str:
    from . import __version__

    return __version__


def _load(info: PluginInfo, load: Any, check_api: bool = True) -> tuple[PluginInfo, Any]:
    """``load()`` the plugin's module; a failure becomes an error record on ``info``."""
    try:
        module = load()
        if check_api:
            info.api = _check_api(module)
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
        if _raise_errors():
            raise
        info.error, info.detail = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        module = None
    return info, module


def _builtin_modules() -> list[tuple[PluginInfo, Any]]:
    """The built-in plugin modules (even a broken one must not stop the CLI)."""
    return [
        _load(PluginInfo(name=name.rsplit(".", 1)[-1], distribution="srarena",
                         version=_core_version(), module=name, builtin=True),
              lambda name=name: importlib.import_module(name), check_api=False)
        for name in BUILTIN_PLUGINS
    ]


def _external_modules() -> list[tuple[PluginInfo, Any]]:
    """The installed plugins' entry points and the modules ``SRARENA_PLUGIN_MODULES`` names."""
    found: list[tuple[PluginInfo, Any]] = []
    wanted = _wanted_distributions()
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry.dist
        dist_name = dist.metadata["Name"] if dist is not None else entry.name
        if wanted is not None and dist_name.lower() not in wanted:
            continue
        info = PluginInfo(name=entry.name, distribution=dist_name,
                          version=dist.version if dist is not None else "?", module=entry.value)
        found.append(_load(info, entry.load))
    for module_name in filter(None, os.environ.get("SRARENA_PLUGIN_MODULES", "").split(",")):
        name = module_name.strip()
        info = PluginInfo(name=module_name, distribution="(module)", version="0", module=name)
        found.append(_load(info, lambda name=name: importlib.import_module(name)))
    return found


def build_registry() -> Registry:
    """Load every plugin and collect what each registers."""
    registry = Registry()
    kinds: dict[str, tuple[type, dict[str, Any], str]] = {
        "upscaler": (UpscalerSpec, registry.upscalers, "srarena_register_upscalers"),
        "metric": (MetricSpec, registry.metrics, "srarena_register_metrics"),
        "dataset": (DatasetSpec, registry.datasets, "srarena_register_datasets"),
    }
    for info, module in _builtin_modules() + _external_modules():
        registry.plugins.append(info)
        if module is None:
            continue
        manager = pluggy.PluginManager("srarena")
        manager.add_hookspecs(hookspecs)
        pending: list[tuple[str, Any]] = []
        try:
            manager.register(module, name=info.name)
            for kind, (cls, _, hook_name) in kinds.items():

                def register(spec: Any, _kind: str = kind, _cls: type = cls,
                             _sink: list[tuple[str, Any]] = pending) -> None:
                    if not isinstance(spec, _cls):
                        raise SpecError(f"register() for {_kind}s got {type(spec).__name__}")
                    _sink.append((_kind, spec))

                getattr(manager.hook, hook_name)(register=register)
            for kind, spec in pending:
                table = kinds[kind][1]
                if spec.name in table:
                    other = registry.owner[(kind, spec.name)]
                    raise SpecError(
                        f"{kind} name {spec.name!r} is already registered by "
                        f"{other.distribution} ({other.module})"
                    )
        except Exception as exc:  # noqa: BLE001
            if _raise_errors():
                raise
            info.error = f"{type(exc).__name__}: {exc}"
            continue
        for kind, spec in pending:
            kinds[kind][1][spec.name] = _with_version(spec, info.version)
            registry.owner[(kind, spec.name)] = info
            info.registered.append((kind, spec.name))
    return registry


def _with_version(spec: Any, version: str) -> Any:
    """Record the plugin's distribution version on its spec unless the spec set one."""
    from dataclasses import replace

    return spec if spec.version != "0" else replace(spec, version=version)


def command_hooks() -> list[Any]:
    """Installed plugin modules that add CLI commands (the built-ins add none; loaded
    without breaking on failure)."""
    return [module for _, module in _external_modules()
            if module is not None and hasattr(module, "srarena_register_commands")]


_registry: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None or refresh:
        _registry = build_registry()
    return _registry
