"""Shared fixtures: an isolated srarena home and the fake test plugin."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))  # shared test helpers (weights_server, ...)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty SRARENA_HOME and sees no installed plugins' side effects."""
    home = tmp_path_factory.mktemp("srarena-home")
    monkeypatch.setenv("SRARENA_HOME", str(home))
    monkeypatch.setenv("SRARENA_OFFLINE", "1")
    return home


@pytest.fixture
def fake_plugin(monkeypatch):
    """Load tests/support/fake_plugin.py as a plugin module; return a fresh registry."""
    from srarena import plugins

    monkeypatch.syspath_prepend(str(SUPPORT))
    monkeypatch.setenv("SRARENA_PLUGIN_MODULES", "fake_plugin")
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT) + ":" + ":".join(sys.path))
    registry = plugins.get_registry(refresh=True)
    yield registry
    monkeypatch.delenv("SRARENA_PLUGIN_MODULES")
    plugins.get_registry(refresh=True)
