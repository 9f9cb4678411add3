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

Each plugin module is loaded once (``build_registry``) and held in its own pluggy manager,
whose ``check_pending`` fails the plugin on a hook that matches no spec (a misspelt name);
the registration hooks and ``srarena_register_commands`` are both called through those
managers. A registered spec's ``version`` is always its distribution's version (``"0"`` for
a module named by ``SRARENA_PLUGIN_MODULES``), whatever the plugin wrote in it.
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
from .specs import DatasetSpec, ImporterSpec, MetricSpec, SpecError, UpscalerSpec

API_VERSION = (1, 0)
ENTRY_POINT_GROUP = "srarena"
BUILTIN_PLUGINS = (
    "srarena.builtins.upscalers",
    "srarena.builtins.metrics",
    "srarena.builtins.niqe",
    "srarena.builtins.datasets",
    "srarena.builtins.iqa",
    "srarena.builtins.commands",
)
KINDS: dict[str, tuple[type, str]] = {
    "upscaler": (UpscalerSpec, "srarena_register_upscalers"),
    "metric": (MetricSpec, "srarena_register_metrics"),
    "dataset": (DatasetSpec, "srarena_register_datasets"),
    "importer": (ImporterSpec, "srarena_register_importers"),
}
"""Each kind of component: the spec a plugin registers and the hook it registers it in."""


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
    importers: dict[str, ImporterSpec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    owner: dict[tuple[str, str], PluginInfo] = field(default_factory=dict)
    managers: dict[str, pluggy.PluginManager] = field(default_factory=dict)
    """The pluggy manager of each loaded plugin module (by module name): the one place the
    loaded modules are held, for the registration hooks and the commands alike."""

    def upscaler(self, name: str) -> UpscalerSpec:
        return _lookup(self.upscalers, "upscaler", name)

    def metric(self, name: str) -> MetricSpec:
        return _lookup(self.metrics, "metric", name)

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup(self.datasets, "dataset", name)

    def importer(self, name: str) -> ImporterSpec:
        return _lookup(self.importers, "importer", name)

    def table(self, kind: str) -> dict[str, Any]:
        return getattr(self, kind + "s")

    def add_commands(self, app: Any) -> list[str]:
        """Call every loaded plugin's ``srarena_register_commands(app)`` (built-ins first);
        returns a warning for each plugin whose hook raised (the others still add theirs)."""
        warnings = []
        for module, manager in self.managers.items():
            try:
                manager.hook.srarena_register_commands(app=app)
            except Exception as exc:  # noqa: BLE001 - a plugin's command must not break the CLI
                if _raise_errors():
                    raise
                warnings.append(f"plugin {module} failed to add commands: "
                                f"{type(exc).__name__}: {exc}")
        return warnings

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


def _manager(info: PluginInfo, module: Any) -> pluggy.PluginManager:
    """A pluggy manager holding one plugin module, its hooks checked against the specs: a
    hook with no spec (a misspelt name) makes the plugin fail, naming the hook."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    manager.register(module, name=info.name)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        unknown = _unknown_hooks(manager)
        raise SpecError(f"unknown hook {', '.join(unknown) or exc}; known hooks: "
                        f"{', '.join(known_hooks())}") from None
    return manager


def known_hooks() -> list[str]:
    """The names of the hooks a plugin may implement (those ``hookspecs`` declares)."""
    return sorted(name for name, value in vars(hookspecs).items()
                  if name.startswith("srarena_") and callable(value))


def _unknown_hooks(manager: pluggy.PluginManager) -> list[str]:
    """The hooks a plugin implements that match no spec, as pluggy's ``check_pending`` sees
    them (an ``optionalhook=True`` implementation is allowed to match nothing)."""
    return sorted(name for name, caller in vars(manager.hook).items()
                  if not name.startswith("_") and not caller.has_spec()
                  and any(not impl.optionalhook for impl in caller.get_hookimpls()))


def _registered(manager: pluggy.PluginManager) -> list[tuple[str, Any]]:
    """What a plugin registers, kind by kind, each spec checked to be of its kind."""
    found: list[tuple[str, Any]] = []
    for kind, (cls, hook_name) in KINDS.items():

        def register(spec: Any, _kind: str = kind, _cls: type = cls) -> None:
            if not isinstance(spec, _cls):
                raise SpecError(f"register() for {_kind}s got {type(spec).__name__}")
            found.append((_kind, spec))

        getattr(manager.hook, hook_name)(register=register)
    return found


def build_registry() -> Registry:
    """Load every plugin once and collect what each registers."""
    registry = Registry()
    for info, module in _builtin_modules() + _external_modules():
        registry.plugins.append(info)
        if module is None:
            continue
        try:
            manager = _manager(info, module)
            pending = _registered(manager)
            for kind, spec in pending:
                if spec.name in registry.table(kind):
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
        registry.managers[info.module] = manager
        for kind, spec in pending:
            registry.table(kind)[spec.name] = _with_version(spec, info.version)
            registry.owner[(kind, spec.name)] = info
            info.registered.append((kind, spec.name))
    return registry


def _with_version(spec: Any, version: str) -> Any:
    """The spec with its plugin's distribution version: the one source of a spec's version
    (a result records it, so upgrading a plugin keys its results anew)."""
    from dataclasses import replace

    return replace(spec, version=version)


_registry: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None or refresh:
        _registry = build_registry()
    return _registry
