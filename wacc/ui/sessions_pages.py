"""WhatsApp session pages: the setup wizard's second step (the first session), the
sessions list and detail with live status, and the simulator's customer phone.

Pages only read (wacc.sessions.services as the signed-in user); creating, connecting,
scanning and deleting go from the browser to /api/v1/whatsapp/sessions. The status
panels are htmx partials that static/js/sessions.js re-fetches on the live
session:status / session:qr events, so the QR code is drawn here, server-side, from the
code the database holds at that moment (never a stale image that 404s)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import segno
from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from markupsafe import Markup

from wacc.audit import services as audit
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import SessionId
from wacc.lib.errors import NotFoundError
from wacc.runtime import Runtime
from wacc.security.principal import Principal
from wacc.sessions import history, services
from wacc.sessions.schemas import SessionOut
from wacc.ui.render import page

READ = {"permission": "read:sessions"}
WRITE = {"permission": "write:sessions"}
API = "/api/v1/whatsapp/sessions"


@dataclass(frozen=True)
class EngineChoice:
    name: str
    title: str
    sentence: str


_ENGINES = {
    "simulator": EngineChoice(
        "simulator", "Simulator",
        "A pretend WhatsApp inside wacc: no phone needed. You play the customers yourself "
        "from a simulated phone. Best to try wacc out."),
    "web": EngineChoice(
        "web", "WhatsApp Web",
        "Links your own WhatsApp number as a linked device, by scanning a QR code with the "
        "phone (or typing a pairing code). Unofficial: WhatsApp may block numbers that "
        "behave like bots."),
    "cloud": EngineChoice(
        "cloud", "WhatsApp Cloud API",
        "Meta's official Business API: needs a Meta app, a business phone number id and "
        "an access token. No phone stays linked; messages arrive by webhook."),
}

# What a disconnect reason means for the person looking at the page, and what to do.
# Engines that can read past messages (docs/engines.md, History on connect).
HISTORY_ENGINES = ("web", "simulator")

_REASONS = {
    "LOGGED_OUT": "The phone logged out: the linked device was removed in WhatsApp on the "
                  "phone. Connect again and scan a new QR code.",
    "QR_TIMEOUT": "Nobody scanned the QR code in time. Connect again to get a new code.",
    "CONFLICT": "WhatsApp was opened in another browser, which took this session over. "
                "Connect again to take it back.",
    "NEEDS_UPDATE": "WhatsApp Web changed and needs a newer wacc: update wacc, then "
                    "connect again.",
    "TOS_BLOCK": "WhatsApp blocked this number. Check the WhatsApp app on the phone; "
                 "wacc cannot undo a ban.",
    "CRASHED": "The WhatsApp Web browser stopped working.",
    "NETWORK": "WhatsApp could not be reached (network problem).",
}
_CLOUD_LOGGED_OUT = ("Meta refused the access token or the phone number id. Check the "
                     "credentials, then connect again.")


@dataclass(frozen=True)
class StatusView:
    label: str
    tone: str  # ok, wait, bad, off: the badge's colour class
    message: str


def _reason(last_error: str | None) -> tuple[str, str]:
    """("LOGGED_OUT", "detail") out of the manager's "LOGGED_OUT: detail"."""
    if not last_error:
        return "", ""
    head, _, rest = last_error.partition(":")
    if head.strip() in _REASONS:
        return head.strip(), rest.strip()
    return "", last_error


def status_view(session: SessionOut) -> StatusView:
    """The session's state in words (what the badge and the note under it say)."""
    reason, detail = _reason(session.last_error)
    explained = _REASONS.get(reason, "")
    if session.engine == "cloud" and reason == "LOGGED_OUT":
        explained = _CLOUD_LOGGED_OUT
    if detail and reason:
        explained = f"{explained} Details: {detail}"
    elif detail:
        explained = detail
    if session.status == "CONNECTED":
        number = f" as {session.phone_number}" if session.phone_number else ""
        return StatusView("Connected", "ok", f"Connected{number}. Messages flow both ways.")
    if session.status == "QR_READY":
        return StatusView("Waiting for scan", "wait",
                          "Waiting for the QR code to be scanned (or a pairing code typed).")
    if session.status == "LOADING":
        if explained and session.desired_state == "CONNECTED":
            return StatusView("Reconnecting", "wait", f"Restarting after a problem: {explained}")
        return StatusView("Starting", "wait", "Starting the session…")
    if session.status == "FAILED":
        return StatusView("Failed", "bad", explained or "The session failed to start.")
    if reason == "LOGGED_OUT":
        return StatusView("Logged out", "bad", explained)
    if explained:
        return StatusView("Disconnected", "bad", explained)
    return StatusView("Disconnected", "off",
                      "Disconnected. Connect it to send and receive messages.")


def qr_svg(code: str) -> Markup:
    """The QR code as inline SVG (segno's own output: paths, no script, no user text)."""
    svg = segno.make(code, error="l").svg_inline(scale=5, border=2, dark="#111", light="#fff")
    return Markup(svg)  # noqa: S704 - generated by segno from the code, not user markup


