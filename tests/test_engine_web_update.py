"""The web engine against WhatsApp's updates and bot checks (issue 11 items 6 and 8), in
the real Chromium with the real wa-js over the WhatsApp Web stand-in: NEEDS_UPDATE
recovered by one cache-clearing reload, a newly installed wa-js picked up by running
sessions, a browser that does not look automated, and restarts that never loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.async_api import BrowserContext, Route

from tests.fakes.whatsapp_web import FakeWhatsAppWeb
from tests.web_engine_support import DRIVER, RecordingHost, browser
from wacc.assets import vendor_dir
from wacc.engines.contract import Disconnected, DisconnectReason, EngineFactory, Ready, StateChanged
from wacc.engines.web.bundle import WaJsChoice, integrity_of
from wacc.engines.web.engine import WebEngine
from wacc.engines.web.health import Health, RestartBudget
from wacc.engines.web.settings import WebSettings
from wacc.engines.web.supervisor import Backoff, Supervisor
from wacc.engines.web.wajs_install import install_bundle

BUNDLE = vendor_dir() / "@wppconnect" / "wa-js" / "wppconnect-wa.js"


@browser
@pytest.mark.slow
async def test_needs_update_clears_the_cache_and_reloads_once(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    page = engine.page
    assert page is not None
    # Something for the cache clearing to remove: a Cache Storage entry of the origin.
    await page.evaluate("async () => { const c = await caches.open('wa-assets'); "
                        "await c.put('/asset.js', new Response('old')); }")
    served = fake.served
    mark = len(host.events)
    await fake.needs_update()
    # Recovered: a fresh page load, the login kept (no QR), ready again.
    await host.wait_for(Ready, after=mark, timeout=20)
    assert fake.served == served + 1 and engine.update_reloads == 1
    assert host.of(Disconnected) == []
    assert await page.evaluate("async () => (await caches.keys()).length") == 0
    # The reload did not help (WhatsApp says it again): the session ends as before.
    await fake.needs_update()
    ending = await host.wait_for(Disconnected, timeout=20)
    assert ending.reason == DisconnectReason.NEEDS_UPDATE and engine.update_reloads == 1
    await engine.stop()


@browser
@pytest.mark.slow
async def test_a_newly_installed_wa_js_restarts_the_session_onto_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path / "session")
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install, wa_js=WaJsChoice(data_dir=data))
    await engine.start()
    await host.wait_for(Ready)
    assert await engine.page.evaluate("() => window.WPP.version") == "4.6.0"  # type: ignore[union-attr]
    newer = tmp_path / "wa.js"
    newer.write_text(BUNDLE.read_text(encoding="utf-8").replace("wa-js v4.6.0", "wa-js v4.6.1", 1)
                     .replace('version:"4.6.0"', 'version:"4.6.1"'), encoding="utf-8")
    mark = len(host.events)
    install_bundle(data, newer, integrity_of(newer.read_bytes()))
    await host.wait_for(StateChanged, lambda e: e.state == "RESTARTING", after=mark, timeout=10)
    await host.wait_for(Ready, after=mark, timeout=30)
    assert engine.restarts == 1
    script = engine._script
    assert "wa-js v4.6.1" in script and "wa-js v4.6.0" not in script
    await engine.stop()


# -- not flagged as a robot ---------------------------------------------------------------


@browser
@pytest.mark.slow
async def test_the_browser_does_not_look_automated(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    async def install(context: BrowserContext) -> None:
        async def serve(route: Route) -> None:
            seen.append(await route.request.all_headers())
            await route.fulfill(content_type="text/html", body="<title>t</title><p>page</p>")

        await context.route("https://web.whatsapp.com/**", serve)

    host = RecordingHost(tmp_path, watchdog_interval=60)
    engine = WebEngine(host, driver=DRIVER, context_hook=install)
    await engine.start()
    page = engine.page
    assert page is not None
    probe: dict[str, Any] = await page.evaluate("""async () => ({
        webdriver: navigator.webdriver,
        ua: navigator.userAgent,
        brands: navigator.userAgentData.brands,
        high: await navigator.userAgentData.getHighEntropyValues(['fullVersionList', 'uaFullVersion']),
        platform: navigator.userAgentData.platform,
    })""")
    await page.evaluate("() => fetch('/sub')")
    cdp = await engine._context.new_cdp_session(page)  # type: ignore[union-attr]
    product = (await cdp.send("Browser.getVersion"))["product"]  # "Chrome/156.0.8078.129"
    await cdp.detach()
    await engine.stop()
    full = product.split("/")[1]
    major = full.split(".")[0]
    assert probe["webdriver"] is False
    assert "Headless" not in probe["ua"] and f"Chrome/{major}." in probe["ua"]
    assert "Linux" in probe["ua"] and probe["platform"] == "Linux"
    chromium = {b["brand"]: b["version"] for b in probe["brands"]}
    assert chromium.get("Chromium") == major and not any("Headless" in b for b in chromium)
    assert probe["high"]["uaFullVersion"] == full
    # The headers sent match what the page says about itself.
    assert len(seen) >= 2
    for headers in seen:
        assert headers["user-agent"] == probe["ua"]
        assert f'"Chromium";v="{major}"' in headers["sec-ch-ua"] and "Headless" not in headers["sec-ch-ua"]
        assert headers["sec-ch-ua-platform"] == '"Linux"' and headers["sec-ch-ua-mobile"] == "?0"


def test_launch_flags_leave_automation_out() -> None:
    from wacc.engines.web.browser import CHROMIUM_ARGS, IGNORED_DEFAULT_ARGS

    assert "--disable-blink-features=AutomationControlled" in CHROMIUM_ARGS
    assert "--enable-automation" in IGNORED_DEFAULT_ARGS
    assert "--enable-automation" not in CHROMIUM_ARGS


# -- restarts never loop ------------------------------------------------------------------


def test_restart_budget_and_schedule(tmp_path: Path) -> None:
    now = [0.0]
    budget = RestartBudget(3, 3600, clock=lambda: now[0])
    assert [budget.spend() for _ in range(4)] == [True, True, True, False]
    now[0] = 3599
    assert not budget.spend()
    now[0] = 3600.5  # the first restarts left the window
    assert budget.spend()
    # One budget per session in the process: a new engine for it does not start afresh.
    shared = RestartBudget.of_session("s-budget", 2, 3600)
    assert RestartBudget.of_session("s-budget", 2, 3600) is shared
    assert RestartBudget.of_session("s-other", 2, 3600) is not shared
    # The engines a session manager makes one after another for a session share it.
    first, again = WebEngine(RecordingHost(tmp_path)), WebEngine(RecordingHost(tmp_path))
    assert first._restart_budget is again._restart_budget
    assert WebEngine(RecordingHost(tmp_path / "other"))._restart_budget is not first._restart_budget
    # restart_every_hours: the fallback planned restart, off by default.
    settings = WebSettings.from_host({"restart_every_hours": 0.5, "memory_cap_mb": 0})
    health = Health(settings, "s")
    assert health.restart_reason(None) is None
    health.launched_at -= 0.5 * 3600 + 1
    assert health.restart_reason(None) == "scheduled restart every 0.5 h"
    assert Health(WebSettings.from_host({}), "s").restart_reason(None) is None  # 0 = never
    defaults = WebSettings.from_host({})
    assert (defaults.max_restarts, defaults.restart_window_hours) == (3, 1.0)
    assert defaults.restart_every_hours == 0.0


@browser
@pytest.mark.slow
async def test_memory_cap_restarts_are_rate_limited(tmp_path: Path) -> None:
    # A cap no Chromium fits under: every round asks for a restart. Two are allowed in
    # the window; the third request ends the session with the reason, not a loop.
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path, memory_cap_mb=1, memory_checks=1, max_restarts=2,
                         restart_window_hours=1)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    ending = await host.wait_for(Disconnected, timeout=90)
    assert ending.reason == DisconnectReason.CRASHED
    assert ending.detail.startswith("giving up after 2 restarts within 1 h")
    assert ending.final  # the session manager must not start it again by itself
    assert "memory" in ending.detail and engine.restarts == 2
    await engine.stop()


class _Crashing:
    """An engine that starts and crashes at once, every time."""

    name = "crashing"

    def __init__(self, host: Any) -> None:
        self.host = host

    async def start(self) -> None:
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(self.host.emit(Disconnected(reason=DisconnectReason.CRASHED,
                                                                      detail="boom"))))

    async def stop(self) -> None:
        return None


async def test_supervisor_gives_up_past_its_restart_limit(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path)
    now = [0.0]
    supervisor = Supervisor(cast(EngineFactory, _Crashing), host, backoff=Backoff(base=0.001, jitter=0),
                            restart_limit=(3, 600.0), clock=lambda: now[0])
    ending = await asyncio.wait_for(supervisor.run(), 10)
    assert supervisor.restarts == 3
    assert ending.reason == DisconnectReason.CRASHED
    assert ending.detail == "not restarted: 3 restarts within 0.166667 h already; last: boom"
    assert host.events[-1] == ending  # the host hears why the session stays down
    assert ending.final
    assert json.dumps(ending.detail)  # one readable line


# -- wacc doctor --live, against the stand-in ------------------------------------------------


@browser
@pytest.mark.slow
@pytest.mark.parametrize(
    ("fake", "outcome"),
    [
        (lambda: FakeWhatsAppWeb(first_qr_ms=1500), "qr"),
        (lambda: FakeWhatsAppWeb(never_boot=True), "no_qr"),
        (lambda: FakeWhatsAppWeb(paired=True), "ready"),
    ],
    ids=["qr-screen", "never-boots", "ready-in-an-empty-profile"],
)
async def test_live_check_outcomes(fake: Any, outcome: str) -> None:
    from wacc.engines.web.bundle import load_wa_js
    from wacc.engines.web.live import live_check

    site = fake()
    result = await live_check(load_wa_js(), wait=8 if outcome == "no_qr" else 30,
                              context_hook=site.install)
    assert result.outcome == outcome, result
    assert site.served == 1


@browser
@pytest.mark.slow
async def test_restart_every_hours_restarts_chromium_on_schedule(tmp_path: Path) -> None:
    # The fallback where memory cannot be measured: a planned restart by age.
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path, memory_cap_mb=0, restart_every_hours=2 / 3600)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    first_pid = engine.browser_pid
    mark = len(host.events)
    await host.wait_for(StateChanged, lambda e: e.state == "RESTARTING", after=mark, timeout=20)
    await host.wait_for(Ready, after=mark, timeout=30)
    assert engine.restarts >= 1 and engine.browser_pid != first_pid
    assert host.of(Disconnected) == []
    await engine.stop()
