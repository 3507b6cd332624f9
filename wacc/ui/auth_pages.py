"""Sign-in pages: first-run setup, login with the two-factor step, logout, invites and
password reset. The forms post JSON here (or to /api/v1) through static/js/app.js; these
endpoints only add what a browser needs on top of the auth services: the cookie."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template

from wacc.auth import services as auth
from wacc.auth import websession
from wacc.auth.controllers import _client
from wacc.auth.schemas import LoginIn, MfaLoginIn, RegisterIn
from wacc.http.context import get_principal, set_audit_org
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.guards import json_body_only
from wacc.http.schemas import Output
from wacc.lib.errors import NotFoundError, WaccError
from wacc.ui.render import page
from wacc.ui.session import clear_session, set_session
from wacc.users import services as users
from wacc.users.schemas import InviteAccept

PUBLIC = {"public": True}
# The posts that sign a browser in take JSON only (see json_body_only: login CSRF).
SETS_COOKIE = [json_body_only]


class SignedIn(Output):
    redirect: str


class SecondFactor(Output):
    mfa_required: bool
    mfa_token: str


def safe_next(target: str | None, default: str = "/inbox") -> str:
    """Only a path on this site: an open redirect would let a phishing link borrow our
    login page."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return default
    return target


def _signed_in(request: Request, access_token: str, where: str) -> Response[Any]:
    response: Response[Any] = Response(
        content=msgspec.to_builtins(SignedIn(redirect=where)), status_code=200
    )
    set_session(request, response, access_token)
    return response


class AuthPages(Controller):
    include_in_schema = False

    @get("/", opt=PUBLIC)
    async def home(self, request: Request) -> Redirect:
        if await auth.first_run():
            return Redirect(path="/setup")
        if get_principal(request.scope) is None:
            return Redirect(path="/login")
        return Redirect(path="/inbox")

    @get("/setup", opt=PUBLIC)
    async def setup(self, request: Request) -> Template | Redirect:
        """Step 1 of the wizard: the owner and the organization. Only before the first
        organization exists; step 2 (the first session) is /setup/session."""
        if not await auth.first_run():
            return Redirect(path="/setup/session" if get_principal(request.scope) else "/login")
        return page(request, "auth/setup.html")

    @post("/ui/setup", opt={**PUBLIC, "audit": "auth.register"}, guards=SETS_COOKIE)
    async def register(self, request: Request, rt: RuntimeDep, data: JSONBody[RegisterIn]) -> Response[Any]:
        tokens = await auth.register(rt, data, _client(request))
        set_audit_org(request.scope, tokens.user.organization_id, tokens.user.id)
        return _signed_in(request, tokens.access_token, "/setup/session")

    @get("/login", opt=PUBLIC)
    async def login_page(self, request: Request) -> Template | Redirect:
        if await auth.first_run():
            return Redirect(path="/setup")
        return page(request, "auth/login.html", next=safe_next(request.query_params.get("next")),
                    expired=bool(request.query_params.get("expired")))

    @post("/ui/login", opt={**PUBLIC, "audit": "auth.login"}, guards=SETS_COOKIE)
    async def login(self, request: Request, rt: RuntimeDep, data: JSONBody[LoginIn]) -> Response[Any]:
        out, org_id, user_id = await auth.login(
            rt, data.email, data.password, _client(request)
        )
        set_audit_org(request.scope, org_id, user_id)
        if out.mfa_required:
            return Response(content=msgspec.to_builtins(
                SecondFactor(mfa_required=True, mfa_token=out.mfa_token or "")))
        assert out.access_token is not None
        return _signed_in(request, out.access_token, safe_next(request.query_params.get("next")))

    @post("/ui/login/mfa", opt={**PUBLIC, "audit": "auth.login_mfa"}, guards=SETS_COOKIE)
    async def login_mfa(self, request: Request, rt: RuntimeDep, data: JSONBody[MfaLoginIn]) -> Response[Any]:
        tokens, org_id = await auth.login_mfa(
            rt, data.mfa_token, data.code, _client(request)
        )
        set_audit_org(request.scope, org_id, tokens.user.id)
        return _signed_in(request, tokens.access_token, safe_next(request.query_params.get("next")))

    @post("/ui/logout", opt={"audit": "auth.logout"})
    async def logout(self, request: Request, principal: PrincipalDep) -> Response[Any]:
        await auth.logout(principal, None)
        response: Response[Any] = Response(
            content=msgspec.to_builtins(SignedIn(redirect="/login")), status_code=200
        )
        clear_session(request, response)
        return response

    # A token per page view is no action of a person: it leaves no audit row.
    @post("/ui/socket-token", opt={"no_audit": True})
    async def socket_token(self, principal: PrincipalDep, rt: RuntimeDep) -> dict[str, str]:
        """A five-minute token for the page's WebSocket (the cookie is HttpOnly)."""
        assert principal.user_id is not None
        return {"token": websession.socket_token(
            rt, principal.user_id, principal.organization_id,
            principal.token_family or "")}

    @get("/invite/{token:str}", opt=PUBLIC)
    async def invite_page(self, request: Request, token: FromPath[str]) -> Template:
        try:
            info = await users.invite_info(token)
        except (NotFoundError, WaccError) as exc:
            return page(request, "error.html", status_code=404, status=404,
                        message=f"{exc.message} Ask your administrator for a new invite.")
        return page(request, "auth/invite.html", invite=info, token=token)

    @post("/ui/invite/accept", opt={**PUBLIC, "audit": "invite.accept"}, guards=SETS_COOKIE)
    async def accept_invite(self, request: Request, rt: RuntimeDep,
                            data: JSONBody[InviteAccept]) -> Response[Any]:
        user = await users.accept_invite(rt, data.token, data.password, data.name)
        set_audit_org(request.scope, user.organization_id, user.id)
        out, _, _ = await auth.login(rt, user.email, data.password, _client(request))
        if out.mfa_required or out.access_token is None:  # a fresh account has no 2FA yet
            return Response(content=msgspec.to_builtins(SignedIn(redirect="/login")))
        return _signed_in(request, out.access_token, "/inbox")

    @get("/forgot", opt=PUBLIC)
    async def forgot_page(self, request: Request) -> Template:
        return page(request, "auth/forgot.html")

    @get("/reset/{token:str}", opt=PUBLIC)
    async def reset_page(self, request: Request, token: FromPath[str]) -> Template:
        return page(request, "auth/reset.html", token=token)
