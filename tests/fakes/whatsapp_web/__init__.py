"""A stand-in for WhatsApp Web, under the REAL wa-js, for the ``web`` engine's offline tests.

:class:`FakeWhatsAppWeb` plays WhatsApp for one browser context: installed as the
engine's ``context_hook``, it answers ``https://web.whatsapp.com/`` through Playwright
routing with a small page under a nonce-based Content-Security-Policy, and refuses
every other request, so nothing leaves the box.

The page is not a fake wa-js. The engine's init script injects the vendored,
integrity-checked wa-js 4.6.0 bundle and our adapter, exactly as on the real site; the
page's own scripts (``standin/*.js``, in load order) are a stand-in of the parts of
WhatsApp Web that wa-js hooks into: its module runtime (``__d``/``require``/
``importNamespace``), the connection stream and login, the data models and stores, the
send/ack/edit/revoke paths and the blocklist. wa-js finds those modules by the same
shape conditions it uses on web.whatsapp.com (each module cites the wa-js source file
it satisfies), so every ``WPP.*`` call the adapter makes runs real wa-js code.

``window.__fake`` (standin/control.js, standin/traffic.js) is the hook that plays the
phone and WhatsApp's servers: QR scans, pairing codes, inbound traffic, acks, edits,
revokes, reactions, remote logout, conflicts, needs-update, reloads, hangs. The methods
below drive it. Each response gets a fresh nonce; ``served`` counts the page loads.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Route

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "standin"
# WhatsApp's runtime first, then its modules, then the "servers and phone" that drive them.
SCRIPTS = ("loader.js", "models.js", "conn.js", "stores.js", "chat.js", "control.js", "traffic.js")
WHATSAPP_ORIGIN = "https://web.whatsapp.com/"
ME = "15550000001"
# Every evaluate a test makes has a deadline too: a hung fake fails the test, not CI.
EVALUATE_TIMEOUT = 5.0

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WhatsApp</title>
<script nonce="{nonce}">window.__fakeConfig = {config};</script>
{scripts}
</head><body><div id="app">fake WhatsApp Web</div></body></html>
"""


