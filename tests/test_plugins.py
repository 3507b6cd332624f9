"""Plugins: the example plugin installs and loads through its entry point; a broken one
is reported and skipped; WACC_PLUGINS limits what loads."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest

from tests.helpers import API, bearer, register
from wacc.features import BUILTIN_PLUGINS
from wacc.plugins.manager import PluginManager

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """A distribution whose wacc entry point fails to import."""
    dist = tmp_path / "broken_wacc_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-wacc-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[wacc]\nbroken = broken_wacc_plugin\n")
    (tmp_path / "broken_wacc_plugin.py").write_text("raise ImportError('missing dependency: foo')\n")
    (tmp_path / "angry_wacc_plugin.py").write_text(textwrap.dedent("""
        from wacc.plugins.spec import hookimpl

        @hookimpl
        def wacc_controllers():
            raise RuntimeError("hook exploded")
    """))
    (dist / "entry_points.txt").write_text(
        "[wacc]\nbroken = broken_wacc_plugin\nangry = angry_wacc_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path


def _status(pm: PluginManager, name: str):
    return next(s for s in pm.statuses if s.name == name)


def test_builtin_features_load_through_the_plugin_manager():
    pm = PluginManager(["none"], BUILTIN_PLUGINS)
    assert {s.name for s in pm.statuses if s.source == "builtin"} == set(BUILTIN_PLUGINS)
    assert pm.collect("wacc_controllers")


async def test_example_plugin_installs_loads_and_serves(hello_installed, make_client):
    pm = PluginManager([], BUILTIN_PLUGINS)
    status = _status(pm, "hello")
    assert status.state == "loaded" and status.source == "wacc-hello"
    c = await make_client(plugins=pm)
    r = await c.get(f"{API}/hello")
    assert r.status_code == 401  # the plugin's route is guarded like any other
    owner = await register(c)
    r = await c.get(f"{API}/hello", headers=bearer(owner["accessToken"]))
    assert r.status_code == 200
    assert r.json()["organizationId"] == owner["user"]["organizationId"]


def test_allowlist(hello_installed):
    pm = PluginManager(["something-else"], BUILTIN_PLUGINS)
    assert _status(pm, "hello").state == "disabled"
    pm = PluginManager(["none"], BUILTIN_PLUGINS)
    assert _status(pm, "hello").state == "disabled"
    pm = PluginManager(["hello"], BUILTIN_PLUGINS)
    assert _status(pm, "hello").state == "loaded"


async def test_broken_plugins_are_reported_and_never_stop_the_app(
    hello_installed, broken_plugin, make_client
):
    pm = PluginManager([], BUILTIN_PLUGINS)
    broken = _status(pm, "broken")
    assert broken.state == "failed" and "missing dependency: foo" in broken.error
    c = await make_client(plugins=pm)  # builds although one plugin failed and one's hook raises
    angry = _status(pm, "angry")
    assert angry.state == "failed" and "hook exploded" in angry.error
    assert _status(pm, "hello").state == "loaded"
    assert (await c.get("/health")).status_code == 200
    owner = await register(c)
    assert (await c.get(f"{API}/hello", headers=bearer(owner["accessToken"]))).status_code == 200
