"""The ``web`` engine: one WhatsApp number through WhatsApp Web in headless Chromium.

Chromium runs with a persistent profile per session (``<data_dir>/profile``), so a
restart needs no new QR code. One init script, added before WhatsApp's own scripts run
on every load and reload, sets ``WPPConfig``, loads the pinned wa-js bundle (checked
against its vendored hash) and our adapter (``adapter.js``). The adapter forwards
events as contract-shaped JSON through one exposed function; Python calls adapter
actions only (``window.__wacc.call``), always with a timeout.

WhatsApp Web reloads itself, logs out remotely, hangs and leaks memory. The engine
re-injects on reload (the init script), pings the page, reports a crashed or hung page
as ``Disconnected(CRASHED)``, and restarts Chromium itself when memory stays above the
cap or a scheduled restart is due. Restarting after a crash is the job of
:class:`wacc.engines.web.supervisor.Supervisor`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from playwright.async_api import BrowserContext, ConsoleMessage, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from wacc.engines.contract import (
    BlockChanged,
    Disconnected,
    DisconnectReason,
    EngineError,
    EngineEvent,
    EngineHost,
    InboundMessage,
    Media,
    NotConnectedError,
    OutboundMessage,
    PairingCode,
    Peer,
    PermanentEngineError,
    SendResult,
    StateChanged,
    TransientEngineError,
)
from wacc.engines.web import history
from wacc.engines.web.actions import chat_id, only_digits, send_payload, whatsapp_message_id
from wacc.engines.web.browser import (
    CHROMIUM_ARGS,
    IGNORED_DEFAULT_ARGS,
    MemoryUsage,
    apply_identity,
    chromium_executable,
    clear_site_caches,
    find_browser_pid,
    js_heap_bytes,
    kill_tree,
    prune_caches,
    tree_memory,
)
from wacc.engines.web.bundle import WaJsChoice, init_script
from wacc.engines.web.channel import BINDING, MalformedEvent, call_adapter, decode_page_event, first_line
from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.health import Health, RestartBudget
from wacc.engines.web.session import LOGIN_EVENTS, LoginState
from wacc.engines.web.settings import WebSettings

log = logging.getLogger(__name__)

WHATSAPP_URL = "https://web.whatsapp.com/"
# Closing Chromium normally takes well under a second; after this it is killed.
CLOSE_TIMEOUT = 10.0
# Seconds after a cache-clearing reload before NEEDS_UPDATE gets another one.
UPDATE_REARM = 600.0

ContextHook = Callable[[BrowserContext], Awaitable[None]]


class WebEngine:
    """:class:`wacc.engines.contract.Engine` over WhatsApp Web; also its own factory."""

    name: ClassVar[str] = "web"
    # WhatsApp bans numbers that send like machines. Half a message a second (the
    # manager adds jitter) is about a fast human's pace.
    default_rate: ClassVar[float] = 0.5
    # A send's WhatsApp id is derived from wacc's idempotency key and looked up before
    # sending (adapter.js findSent): a send repeated after a crash reports the first.
    resend_safe: ClassVar[bool] = True
    # Up to this many seconds of random pause before each send (the session manager
    # adds it; a session's `send_jitter_seconds` setting overrides it).
    send_jitter: ClassVar[float] = 2.0

    def __init__(
        self,
        host: EngineHost,
        *,
        driver: PlaywrightDriver | None = None,
        context_hook: ContextHook | None = None,
        vendor: Path | None = None,
        wa_js: WaJsChoice | None = None,
    ) -> None:
        """``driver``: the Playwright driver shared by the process's sessions (default:
        one of its own); ``context_hook`` runs on each new browser context before
        WhatsApp Web is opened (tests route the fake WhatsApp Web there); ``vendor``
        overrides where the vendored wa-js and its manifest are read from; ``wa_js``
        says which bundle to load (configured, installed or vendored; see bundle.py)."""
        self.host = host
        self.settings = WebSettings.from_host(host.settings)
        self.profile = Path(host.data_dir).absolute() / "profile"
        self._driver = driver or PlaywrightDriver()
        self._context_hook = context_hook
        self._wa_js = wa_js or WaJsChoice(vendor=vendor)
        self._wa_js_stamp: tuple[str, ...] = ()
        self._script = ""
        # NEEDS_UPDATE is answered by clearing caches and reloading: once, then again only
        # after UPDATE_REARM seconds (a reload that did not help must not loop).
        self._update_reload: tuple[float, int] | None = None  # (when, document number)
        self.update_reloads = 0
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._browser_pid: int | None = None
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self._pump_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._recycle_task: asyncio.Task[None] | None = None
        self._teardown_task: asyncio.Task[None] | None = None
        self._down = asyncio.Event()
        self._ending: DisconnectReason | None = None
        self._final: Disconnected | None = None
        self._browser_closing = False
        self._login = LoginState(max_qr=self.settings.max_qr)
        self._health = Health(self.settings, host.session_id)
        self._restart_budget = RestartBudget.of_session(
            str(self.profile), self.settings.max_restarts, self.settings.restart_window_hours * 3600)
        self._documents = 0
        # Counters for health pages and tests.
        self.dropped_events = 0
        self.reloads = 0
        self.restarts = 0
        self.last_memory: MemoryUsage | None = None

    @property
    def page(self) -> Page | None:
        return self._page

    @property
    def browser_pid(self) -> int | None:
        return self._browser_pid

    @property
    def disconnect_reason(self) -> DisconnectReason | None:
        """Why the engine ended (None while it runs); permanent reasons need a person."""
        return self._ending

    @property
    def is_ready(self) -> bool:
        return self._login.phase == "ready"

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._pump_task is not None:
            return
        # Checked before anything launches: a tampered bundle never reaches the page.
        self._wa_js_stamp = self._wa_js.stamp()
        self._script = init_script(self._wa_js.load())
        # Chromium's caches grow without bound; between runs nothing uses them.
        try:
            prune_caches(self.profile)
        except (OSError, RuntimeError) as exc:
            log.warning("session %s: could not prune caches: %s", self.host.session_id, exc)
        self._events = asyncio.Queue()
        self._down = asyncio.Event()
        self._ending = self._final = None
        self._login = LoginState(max_qr=self.settings.max_qr)
        self._pump_task = asyncio.create_task(self._pump(), name=f"wacc-web-events-{self.host.session_id}")
        try:
            await asyncio.wait_for(self._launch(), self._launch_deadline())
        except BaseException as exc:
            await self._close_browser(stop_driver=True)
            self._pump_task.cancel()
            self._pump_task = None
            if isinstance(exc, PlaywrightError | TimeoutError):
                code = "NETWORK" if "net::" in str(exc) else "LAUNCH_FAILED"
                message = f"could not open WhatsApp Web: {first_line(exc)}"
                raise TransientEngineError(message, code=code) from exc
            raise

    async def stop(self) -> None:
        if self._pump_task is None:
            return
        self._end(DisconnectReason.STOPPED, "stopped on request")
        await self._wait_down()

    async def logout(self) -> None:
        if self._pump_task is not None and self._ending is None:
            self._login.logging_out = True
            if self._page is not None:
                try:
                    await self._call("logout", require_ready=False)
                except EngineError as exc:
                    log.warning("session %s: logging out in WhatsApp failed: %s", self.host.session_id, exc)
            self._end(DisconnectReason.LOGGED_OUT, "logged out on request")
        if self._pump_task is not None:
            await self._wait_down()
        # Forget the login: the next start shows a new QR code.
        shutil.rmtree(self.profile, ignore_errors=True)

    async def request_pairing_code(self, phone: str) -> str:
        digits = only_digits(phone)
        if not digits:
            raise PermanentEngineError("a pairing code needs a phone number", code="BAD_PHONE")
        if self._login.phase == "ready":
            raise PermanentEngineError("this session is already logged in", code="ALREADY_AUTHENTICATED")
        code = str(await self._call("requestPairingCode", {"phone": digits}, require_ready=False))
        # Through the event queue, so it is ordered with the page's own events.
        self._events.put_nowait(PairingCode(code=code, phone=f"+{digits}"))
        return code

    # -- actions --------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        payload = send_payload(message)
        message_id = whatsapp_message_id(self.host.session_id, message.idempotency_key)
        if message.type != "REACTION":
            payload["message_id"] = message_id
        value = await self._call("send", payload)
        sent_id = value.get("id") if isinstance(value, dict) else None
        timestamp = value.get("timestamp") if isinstance(value, dict) else None
        return SendResult(
            # WhatsApp gives a reaction no id of its own; this one is stable per key.
            id=str(sent_id or f"reaction:{message_id}"),
            timestamp=float(timestamp or time.time()),
        )

    async def edit(self, chat: Peer, message_id: str, body: str) -> None:
        await self._call("edit", {"chat": chat_id(chat), "id": message_id, "body": body})

    async def revoke(self, chat: Peer, message_id: str) -> None:
        await self._call("revoke", {"chat": chat_id(chat), "id": message_id})

    async def mark_read(self, chat: Peer, message_ids: list[str]) -> None:
        # WhatsApp Web reads a chat up to its newest message; single messages cannot
        # be marked, so the ids only say that there is something to read.
        await self._call("markRead", {"chat": chat_id(chat)})

    async def typing(self, chat: Peer, on: bool) -> None:
        await self._call("typing", {"chat": chat_id(chat), "on": on})

    async def profile_picture(self, peer: Peer) -> str | None:
        url = await self._call("profilePicture", {"id": chat_id(peer)})
        return str(url) if url else None

    async def set_blocked(self, peer: Peer, blocked: bool) -> None:
        value = await self._call("setBlocked", {"id": chat_id(peer), "blocked": blocked})
        now_blocked = bool(value.get("blocked", blocked)) if isinstance(value, dict) else blocked
        self._events.put_nowait(BlockChanged(peer=peer, blocked=now_blocked))

    async def history_chats(self, since: float) -> list[Peer]:
        return await history.chats_since(self._call, since)

    async def history(self, chat: Peer, since: float) -> list[InboundMessage]:
        return await history.messages_since(self._call, chat_id(chat), since)

    async def download_media(self, media: Media) -> bytes:
        if media.data is not None:
            return media.data
        if not media.fetch:
            raise PermanentEngineError("this media has no download handle", code="BAD_MEDIA")
        value = await self._call("downloadMedia", {"id": media.fetch})
        try:
            return base64.b64decode(value["data"], validate=True)
        except (TypeError, KeyError, ValueError) as exc:
            raise TransientEngineError("the page returned unreadable media", code="BAD_MEDIA") from exc

    async def memory_bytes(self) -> int | None:
        """The memory this session's Chromium has grown, as the cap measures it: the
        process tree's anonymous memory from /proc (see MemoryUsage), or, when the tree
        cannot be found, the page's JavaScript heap via CDP."""
        if self._browser_pid is not None:
            usage = tree_memory(self._browser_pid)
            if usage.processes:
                self.last_memory = usage
                return usage.anon
        if self._context is None or self._page is None:
            return None
        return await js_heap_bytes(self._context, self._page, self.settings.watchdog_timeout)

    # -- browser --------------------------------------------------------------------------

    async def _launch(self) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        if self._playwright is None:
            self._playwright = await self._driver.acquire()
        executable = chromium_executable(self.settings.executable_path)
        user_agent = await self._driver.user_agent(self._playwright, executable)
        extra: dict[str, Any] = {"proxy": {"server": self.settings.proxy}} if self.settings.proxy else {}
        self._browser_closing = False
        try:
            context = await self._playwright.chromium.launch_persistent_context(
                str(self.profile),
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_ARGS),
                ignore_default_args=list(IGNORED_DEFAULT_ARGS),
                user_agent=user_agent,
                locale="en-US",
                timeout=self.settings.navigation_timeout * 1000,
                **extra,
            )
        except PlaywrightError:
            self._driver.broken(self._playwright)
            raise
        self._context = context
        context.on("close", lambda ctx: self._lost(ctx, "Chromium exited unexpectedly"))
        self._browser_pid = find_browser_pid(self.profile)
        if self._context_hook is not None:
            await self._context_hook(context)
        await context.expose_function(BINDING, self._on_page_event)
        await context.add_init_script(script=self._script)
        page = context.pages[0] if context.pages else await context.new_page()
        self._page = page
        await apply_identity(context, page, await self._driver.identity(self._playwright, executable))
        page.on("crash", lambda p: self._lost(p, "the WhatsApp Web renderer crashed"))
        page.on("close", self._on_page_close)
        page.on("domcontentloaded", self._on_document)
        page.on("console", self._on_console)
        self._documents = 0
        self._health = Health(self.settings, self.host.session_id)
        self._login.opening()
        self._events.put_nowait(StateChanged(state="OPENING"))
        self._watchdog_task = asyncio.create_task(
            self._watchdog(), name=f"wacc-web-watchdog-{self.host.session_id}"
        )
        await page.goto(
            WHATSAPP_URL, wait_until="domcontentloaded", timeout=self.settings.navigation_timeout * 1000
        )

    async def _close_browser(self, *, stop_driver: bool) -> None:
        self._browser_closing = True
        current = asyncio.current_task()
        if self._watchdog_task is not None and self._watchdog_task is not current:
            self._watchdog_task.cancel()
        self._watchdog_task = None
        context, pid = self._context, self._browser_pid
        self._context = self._page = None
        self._browser_pid = None
        connected = context is not None and context.browser is not None and context.browser.is_connected()
        if context is not None and connected:
            try:
                await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)
            except (TimeoutError, PlaywrightError) as exc:
                log.warning("session %s: closing Chromium failed (%s); killing it", self.host.session_id, exc)
        if pid is not None and find_browser_pid(self.profile) == pid:
            kill_tree(pid)
        if stop_driver and self._playwright is not None:
            # Swapped out first: a recycle and a teardown may both get here.
            playwright, self._playwright = self._playwright, None
            await self._driver.release(playwright)

    def _launch_deadline(self) -> float:
        # Launch, user agent and first navigation, with slack: after this, it will not come up.
        return 2 * self.settings.navigation_timeout + 30

    def _lost(self, source: object, detail: str) -> None:
        # Events of a context/page we closed ourselves, or of an earlier generation.
        if self._browser_closing or source not in (self._context, self._page):
            return
        self._end(DisconnectReason.CRASHED, detail)

    def _end(self, reason: DisconnectReason, detail: str, *, final: bool = False) -> None:
        """End this run once: report why (after the events already queued), tear down.
        *final*: restarting cannot help (the restart budget is used up)."""
        if self._ending is not None or self._pump_task is None:
            return
        self._ending = reason
        self._final = Disconnected(reason=reason, detail=detail, final=final)
        log.log(
            logging.INFO if reason == DisconnectReason.STOPPED else logging.WARNING,
            "session %s: web engine ends: %s (%s)", self.host.session_id, reason.value, detail,
        )
        self._events.put_nowait(self._final)
        self._teardown_task = asyncio.create_task(self._teardown())

    async def _teardown(self) -> None:
        try:
            if self._recycle_task is not None and self._recycle_task is not asyncio.current_task():
                self._recycle_task.cancel()
            await self._close_browser(stop_driver=True)
        finally:
            self._login.phase = "stopped"
            self._down.set()

    async def _wait_down(self) -> None:
        await self._down.wait()
        if self._pump_task is not None:
            try:
                await asyncio.wait_for(self._pump_task, CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("session %s: the host did not take the last events in time", self.host.session_id)
            self._pump_task = None

    async def _recycle(self, reason: str) -> None:
        """Restart Chromium on the same profile without ending the session."""
        log.warning("session %s: restarting Chromium: %s", self.host.session_id, reason)
        self.restarts += 1
        self._login.opening()
        self._events.put_nowait(StateChanged(state="RESTARTING"))
        await self._close_browser(stop_driver=False)
        try:
            prune_caches(self.profile)
        except (OSError, RuntimeError) as exc:
            log.warning("session %s: could not prune caches: %s", self.host.session_id, exc)
        try:
            await asyncio.wait_for(self._launch(), self._launch_deadline())
        except (PlaywrightError, OSError, TimeoutError) as exc:
            self._end(DisconnectReason.CRASHED, f"restart failed: {first_line(exc)}")

    async def _refresh_for_update(self, page: Page, detail: str) -> None:
        """NEEDS_UPDATE, first time: unregister WhatsApp's service worker, drop its cached
        scripts and reload; the login (IndexedDB, Local Storage) stays. A stale service
        worker serving an old build is the usual cause (the known fix of WhatsApp Web
        wrappers, e.g. nativefier issue #719's quirk). A second NEEDS_UPDATE ends it."""
        log.warning("session %s: %s; clearing WhatsApp Web's cache and reloading once",
                    self.host.session_id, detail)
        self.update_reloads += 1
        try:
            if self._context is not None:
                await clear_site_caches(self._context, page, WHATSAPP_URL.rstrip("/"))
            await page.reload(wait_until="domcontentloaded",
                              timeout=self.settings.navigation_timeout * 1000)
        except (PlaywrightError, TimeoutError) as exc:
            if self._page is page:
                self._end(DisconnectReason.NEEDS_UPDATE, f"{detail} (reload failed: {first_line(exc)})")

    def _new_bundle(self) -> str | None:
        """A different wa-js was installed or configured since this run started:
        restart Chromium onto it (the login is kept)."""
        self._wa_js_stamp, bundle = self._wa_js.changed(self._wa_js_stamp, self.host.session_id)
        if bundle is None:
            return None
        self._script = init_script(bundle)
        return f"wa-js {bundle.version} ({bundle.origin}) replaces the running one"

    # -- watchdog -------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        settings, health = self.settings, self._health
        while True:
            await asyncio.sleep(settings.watchdog_interval)
            page = self._page
            if self._ending is not None or page is None:
                return
            problem = await health.problem(page)
            if problem:
                self._end(DisconnectReason.CRASHED, problem)
                return
            pairing = self._login.phase == "pairing"
            if self._login.stuck_for() > (settings.pairing_timeout if pairing else settings.opening_timeout):
                if pairing:
                    # Not a fault of the page: nobody typed the code on the phone.
                    self._end(DisconnectReason.QR_TIMEOUT, "the pairing code was not entered in time")
                else:
                    limit = settings.opening_timeout
                    self._end(
                        DisconnectReason.CRASHED,
                        f"WhatsApp Web stayed {self._login.phase} for more than {limit:g} s",
                    )
                return
            memory = None
            # Only once logged in: loading and the first sync of a big account are
            # spikes, and a restart then would start them over (a loop).
            if settings.memory_cap_mb > 0 and self._login.phase == "ready":
                try:
                    memory = await self.memory_bytes()
                except (PlaywrightError, TimeoutError) as exc:
                    log.debug("session %s: memory unknown: %s", self.host.session_id, exc)
            reason = health.restart_reason(memory) or self._new_bundle()
            if reason and not self._restart_budget.spend():
                self._end(DisconnectReason.CRASHED, f"giving up after {self._restart_budget.describe()}"
                          f" (Chromium restarts do not help: {reason})", final=True)
                return
            if reason:
                # A new task: _recycle replaces this watchdog with a fresh one.
                self._recycle_task = asyncio.create_task(self._recycle(reason))
                return

    # -- events ---------------------------------------------------------------------------

    def _on_page_event(self, payload: object) -> None:
        # Called by Playwright for every __waccEmit(json); the pump decodes in order.
        if self._ending is None:
            self._events.put_nowait(payload)

    def _on_page_close(self, page: Page) -> None:
        # When Chromium dies, the page closes just before the context does; waiting a
        # moment lets the more telling "Chromium exited" be the reported cause.
        detail = "the WhatsApp Web page closed unexpectedly"
        asyncio.get_running_loop().call_later(0.5, self._lost, page, detail)

    def _on_document(self, page: Page) -> None:
        if page is not self._page:
            return
        self._documents += 1
        if self._documents > 1:
            # WhatsApp Web reloaded itself; the init script has injected wa-js and the
            # adapter again, and the page reports its state afresh.
            self.reloads += 1
            log.info("session %s: WhatsApp Web reloaded", self.host.session_id)
            self._login.opening()
            self._events.put_nowait(StateChanged(state="OPENING"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.text.startswith("[wacc adapter]"):
            log.warning("session %s: %s", self.host.session_id, message.text[:2000])

    async def _pump(self) -> None:
        """Deliver events to the host one at a time, in the order they happened."""
        while True:
            item = await self._events.get()
            if isinstance(item, EngineEvent):
                event = item
            else:
                try:
                    event = decode_page_event(item)
                except MalformedEvent as exc:
                    self.dropped_events += 1
                    log.warning("session %s: dropped a malformed event from the page (%s): %.300r",
                                self.host.session_id, exc, item)
                    continue
            for out in self._interpret(event):
                try:
                    await self.host.emit(out)
                except Exception:
                    log.exception("session %s: the host failed to take %s", self.host.session_id,
                                  type(out).__name__)
                if out is self._final:
                    return

    def _interpret(self, event: EngineEvent) -> list[EngineEvent]:
        if event is self._final:
            return [event]
        if self._ending is not None:
            # Messages that arrived before the end still count; login news does not.
            return [] if isinstance(event, LOGIN_EVENTS) else [event]
        verdict = self._login.interpret(event)
        if verdict.rejected:
            self.dropped_events += 1
            log.warning("session %s: dropped an event: %s", self.host.session_id, verdict.rejected)
        if verdict.end is not None and verdict.end.reason == DisconnectReason.NEEDS_UPDATE \
                and self._page is not None:
            last = self._update_reload
            if last is not None and last[1] == self._documents:
                return verdict.emit  # the same page saying it twice (stream mode + event)
            if last is None or time.monotonic() - last[0] > UPDATE_REARM:
                # Often only WhatsApp Web's cached copy is outdated: fetch it afresh.
                self._update_reload = (time.monotonic(), self._documents)
                self._recycle_task = asyncio.create_task(
                    self._refresh_for_update(self._page, verdict.end.detail))
                return verdict.emit
        if verdict.end is not None:
            self._end(verdict.end.reason, verdict.end.detail)
        return verdict.emit

    # -- calling the adapter --------------------------------------------------------------

    async def _call(self, action: str, args: dict[str, Any] | None = None, *, require_ready: bool = True
                    ) -> Any:
        page = self._page
        if page is None or self._ending is not None:
            raise NotConnectedError("WhatsApp Web is not running", code="NOT_CONNECTED")
        if require_ready and self._login.phase != "ready":
            phase = self._login.phase
            raise NotConnectedError(f"WhatsApp Web is not connected ({phase})", code="NOT_CONNECTED")
        return await call_adapter(page, action, args or {}, self.settings.action_timeout)
