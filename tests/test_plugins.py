"""Discovery: built-ins register through the hooks; broken plugins are reported, never fatal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from srarena import plugins
from srarena.specs import SpecError, UpscalerSpec


def test_builtins_register_through_hooks():
    registry = plugins.get_registry(refresh=True)
    assert {"nearest", "bilinear", "bicubic", "lanczos"} <= set(registry.upscalers)
    assert {"psnr", "ssim"} <= set(registry.metrics)
    assert registry.plugin_of("upscaler", "bicubic").builtin


def _write_module(tmp_path, name, body):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    monkeypatch.delenv("SRARENA_PLUGIN_MODULES", raising=False)
    plugins.get_registry(refresh=True)


def test_broken_plugins_are_reported_and_skipped(plugin_dir, monkeypatch):
    _write_module(plugin_dir, "plug_import_error", "raise ImportError('no such backend')\n")
    _write_module(plugin_dir, "plug_old_api", "SRARENA_API = 0\n")
    _write_module(plugin_dir, "plug_duplicate", """
        import srarena
        from srarena.specs import UpscalerSpec
        SRARENA_API = 1
        @srarena.hookimpl
        def srarena_register_upscalers(register):
            register(UpscalerSpec(name="bicubic", factory="x:y"))
    """)
    _write_module(plugin_dir, "plug_raises", """
        import srarena
        SRARENA_API = 1
        @srarena.hookimpl
        def srarena_register_metrics(register):
            raise RuntimeError("hook exploded")
    """)
    _write_module(plugin_dir, "plug_good", """
        import srarena
        from srarena.specs import UpscalerSpec
        SRARENA_API = 1
        @srarena.hookimpl
        def srarena_register_upscalers(register):
            register(UpscalerSpec(name="good-one", factory="x:y", scales=(2,)))
    """)
    monkeypatch.setenv(
        "SRARENA_PLUGIN_MODULES",
        "plug_import_error,plug_old_api,plug_duplicate,plug_raises,plug_good",
    )
    registry = plugins.get_registry(refresh=True)
    errors = {info.name: info.error for info in registry.plugins}
    assert "no such backend" in errors["plug_import_error"]
    assert "API 0" in errors["plug_old_api"] and "API 1" in errors["plug_old_api"]
    assert "already registered by srarena" in errors["plug_duplicate"]
    assert "hook exploded" in errors["plug_raises"]
    assert errors["plug_good"] is None
    assert "good-one" in registry.upscalers
    assert registry.plugin_of("upscaler", "bicubic").builtin


def test_spec_validation():
    with pytest.raises(SpecError):
        UpscalerSpec(name="Bad Name", factory="a:b")
    with pytest.raises(SpecError):
        UpscalerSpec(name="ok", factory="a:b", scales=(1,))
    with pytest.raises(SpecError):
        UpscalerSpec(name="ok", factory="nocolon")


def test_a_gpu_only_upscaler_is_available_where_the_driver_shows_a_gpu(tmp_path, monkeypatch):
    from srarena import availability as A
    from srarena.specs import Resources

    spec = UpscalerSpec(name="gpu-sr", factory="a:b", resources=Resources(needs_gpu=True))
    monkeypatch.setattr(A, "NVIDIA_GPUS", tmp_path / "gpus")  # no NVIDIA driver
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert A.availability(spec).status == "needs a GPU"
    (tmp_path / "gpus" / "0000:01:00.0").mkdir(parents=True)
    assert A.availability(spec).ok
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert A.availability(spec).status == "needs a GPU"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert A.availability(spec).ok


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "srarena", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_help_and_plugins_import_no_torch():
    from srarena.testing import fresh_imports

    code = ("from srarena import cli; cli._install_commands()\n"
            "from srarena.cli.plugins_cmd import plugin_rows; plugin_rows()")
    heavy, _ = fresh_imports(code, ("torch", "pandas", "pyiqa", "matplotlib", "numba"))
    assert heavy == []


def test_plugins_json_lists_components():
    out = run_cli("plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    builtin = {r["plugin"]: r for r in rows if r["builtin"]}
    assert "upscaler:bicubic" in builtin["upscalers"]["registers"]
    assert all(r["status"] for r in rows)


def test_empty_plugin_selection_loads_only_builtins(monkeypatch):
    monkeypatch.setenv("SRARENA_PLUGINS", "")
    registry = plugins.get_registry(refresh=True)
    assert all(info.builtin for info in registry.plugins)
    plugins.get_registry(refresh=True)


def test_a_misspelt_hook_fails_its_plugin_by_name(plugin_dir, monkeypatch):
    _write_module(plugin_dir, "plug_typo", """
        import srarena
        from srarena import UpscalerSpec
        SRARENA_API = 1
        @srarena.hookimpl
        def srarena_register_upscaler(register):
            register(UpscalerSpec(name="typo", factory="x:y", scales=(2,)))
    """)
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "plug_typo")
    registry = plugins.get_registry(refresh=True)
    (info,) = [i for i in registry.plugins if i.name == "plug_typo"]
    assert "unknown hook srarena_register_upscaler" in info.error
    assert "srarena_register_upscalers" in info.error  # the known hooks are listed
    assert "typo" not in registry.upscalers
    env = {**os.environ, "SRARENA_PLUGIN_MODULES": "plug_typo",
           "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}
    rows = {r["plugin"]: r for r in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert rows["plug_typo"]["status"] == "failed"
    assert "srarena_register_upscaler" in rows["plug_typo"]["error"]


def test_commands_come_through_the_hook_and_the_modules_load_once(plugin_dir, monkeypatch):
    _write_module(plugin_dir, "plug_cmd", """
        import srarena
        SRARENA_API = 1
        LOADS = []
        LOADS.append(1)
        @srarena.hookimpl
        def srarena_register_commands(app):
            @app.command("hello-probe")
            def hello():
                print("hello from a plugin", len(LOADS))
    """)
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "plug_cmd")
    calls, scans = [], []
    original, entry_points = plugins._external_modules, plugins.metadata.entry_points

    def counted():
        calls.append(1)
        return original()

    def counted_entry_points(**kwargs):
        scans.append(kwargs.get("group"))
        return entry_points(**kwargs)

    monkeypatch.setattr(plugins, "_external_modules", counted)
    monkeypatch.setattr(plugins.metadata, "entry_points", counted_entry_points)
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()
    registry = plugins.get_registry(refresh=True)
    assert registry.add_commands(app) == []
    result = CliRunner().invoke(app, ["hello-probe"])
    assert result.exit_code == 0 and "hello from a plugin 1" in result.output
    assert calls == [1]  # one scan of the entry points for the registry and the commands
    assert scans == [plugins.ENTRY_POINT_GROUP]
    names = {c.name for c in app.registered_commands}
    assert {"bench", "plugins", "hello-probe"} <= names  # the core's commands, by the hook


def test_a_failing_command_hook_warns_and_the_others_stay(plugin_dir, monkeypatch):
    _write_module(plugin_dir, "plug_bad_cmd", """
        import srarena
        SRARENA_API = 1
        @srarena.hookimpl
        def srarena_register_commands(app):
            raise RuntimeError("no commands today")
    """)
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "plug_bad_cmd")
    import typer

    app = typer.Typer()
    warnings = plugins.get_registry(refresh=True).add_commands(app)
    assert len(warnings) == 1 and "no commands today" in warnings[0]
    assert "bench" in {c.name for c in app.registered_commands}


def test_spec_versions_come_from_the_distribution():
    registry = plugins.get_registry(refresh=True)
    from srarena import __version__

    assert registry.upscaler("bicubic").version == __version__
    for name, spec in registry.upscalers.items():
        info = registry.plugin_of("upscaler", name)
        assert spec.version == info.version, name


def test_importers_are_registered_and_listed(plugin_dir, monkeypatch):
    _write_module(plugin_dir, "plug_importer", """
        import srarena
        from srarena import ImporterSpec
        SRARENA_API = 1
        @srarena.hookimpl
        def srarena_register_importers(register):
            register(ImporterSpec(name="probe-files", factory="plug_importer:take"))
        def take(path, name):
            return f"took {path}"
    """)
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "plug_importer")
    registry = plugins.get_registry(refresh=True)
    assert registry.importer("probe-files").load()("x", None) == "took x"
    assert registry.plugin_of("importer", "probe-files").name == "plug_importer"
    with pytest.raises(plugins.UnknownComponent, match="no importer named 'nope'"):
        registry.importer("nope")
    env = {**os.environ, "SRARENA_PLUGIN_MODULES": "plug_importer",
           "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}
    rows = {r["plugin"]: r for r in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert rows["plug_importer"]["registers"] == ["importer:probe-files"]
    assert rows["plug_importer"]["status"] == "ok"
    table = run_cli("plugins", env={**env, "COLUMNS": "200"}).stdout
    assert "importers: probe-files" in table


def test_an_optional_hook_may_match_no_spec(plugin_dir, monkeypatch):
    _write_module(plugin_dir, "plug_optional", """
        import srarena
        SRARENA_API = 1
        @srarena.hookimpl(optionalhook=True)
        def srarena_register_widgets(register):
            pass
    """)
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "plug_optional")
    (info,) = [i for i in plugins.get_registry(refresh=True).plugins if i.name == "plug_optional"]
    assert info.error is None
