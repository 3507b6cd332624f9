"""Every plugin hook (wacc/plugins/spec.py) is exercised by a named test and documented
in docs/plugins.md. A new hook fails here until it has both: add it to EXERCISED with
the test that runs a real implementation of it, and give it a section in the docs.

Also home to the tests of wacc_pages and wacc_runtime_parts from a plugin's side
(wacc's own features use them, but no other test adds a page or a part the way a third
party would)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from litestar import MediaType, get

from tests.helpers import PASSWORD, register
from tests.ui_support import ui_login
from wacc.ai.guardrails import AnswerCache, answer_cache_of
from wacc.ai.providers.router import AiRouter, router_of
from wacc.config import load_settings
from wacc.features import BUILTIN_PLUGINS
from wacc.plugins import spec
from wacc.plugins.manager import PluginManager
from wacc.realtime.presence import MemoryPresence, presence_of
from wacc.runtime import Runtime
from wacc.security.crypto import encode_key, load_keyring, new_key
from wacc.sessions.inbound import Inbound, inbound_of
from wacc.sessions.rpc import SessionRpc, rpc_of

REPO = Path(__file__).resolve().parent.parent

# hook -> (the test that runs an implementation of it, the file with that implementation)
EXERCISED: dict[str, tuple[str, str]] = {
    "wacc_controllers": ("tests/test_plugins.py::test_example_plugin_installs_loads_and_serves",
                         "plugins/wacc-hello/wacc_hello/__init__.py"),
    "wacc_pages": ("tests/test_plugin_hooks.py::test_a_plugin_page_is_served_behind_the_sign_in",
                   "tests/test_plugin_hooks.py"),
    "wacc_tasks": ("tests/test_process.py::test_run_supervises_roles", "tests/support/cli.py"),
    "wacc_schedule": ("tests/test_process.py::test_scheduler_enqueues_the_plugins_entries",
                      "wacc/auth/plugin.py"),
    "wacc_engines": ("tests/test_whatsapp.py::test_pair_receive_once_reply_once_acks",
                     "wacc/simulator/plugin.py"),
    "wacc_ai_providers": ("tests/test_ai_providers_routing.py::test_a_provider_package_installs_and_appears",
                          "plugins/wacc-hello/wacc_hello/__init__.py"),
    "wacc_cli": ("tests/test_cli.py::test_plugins_list_and_plugin_commands", "tests/support/cli.py"),
    "wacc_runtime_parts": (
        "tests/test_plugin_hooks.py::test_a_plugin_part_is_kept_for_the_process_and_closed_with_it",
        "tests/test_plugin_hooks.py"),
    "wacc_event_handlers": ("tests/test_events.py::test_inbox_activity_becomes_durable_events",
                            "tests/test_events.py"),
}


def hook_names() -> set[str]:
    """The hook specifications, as pluggy sees them (it marks each with wacc_spec)."""
    return {name for name, fn in inspect.getmembers(spec, inspect.isfunction)
            if hasattr(fn, f"{spec.PROJECT}_spec")}


def test_every_hook_is_in_the_registry() -> None:
    names = hook_names()
    assert len(names) >= 8  # the spec was read
    assert set(EXERCISED) == names, "EXERCISED must name one test per hook of wacc/plugins/spec.py"


def test_every_registered_test_exists_and_its_implementation_defines_the_hook() -> None:
    for hook, (node_id, implementation) in EXERCISED.items():
        path, _, name = node_id.partition("::")
        tree = ast.parse((REPO / path).read_text())
        tests = {n.name for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert name in tests, f"{hook}: no test {node_id}"
        # A plugin written as a module, a class or a source string: `def <hook>(` is there.
        assert re.search(rf"\bdef {hook}\(", (REPO / implementation).read_text()), (
            f"{hook}: {implementation} does not implement it")


def test_every_hook_has_a_section_in_the_docs() -> None:
    sections = re.findall(r"^## `?(\w+)`?", (REPO / "docs" / "plugins.md").read_text(), re.M)
    missing = hook_names() - set(sections)
    assert not missing, f"docs/plugins.md has no '## <hook>' section for {sorted(missing)}"


@get("/hello-page", media_type=MediaType.HTML)
async def hello_page() -> str:
    return "<!doctype html><title>Hello</title><p>hello from a plugin page</p>"


class PagePlugin:
    @spec.hookimpl
    def wacc_pages(self) -> list[Any]:
        return [hello_page]


async def test_a_plugin_page_is_served_behind_the_sign_in(make_client) -> None:
    plugins = PluginManager(["none"], BUILTIN_PLUGINS)
    plugins.pm.register(PagePlugin(), name="test-pages")
    c = await make_client(plugins=plugins)
    r = await c.get("/hello-page", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code in (302, 303), r.text  # signed out: sent to sign in
    assert r.headers["location"].startswith("/login")
    await register(c)
    await ui_login(c, "owner@example.com", PASSWORD)
    r = await c.get("/hello-page", headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text
    assert "hello from a plugin page" in r.text


class Greeter:
    """What a plugin keeps for the whole process (a client, a cache); closed at shutdown."""

    def __init__(self, runtime: Runtime) -> None:
        self.data_dir = runtime.settings.data_path  # the hook is handed the runtime
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class PartsPlugin:
    @spec.hookimpl
    def wacc_runtime_parts(self, runtime: Runtime) -> dict[str, Any]:
        # A key of wacc's own is not taken over: the AI router stays wacc's.
        return {"hello.greeter": Greeter(runtime), "ai.router": "not a router"}


async def test_a_plugin_part_is_kept_for_the_process_and_closed_with_it(tmp_path) -> None:
    settings = load_settings({"WACC_DATA_DIR": str(tmp_path),
                              "WACC_SECRET_KEY": encode_key(new_key())})
    plugins = PluginManager(["none"], BUILTIN_PLUGINS)
    plugins.pm.register(PartsPlugin(), name="test-parts")
    rt = Runtime.build(settings, load_keyring(settings), plugins)
    greeter = rt.part("hello.greeter", Greeter)
    assert rt.part("hello.greeter", Greeter) is greeter  # one per process
    assert greeter.data_dir == settings.data_path
    # wacc's own features register theirs the same way, each read back typed.
    assert isinstance(router_of(rt), AiRouter) and "openai" in router_of(rt).factories
    assert isinstance(answer_cache_of(rt), AnswerCache)
    assert isinstance(presence_of(rt), MemoryPresence)  # no Redis configured
    assert isinstance(rpc_of(rt), SessionRpc)
    assert isinstance(inbound_of(rt), Inbound)  # the messages feature's pipeline
    with pytest.raises(LookupError, match=r"hello\.greeter"):
        rt.part("hello.greeter", AiRouter)  # the wrong type is not handed out
    await rt.close_parts()
    assert greeter.closed
    await rt.bus.close()
    # Without plugins (the command line's runtime) there are no parts, and asking says so.
    bare = Runtime.build(settings, load_keyring(settings))
    with pytest.raises(LookupError, match=r"ai\.router"):
        router_of(bare)
    await bare.bus.close()