class FakeWhatsAppWeb:
    def __init__(
        self,
        *,
        paired: bool = False,
        qr_interval_ms: int = 20_000,
        first_qr_ms: int = 60_000,
        max_refs: int = 6,
        never_boot: bool = False,
        lids: dict[str, str] | None = None,
        groups: list[dict[str, Any]] | None = None,
        me: str = ME,
    ) -> None:
        """``paired``: boot straight into a logged-in session (as if WhatsApp's stored
        keys were in the profile); ``qr_interval_ms``: how often QR codes rotate after the first, which
        WhatsApp shows for ``first_qr_ms``; after ``max_refs`` codes it stops;
        ``never_boot``: stay on the loading screen; ``lids``: "@lid" id -> phone
        digits WhatsApp maps it to (such contacts' chats are keyed by the "@lid" id);
        ``groups``: [{id, subject, participants: [{id, isAdmin}], iAmAdmin}] we are in."""
        self.config: dict[str, Any] = {
            "paired": paired,
            "qrIntervalMs": qr_interval_ms,
            "maxRefs": max_refs,
            "firstQrMs": first_qr_ms,
            "neverBoot": never_boot,
            "lids": lids or {},
            "groups": groups or [],
            "me": me,
        }
        self.me = me
        self.scripts = [(STANDIN / name).read_text(encoding="utf-8") for name in SCRIPTS]
        self.context: BrowserContext | None = None
        self.served = 0
        self.logouts = 0
        self.blocked_requests: list[str] = []
        self.nonces: list[str] = []

    async def install(self, context: BrowserContext) -> None:
        """The engine's ``context_hook``: route this context's traffic to the fake."""
        self.context = context
        await context.route("**/*", self._handle)

    async def _handle(self, route: Route) -> None:
        url = route.request.url
        if url.split("#")[0].split("?")[0] == WHATSAPP_ORIGIN and route.request.resource_type == "document":
            self.served += 1
            nonce = secrets.token_urlsafe(16)
            self.nonces.append(nonce)
            scripts = "\n".join(f'<script nonce="{nonce}">{script}</script>' for script in self.scripts)
            body = PAGE.format(nonce=nonce, config=json.dumps(self.config), scripts=scripts)
            await route.fulfill(
                status=200,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    # Like WhatsApp Web's own policy, scripts need the page's nonce: an
                    # injected <script> tag would be refused; init scripts are not.
                    "Content-Security-Policy": f"script-src 'nonce-{nonce}'; object-src 'none'",
                },
                body=body,
            )
            return
        if url == WHATSAPP_ORIGIN + "fake/logout":
            self.logouts += 1
            await route.fulfill(status=204)
            return
        self.blocked_requests.append(url)
        await route.abort()

    @property
    def page(self) -> Page:
        if self.context is None or not self.context.pages:
            raise RuntimeError("the fake is not installed in a running browser")
        return self.context.pages[0]

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        return await asyncio.wait_for(self.page.evaluate(expression, arg), EVALUATE_TIMEOUT)

    async def call(self, method: str, *args: Any) -> Any:
        return await self.evaluate("([m, a]) => window.__fake[m](...a)", [method, list(args)])

    async def wait_loaded(self) -> None:
        await self.page.wait_for_function("() => Boolean(window.__fake)", timeout=EVALUATE_TIMEOUT * 1000)

    # -- driving WhatsApp ---------------------------------------------------------------

    async def scan(self) -> None:
        await self.call("scan")

    async def pairing_code(self) -> str | None:
        """The code WhatsApp is waiting for right now (what the phone would accept)."""
        code = await self.call("pairingCode")
        return str(code) if code else None

    async def enter_pairing_code(self, code: str) -> None:
        await self.call("enterPairingCode", code)

    async def refresh_pairing_code(self) -> None:
        """WhatsApp asks for a new code (the shown one expired)."""
        await self.call("refreshPairingCode")

    async def needs_update(self) -> None:
        """WhatsApp refuses this WhatsApp Web version (DEPRECATED_VERSION)."""
        await self.call("needsUpdate")

    async def inbound(self, **spec: Any) -> str:
        """Deliver a message (see traffic.js for the spec); returns its key
        ("false_<chat>_<id>[_<participant>]")."""
        return str(await self.call("inbound", spec))

    async def ack(self, chat: str, ids: list[str], ack: int, participant: str | None = None) -> None:
        """Receipts for our messages: bare ids; in a group, ``participant`` read them."""
        await self.call("ack", chat, ids, ack, participant)

    async def message(self, message_id: str) -> dict[str, Any]:
        """A message as WhatsApp Web's store holds it now ({id, type, body, caption, ack})."""
        found = await self.call("message", message_id)
        if not isinstance(found, dict):
            raise AssertionError(f"WhatsApp Web's store has no message {message_id}")
        return found

    async def revoke(self, message_id: str, author: str | None = None) -> None:
        await self.call("revoke", message_id, author)

    async def edit(self, message_id: str, body: str) -> None:
        await self.call("edit", message_id, body)

    async def react(self, message_id: str, sender: str, emoji: str) -> None:
        await self.call("react", message_id, sender, emoji)

    async def remote_logout(self, reason: str | None = None) -> None:
        await self.call("remoteLogout", reason)

    async def stream_mode(self, mode: str) -> None:
        await self.call("streamMode", mode)

    async def reload(self) -> None:
        await self.call("reload")

    async def hang(self) -> None:
        await self.call("hang")

    async def emit_raw(self, payload: Any) -> None:
        await self.call("emitRaw", payload)

    async def calls(self, fn: str | None = None) -> list[dict[str, Any]]:
        """What reached WhatsApp's side (the stand-in's modules), in order."""
        calls = await self.evaluate("() => window.__fake.calls")
        return [c for c in calls if fn is None or c["fn"] == fn]
