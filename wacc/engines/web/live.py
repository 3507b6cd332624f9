"""`wacc doctor --live`: does wa-js plus our adapter still work on today's WhatsApp Web?

Opens https://web.whatsapp.com in a throwaway Chromium profile with the same launch
flags, identity and init script as a session, and waits for the adapter to report the
QR screen (a ``qr`` event). Nothing is linked: no one scans the code, and the profile
is deleted afterwards. Possible outcomes:

- ``qr``: the adapter reached the QR screen: wa-js found WhatsApp's modules;
- ``unreachable``: the site could not be loaded (no network, DNS, a firewall; as on CI);
- ``ready``: the adapter claimed a login in an empty profile (a bug in the adapter);
- ``no_qr``: the page loaded but no QR code came within the time limit, with the
  page's boot error if there was one: wa-js probably does not match this WhatsApp Web
  (try a newer one: `wacc wajs install`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from playwright.async_api import BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

from wacc.engines.web.browser import (
    CHROMIUM_ARGS,
    IGNORED_DEFAULT_ARGS,
    apply_identity,
    chromium_executable,
    desktop_identity,
)
from wacc.engines.web.bundle import WaJs, init_script
from wacc.engines.web.channel import BINDING

WHATSAPP_URL = "https://web.whatsapp.com/"


@dataclass(frozen=True)
class LiveResult:
    outcome: str  # qr | unreachable | ready | no_qr
    detail: str


async def live_check(wa_js: WaJs, *, url: str = WHATSAPP_URL, wait: float = 90.0,
                     executable: str | None = None,
                     context_hook: Callable[[BrowserContext], Awaitable[None]] | None = None,
                     ) -> LiveResult:
    """``context_hook`` runs on the new context before the page opens (tests route the
    WhatsApp Web stand-in there)."""
    events: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    def on_event(payload: object) -> None:
        try:
            event = json.loads(str(payload))
        except ValueError:
            return
        if isinstance(event, dict):
            events.put_nowait(event)

    with tempfile.TemporaryDirectory(prefix="wacc-live-") as profile:
        async with async_playwright() as playwright:
            binary = chromium_executable(executable)
            identity = await desktop_identity(playwright, binary)
            context = await playwright.chromium.launch_persistent_context(
                profile, executable_path=binary, headless=True, args=list(CHROMIUM_ARGS),
                ignore_default_args=list(IGNORED_DEFAULT_ARGS), user_agent=identity.user_agent,
                locale="en-US", timeout=60_000,
            )
            try:
                if context_hook is not None:
                    await context_hook(context)
                await context.expose_function(BINDING, on_event)
                await context.add_init_script(script=init_script(wa_js))
                page = context.pages[0] if context.pages else await context.new_page()
                await apply_identity(context, page, identity)
                try:
                    await page.goto(url, wait_until="domcontentloaded", timeout=min(wait, 60) * 1000)
                except PlaywrightError as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    return LiveResult("unreachable", f"{url} could not be loaded ({first[:200]})")
                return await _wait_for_login_screen(page, events, wait)
            finally:
                await context.close()


async def _wait_for_login_screen(page: Page, events: asyncio.Queue[dict[str, object]],
                                 wait: float) -> LiveResult:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (left := deadline - loop.time()) > 0:
        try:
            event = await asyncio.wait_for(events.get(), left)
        except TimeoutError:
            break
        if event.get("kind") == "qr":
            return LiveResult("qr", "the adapter reached the QR screen (wa-js works on this WhatsApp Web)")
        if event.get("kind") == "ready":
            return LiveResult("ready", "the adapter reported ready in an empty profile: adapter bug")
    boot_error = None
    with contextlib.suppress(PlaywrightError):
        boot_error = await page.evaluate("() => window.__waccBootError || null")
    detail = f"no QR code within {wait:g} s"
    if boot_error:
        detail += f"; boot error: {str(boot_error)[:300]}"
    return LiveResult("no_qr", detail + " (a newer wa-js may be needed: `wacc wajs install`)")
