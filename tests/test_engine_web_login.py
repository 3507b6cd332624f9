"""The web engine's login and self-healing, in the real Chromium against the fake
WhatsApp Web (see test_engine_web.py): QR rotation, pairing codes, logouts, page-reported
endings, and restarts after hangs, crashes and memory growth."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.whatsapp_web import FakeWhatsAppWeb
from tests.web_engine_support import (
    DRIVER,
    RecordingHost,
    browser,
    peer,
    renderer_pids,
)
from wacc.engines.contract import (
    Authenticated,
    Disconnected,
    DisconnectReason,
    NotConnectedError,
    OutboundMessage,
    PairingCode,
    Peer,
    PermanentEngineError,
    QrCode,
    Ready,
    StateChanged,
)
from wacc.engines.web.browser import (
    find_browser_pid,
)
from wacc.engines.web.engine import WebEngine
from wacc.engines.web.supervisor import Backoff, Supervisor

# -- login ------------------------------------------------------------------------------------


@browser
@pytest.mark.slow
async def test_qr_codes_rotate_and_stop_after_max_qr(tmp_path: Path) -> None:
    # The first code outlives wa-js's start (it waits for the modules to settle).
    fake = FakeWhatsAppWeb(first_qr_ms=2500, qr_interval_ms=200)
    host = RecordingHost(tmp_path, max_qr=3)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    ending = await host.wait_for(Disconnected)
    codes = host.of(QrCode)
    assert [q.attempt for q in codes] == [1, 2, 3]
    # wa-js's getAuthCode(): "<ref>,<noise key>,<identity key>,<adv secret>" (base64 keys).
    assert len({q.code for q in codes}) == 3
    assert all(q.code.startswith("2@") and len(q.code.split(",")) == 4 for q in codes)
    assert ending.reason == DisconnectReason.QR_TIMEOUT
    # The QR screen is wa-js's conn.main_ready too; it must never have looked logged in.
    assert host.of(Ready) == [] and host.of(Authenticated) == []
    await engine.stop()
    assert engine.page is None and find_browser_pid(engine.profile) is None
    assert host.of(Disconnected) == [ending]  # stop() after the end adds nothing


@browser
@pytest.mark.slow
async def test_qr_scan_is_ready_with_me_and_restores_without_qr(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(me="15550000001")
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(QrCode)
    # Real wa-js has emitted conn.main_ready (stream mode QR) by now: not logged in.
    assert await fake.evaluate("() => WPP.conn.isMainReady() && !WPP.conn.isAuthenticated()")
    await asyncio.sleep(0.3)
    assert host.of(Ready) == []
    with pytest.raises(NotConnectedError):
        await engine.send(OutboundMessage(idempotency_key="k-early", to=peer(), body="too early"))
    await fake.scan()
    await host.wait_for(Authenticated)
    assert (await host.wait_for(Ready)).me == Peer(wa_id="15550000001@c.us", phone="+15550000001")
    assert len(host.of(Ready)) == 1
    await engine.stop()

    # Same profile, new engine: WhatsApp's stored login (here: the stand-in's
    # localStorage flag) survived in the profile, so no QR code this time.
    host2 = RecordingHost(tmp_path)
    engine2 = WebEngine(host2, driver=DRIVER, context_hook=FakeWhatsAppWeb(me="15550000001").install)
    await engine2.start()
    assert (await host2.wait_for(Ready)).me.wa_id == "15550000001@c.us"
    assert host2.of(QrCode) == []
    await engine2.stop()


@browser
@pytest.mark.slow
async def test_pairing_code_refreshes_until_typed_then_ready(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(me="15550000001")
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(QrCode)
    code = await engine.request_pairing_code("+1 (555) 000-0001")
    assert len(code) == 8 and code == await fake.pairing_code()
    assert await host.wait_for(PairingCode) == PairingCode(code=code, phone="+15550000001")
    # wa-js's genLinkDeviceCodeForPhoneNumber -> WhatsApp's, with the digits only.
    assert (await fake.calls("genLinkDeviceCodeForPhoneNumber"))[0]["args"] == ["15550000001", True]
    # The code expires; WhatsApp asks for a new one and wa-js renews it
    # (conn.link_code_change): the new code reaches wacc.
    await fake.refresh_pairing_code()
    renewed = await host.wait_for(PairingCode, lambda p: p.code != code)
    assert renewed.code == await fake.pairing_code() and renewed.phone == "+15550000001"
    await fake.enter_pairing_code(renewed.code)
    assert (await host.wait_for(Ready)).me == Peer(wa_id="15550000001@c.us", phone="+15550000001")
    with pytest.raises(PermanentEngineError):
        await engine.request_pairing_code("15550000001")
    await engine.stop()
    assert host.events[-1] == Disconnected(reason=DisconnectReason.STOPPED, detail="stopped on request")


@browser
@pytest.mark.slow
async def test_logout_on_request_forgets_the_login(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    await engine.logout()
    assert fake.logouts == 1  # wa-js was asked to log the device out of WhatsApp
    assert host.events[-1] == Disconnected(reason=DisconnectReason.LOGGED_OUT, detail="logged out on request")
    assert not engine.profile.exists()


@browser
@pytest.mark.slow
@pytest.mark.parametrize(
    ("drive", "reason"),
    [
        (lambda fake: fake.stream_mode("CONFLICT"), DisconnectReason.CONFLICT),
        (lambda fake: fake.stream_mode("DEPRECATED_VERSION"), DisconnectReason.NEEDS_UPDATE),
        (lambda fake: fake.needs_update(), DisconnectReason.NEEDS_UPDATE),
        (lambda fake: fake.stream_mode("TOS_BLOCK"), DisconnectReason.TOS_BLOCK),
    ],
    ids=["conflict", "deprecated-version", "needs-update", "tos-block"],
)
async def test_page_reported_endings(tmp_path: Path, drive: Callable[[FakeWhatsAppWeb], Any],
                                     reason: DisconnectReason) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    supervisor = Supervisor(lambda h: WebEngine(h, driver=DRIVER, context_hook=fake.install), host,
                            backoff=Backoff(base=0.05, jitter=0))
    run = asyncio.create_task(supervisor.run())
    await host.wait_for(Ready)
    if reason == DisconnectReason.NEEDS_UPDATE:
        # The first one is answered by clearing the cache and reloading once (issue 11
        # item 6, tests/test_engine_web_update.py); WhatsApp saying it again ends it.
        mark = len(host.events)
        await drive(fake)
        await host.wait_for(Ready, after=mark, timeout=20)
    await drive(fake)
    ending = await asyncio.wait_for(run, 15)
    assert ending.reason == reason
    assert supervisor.restarts == 0  # none of these is fixed by restarting


@browser
@pytest.mark.slow
async def test_remote_logout_is_permanent_and_not_restarted(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path)
    supervisor = Supervisor(lambda h: WebEngine(h, driver=DRIVER, context_hook=fake.install), host,
                            backoff=Backoff(base=0.05, jitter=0))
    run = asyncio.create_task(supervisor.run())
    await host.wait_for(Ready)
    await fake.remote_logout("user_initiated")
    ending = await asyncio.wait_for(run, 15)
    assert ending == Disconnected(reason=DisconnectReason.LOGGED_OUT,
                                  detail="logged out by WhatsApp (user_initiated)")
    assert supervisor.restarts == 0
    engine = supervisor.engine
    assert isinstance(engine, WebEngine) and engine.disconnect_reason == DisconnectReason.LOGGED_OUT
    assert (tmp_path / "profile").is_dir()  # nothing wiped: a person decides


# -- self-healing -------------------------------------------------------------------------------


Supervised = tuple[Supervisor, RecordingHost, asyncio.Task[Disconnected], FakeWhatsAppWeb]


async def supervised(tmp_path: Path, **settings: Any) -> Supervised:
    fake = FakeWhatsAppWeb(paired=True)
    host = RecordingHost(tmp_path, **settings)
    supervisor = Supervisor(lambda h: WebEngine(h, driver=DRIVER, context_hook=fake.install), host,
                            backoff=Backoff(base=0.2, factor=2, jitter=0))
    run = asyncio.create_task(supervisor.run())
    await host.wait_for(Ready)
    return supervisor, host, run, fake


async def restarted(supervisor: Supervisor, host: RecordingHost, mark: int) -> Disconnected:
    crash = await host.wait_for(Disconnected, after=mark, timeout=15)
    assert crash.reason == DisconnectReason.CRASHED
    await host.wait_for(Ready, after=host.events.index(crash))
    assert supervisor.restarts >= 1
    return crash


@browser
@pytest.mark.slow
async def test_hung_page_is_a_crash_and_restarted_with_backoff(tmp_path: Path) -> None:
    supervisor, host, run, fake = await supervised(tmp_path, watchdog_timeout=1.5)
    # A cache folder to see pruned while Chromium is down.
    cache = tmp_path / "profile" / "Default" / "Code Cache" / "js" / "stale"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"x" * 1000)
    started = time.monotonic()
    await fake.hang()
    crash = await restarted(supervisor, host, 0)
    assert "did not answer" in crash.detail
    assert supervisor.delays == [pytest.approx(0.2)]
    assert time.monotonic() - started < 10
    assert not cache.exists()
    assert (tmp_path / "profile" / "Default").is_dir()
    await supervisor.stop()
    assert (await asyncio.wait_for(run, 10)).reason == DisconnectReason.STOPPED


@browser
@pytest.mark.slow
async def test_renderer_and_browser_crashes_are_restarted(tmp_path: Path) -> None:
    supervisor, host, run, _ = await supervised(tmp_path)
    engine = supervisor.engine
    assert isinstance(engine, WebEngine)
    os.kill(renderer_pids(engine)[0], signal.SIGKILL)
    crash = await restarted(supervisor, host, 0)
    assert "renderer crashed" in crash.detail

    engine = supervisor.engine
    assert isinstance(engine, WebEngine) and engine.browser_pid is not None
    mark = len(host.events)
    os.kill(engine.browser_pid, signal.SIGKILL)
    crash = await restarted(supervisor, host, mark)
    assert crash.detail == "Chromium exited unexpectedly"
    assert supervisor.restarts == 2
    # Exponential: the second restart in a row waits twice as long.
    assert supervisor.delays == [pytest.approx(0.2), pytest.approx(0.4)]
    await supervisor.stop()
    await asyncio.wait_for(run, 10)


@browser
@pytest.mark.slow
async def test_stuck_opening_is_a_crash(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(never_boot=True)
    host = RecordingHost(tmp_path, opening_timeout=1)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    ending = await host.wait_for(Disconnected)
    assert ending.reason == DisconnectReason.CRASHED and "opening" in ending.detail
    await engine.stop()


@browser
@pytest.mark.slow
async def test_untyped_pairing_code_times_out(tmp_path: Path) -> None:
    # Long enough for wa-js to start (it waits ~1 s for WhatsApp's modules to settle).
    host = RecordingHost(tmp_path, opening_timeout=4, pairing_timeout=4)
    engine = WebEngine(host, driver=DRIVER, context_hook=FakeWhatsAppWeb().install)
    await engine.start()
    await host.wait_for(QrCode)
    await engine.request_pairing_code("15550000001")
    ending = await host.wait_for(Disconnected)
    assert ending.reason == DisconnectReason.QR_TIMEOUT and "pairing code" in ending.detail
    await engine.stop()


@browser
@pytest.mark.slow
async def test_memory_above_the_cap_restarts_chromium(tmp_path: Path) -> None:
    fake = FakeWhatsAppWeb(paired=True)
    # Checks spaced so the real wa-js (about a second to start) reaches Ready in between.
    host = RecordingHost(tmp_path, memory_cap_mb=1, memory_checks=4, watchdog_interval=0.6)
    engine = WebEngine(host, driver=DRIVER, context_hook=fake.install)
    await engine.start()
    await host.wait_for(Ready)
    first_pid = engine.browser_pid
    mark = len(host.events)
    await host.wait_for(StateChanged, lambda s: s.state == "RESTARTING", after=mark)
    await host.wait_for(Ready, after=mark)
    assert engine.restarts >= 1 and engine.browser_pid != first_pid
    assert host.of(Disconnected) == []  # a planned restart is not a disconnection
    await engine.stop()