def _engines(rt: Runtime) -> list[EngineChoice]:
    installed = sorted(rt.engines)
    known = [_ENGINES[name] for name in _ENGINES if name in installed]
    others = [EngineChoice(n, n, "An engine added by a plugin.") for n in installed
              if n not in _ENGINES]
    return known + others


def _webhook_url(rt: Runtime, session_id: str) -> str:
    base = rt.settings.public_url
    return f"{base}{API}/{session_id}/webhook"


async def _session(principal: Principal, session_id: str) -> SessionOut:
    return await services.get(principal, session_id)


def _form_context(rt: Runtime, then: str) -> dict[str, Any]:
    return {"engines": _engines(rt), "then": then,
            "verify_token": secrets.token_urlsafe(18), "api": API}


class SessionPages(Controller):
    include_in_schema = False

    # -- the wizard's second step ---------------------------------------------------

    @get("/setup/session", opt=WRITE)
    async def setup_session(self, request: Request, principal: PrincipalDep, rt: RuntimeDep,
                            session: Annotated[str | None, QueryParameter(max_length=64)] = None,
                            ) -> Template:
        """Step 2: add the first session; with ?session= it shows that one connecting."""
        current = await _session(principal, session) if session else None
        if current is None:
            existing = await services.list_sessions(principal)
            current = existing[0] if existing else None
        ctx = _form_context(rt, "redirect:/setup/session?session={id}")
        return page(request, "setup/session.html", section="sessions", session=current,
                    webhook_url=_webhook_url(rt, current.id) if current else "", **ctx)

    # -- sessions ----------------------------------------------------------------------

    @get("/sessions", opt=READ)
    async def sessions_list(self, request: Request, principal: PrincipalDep) -> Template:
        return page(request, "sessions/list.html", section="sessions",
                    **await self._rows_context(principal))

    @get("/ui/sessions/rows", opt=READ)
    async def sessions_rows(self, request: Request, principal: PrincipalDep) -> Template:
        return page(request, "sessions/_rows.html", **await self._rows_context(principal))

    async def _rows_context(self, principal: Principal) -> dict[str, Any]:
        sessions = await services.list_sessions(principal)
        return {"sessions": sessions, "views": {s.id: status_view(s) for s in sessions},
                "titles": {name: choice.title for name, choice in _ENGINES.items()}}

    @get("/sessions/new", opt=WRITE)
    async def sessions_new(self, request: Request, rt: RuntimeDep) -> Template:
        return page(request, "sessions/new.html", section="sessions",
                    **_form_context(rt, "redirect:/sessions/{id}"))

    @get("/sessions/{sessionId:str}", opt=READ)
    async def session_detail(self, request: Request, principal: PrincipalDep, rt: RuntimeDep,
                             session_id: SessionId) -> Template:
        current = await _session(principal, session_id)
        activity: list[Any] = []
        if principal.can("read:audit"):
            activity = (await audit.list_entries(principal, resource_id=session_id,
                                                 limit=20)).items
        # Past-message reads (wacc.sessions.history): engines that can read history.
        reads = (await history.list_for(principal, session_id)
                 if current.engine in HISTORY_ENGINES else None)
        return page(request, "sessions/detail.html", section="sessions", session=current,
                    status=status_view(current), activity=activity, history_reads=reads,
                    webhook_url=_webhook_url(rt, current.id))

    @get("/ui/sessions/{sessionId:str}/connect", opt=READ)
    async def connect_panel(self, request: Request, principal: PrincipalDep, session_id: SessionId,
                            wizard: Annotated[bool, QueryParameter()] = False) -> Template:
        """The live part: status in words, the QR code, the simulated scan, Done."""
        current = await _session(principal, session_id)
        code: str | None = None
        if current.status == "QR_READY" and principal.can("write:sessions"):
            _, code = await services.qr(principal, session_id)
        return page(request, "sessions/_connect.html", session=current,
                    status=status_view(current), qr=qr_svg(code) if code else None,
                    wizard=wizard)

    # -- the simulator's customer phone ----------------------------------------------------

    @get("/simulator/{sessionId:str}", opt=READ)
    async def simulator(self, request: Request, principal: PrincipalDep, rt: RuntimeDep,
                        session_id: SessionId) -> Template:
        current = await _session(principal, session_id)
        if current.engine != "simulator":
            raise NotFoundError("This session does not use the simulator, so it has no "
                                "customer phone.")
        # A file travels base64 in the JSON body (4 bytes for 3), under the body limit.
        body_limit = rt.settings.security.max_body_bytes
        return page(request, "simulator/phone.html", section="sessions", session=current,
                    status=status_view(current), max_kb=max(1, (body_limit - 4096) * 3 // 4 // 1024))

    @get("/simulator", opt=READ)
    async def simulator_pick(self, principal: PrincipalDep) -> Redirect:
        """The first simulator session's phone (a short address for the demo)."""
        for s in await services.list_sessions(principal):
            if s.engine == "simulator":
                return Redirect(path=f"/simulator/{s.id}")
        return Redirect(path="/sessions")
