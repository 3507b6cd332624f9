from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, JSONBody

from wacc.auth import reset, services
from wacc.auth.schemas import (
    LoginIn,
    LoginOut,
    LogoutIn,
    MeOut,
    MfaCodeIn,
    MfaDisableIn,
    MfaLoginIn,
    MfaSetupOut,
    PasswordChangeIn,
    PasswordForgotIn,
    PasswordForgotOut,
    PasswordResetIn,
    PasswordResetInfo,
    RecoveryCodesOut,
    RefreshIn,
    RegisterIn,
    TokensOut,
)
from wacc.http.context import request_id, set_audit_org
from wacc.http.deps import PrincipalDep, RuntimeDep, client_of
from wacc.users import services as users
from wacc.users.schemas import InviteAccept, InviteInfo, UserOut


def _client(request: Request) -> services.Client:
    ip, ua = client_of(request)
    return services.Client(ip=ip, user_agent=ua, request_id=request_id(request.scope))


class AuthController(Controller):
    path = "/auth"
    tags = ["Authentication"]
    opt = {"resource": "auth"}

    @post("/register", opt={"public": True, "errors": (403,), "audit": "auth.register"}, status_code=201)
    async def register(self, request: Request, rt: RuntimeDep, data: JSONBody[RegisterIn]) -> TokensOut:
        """Create the organization and its owner. Open on first run; afterwards only when
        WACC_AUTH_OPEN_SIGNUP is on (teammates join by invite)."""
        tokens = await services.register(rt, data, _client(request))
        set_audit_org(request.scope, tokens.user.organization_id, tokens.user.id)
        return tokens

    @post("/login", opt={"public": True, "errors": (401,), "audit": "auth.login"}, status_code=200)
    async def login(self, request: Request, rt: RuntimeDep, data: JSONBody[LoginIn]) -> LoginOut:
        """Sign in. With two-factor on, answers ``mfaRequired`` and an ``mfaToken`` for
        /auth/login/mfa instead of tokens. Repeated failures answer 429 (Retry-After)."""
        out, org_id, user_id = await services.login(
            rt, data.email, data.password, _client(request)
        )
        set_audit_org(request.scope, org_id, user_id)
        return out

    @post("/login/mfa", opt={"public": True, "errors": (401,), "audit": "auth.login_mfa"}, status_code=200)
    async def login_mfa(self, request: Request, rt: RuntimeDep, data: JSONBody[MfaLoginIn]) -> TokensOut:
        """Second step of sign-in: a code from the authenticator app, or a recovery code."""
        tokens, org_id = await services.login_mfa(
            rt, data.mfa_token, data.code, _client(request)
        )
        set_audit_org(request.scope, org_id, tokens.user.id)
        return tokens

    @post("/refresh", opt={"public": True, "errors": (401,), "audit": "auth.refresh"}, status_code=200)
    async def refresh(self, request: Request, rt: RuntimeDep, data: JSONBody[RefreshIn]) -> TokensOut:
        """Trade a refresh token for new tokens. Each refresh token works once."""
        tokens, org_id = await services.refresh(
            rt, data.refresh_token, _client(request)
        )
        set_audit_org(request.scope, org_id, tokens.user.id)
        return tokens

    @post("/logout", opt={"permission": "authenticated", "audit": "auth.logout"}, status_code=204)
    async def logout(self, principal: PrincipalDep, data: JSONBody[LogoutIn | None] = None) -> None:
        """End this sign-in: its refresh tokens and access tokens stop working."""
        await services.logout(principal, data.refresh_token if data else None)

    @get("/me", opt={"permission": "authenticated"})
    async def me(self, principal: PrincipalDep) -> MeOut:
        return await services.me(principal)

    @post("/password", opt={"permission": "authenticated", "audit": "auth.password_change"},
          status_code=204)
    async def change_password(self, principal: PrincipalDep, rt: RuntimeDep,
                              data: JSONBody[PasswordChangeIn]) -> None:
        """Change your password; your other sign-ins are ended."""
        await services.change_password(
            rt, principal, data.current_password, data.new_password
        )

    # Not audited by the middleware: it would hold the response until the e-mail is
    # sent. The service records the request in the account's log instead.
    @post("/password/forgot", opt={"public": True, "no_audit": True}, status_code=202)
    async def forgot_password(
        self, request: Request, rt: RuntimeDep, data: JSONBody[PasswordForgotIn]
    ) -> Response[PasswordForgotOut]:
        """Ask for a password reset link by e-mail. Answers the same 202 whether or not the
        address has an account; too many requests per address or IP answer 429."""
        client = _client(request)
        email = await reset.throttle_request(rt, data.email, client)
        # The look-up and the e-mail run after the response, so its timing is the same
        # for known and unknown addresses.
        return Response(
            PasswordForgotOut(message=reset.ACCEPTED), status_code=202,
            background=BackgroundTask(reset.send_reset_link, rt, email, client),
        )

    @get("/password/reset/{token:str}", opt={"public": True})
    async def password_reset_info(self, rt: RuntimeDep, token: FromPath[str]) -> PasswordResetInfo:
        """Whose password a reset link resets (masked e-mail) and until when it works;
        400 when it is invalid, expired or already used."""
        return await reset.reset_info(rt, token)

    @post("/password/reset", opt={"public": True, "audit": "auth.password_reset"},
          status_code=204)
    async def reset_password(self, request: Request, rt: RuntimeDep, data: JSONBody[PasswordResetIn]) -> None:
        """Choose a new password through a reset link; every sign-in of the account ends."""
        org_id, user_id = await reset.reset_password(
            rt, data.token, data.new_password
        )
        set_audit_org(request.scope, org_id, user_id)

    @post("/mfa/setup", opt={"permission": "authenticated", "audit": "auth.mfa_setup"},
          status_code=200)
    async def mfa_setup(self, principal: PrincipalDep, rt: RuntimeDep) -> MfaSetupOut:
        """Start two-factor enrolment: scan the QR code, then confirm a code at /mfa/enable."""
        return await services.mfa_setup(rt, principal)

    @post("/mfa/enable", opt={"permission": "authenticated", "audit": "auth.mfa_enable"},
          status_code=200)
    async def mfa_enable(self, principal: PrincipalDep, rt: RuntimeDep,
                         data: JSONBody[MfaCodeIn]) -> RecoveryCodesOut:
        """Confirm enrolment with a current code; returns one-time recovery codes."""
        return await services.mfa_enable(rt, principal, data.code)

    @post("/mfa/disable", opt={"permission": "authenticated", "audit": "auth.mfa_disable"},
          status_code=204)
    async def mfa_disable(self, principal: PrincipalDep, rt: RuntimeDep,
                          data: JSONBody[MfaDisableIn]) -> None:
        await services.mfa_disable(
            rt, principal, data.password, data.code
        )

    @post("/mfa/recovery-codes",
          opt={"permission": "authenticated", "audit": "auth.mfa_recovery_codes"},
          status_code=200)
    async def mfa_recovery_codes(self, principal: PrincipalDep, rt: RuntimeDep,
                                 data: JSONBody[MfaCodeIn]) -> RecoveryCodesOut:
        """Replace the recovery codes (the old ones stop working)."""
        return await services.mfa_recovery_codes(
            rt, principal, data.code
        )

    @get("/invites/{token:str}", opt={"public": True})
    async def invite_info(self, token: FromPath[str]) -> InviteInfo:
        """What an invite link is for, so the accept page can greet the invitee."""
        return await users.invite_info(token)

    @post("/invites/accept", opt={"public": True, "audit": "invite.accept"}, status_code=201)
    async def accept_invite(self, request: Request, rt: RuntimeDep, data: JSONBody[InviteAccept]) -> UserOut:
        """Accept an invite by choosing a password; then sign in as usual."""
        user = await users.accept_invite(rt, data.token, data.password, data.name)
        set_audit_org(request.scope, user.organization_id, user.id)
        return user
