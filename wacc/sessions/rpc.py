"""Commands to a running session, across processes.

A session's engine lives in exactly one `wa` process (the lease holder). Web and worker
processes reach it through a small HTTP listener that process runs (address in the
lease row), authenticated with a token derived from the master key. Embedded and
scaled mode use the same path; only the address differs.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath

from wacc.engines.contract import (
    EngineCommand,
    EngineError,
    NotConnectedError,
    PermanentEngineError,
    TransientEngineError,
    command_call,
)
from wacc.lib.clock import utcnow
from wacc.runtime import Runtime
from wacc.security.crypto import Keyring
from wacc.sessions.tables import SessionLease

HEADER = "X-Wacc-Rpc"
_PURPOSE = "wacc wa rpc v1"
TIMEOUT = httpx.Timeout(connect=3.0, read=120.0, write=30.0, pool=5.0)

Dispatcher = Callable[[str, str, dict[str, Any]], Awaitable[Any]]
# Where wacc.sessions.plugin registers the process's client (wacc_runtime_parts).
RPC = "sessions.rpc"


def rpc_token(keyring: Keyring) -> str:
    return base64.urlsafe_b64encode(keyring.derive(_PURPOSE)).decode()


def make_rpc_app(keyring: Keyring, dispatch: Dispatcher) -> Litestar:
    """The listener a `wa` process runs: POST /rpc/{session}/{method} with JSON args."""
    token = rpc_token(keyring)

    @post("/rpc/{session_id:str}/{method:str}", status_code=200)
    async def call(request: Request, session_id: FromPath[str], method: FromPath[str]) -> dict[str, Any]:
        if not hmac.compare_digest(request.headers.get(HEADER, ""), token):
            raise NotAuthorizedException()
        args = msgspec.json.decode(await request.body()) if await request.body() else {}
        try:
            result = await dispatch(session_id, method, args)
        except NotConnectedError as exc:
            return {"error": {"kind": "not_connected", "message": str(exc)}}
        except EngineError as exc:
            kind = "permanent" if exc.permanent else "transient"
            return {"error": {"kind": kind, "message": str(exc), "code": exc.code,
                              "retryAfter": exc.retry_after}}
        return {"result": msgspec.to_builtins(result)}

    # logging_config=None: wacc.logs configures logging; Litestar's default would replace it.
    return Litestar(route_handlers=[call], openapi_config=None, debug=False,
                    logging_config=None)


class SessionRpc:
    """Client side: find the session's process and call it."""

    def __init__(self, keyring: Keyring) -> None:
        self._token = rpc_token(keyring)
        # One client (connection pool) per event loop: building one per call cost about
        # 26 ms of CPU (TLS context, pool), during which the web process served nothing.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = self._clients[loop] = httpx.AsyncClient(timeout=TIMEOUT)
        return client

    async def aclose(self) -> None:
        """Close this event loop's client (at shutdown)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def call(self, session_id: str, method: str | EngineCommand, **args: Any) -> Any:
        """Run *method* (a command of the engine contract, or by name an engine's own
        call with its *args*) on the session's process; its result as JSON values."""
        if isinstance(method, EngineCommand):
            method, args = command_call(method)
        lease = await SessionLease.select(SessionLease.rpc_url).where(
            (SessionLease.session == session_id) & (SessionLease.expires_at > utcnow())
        ).first()
        if lease is None:
            raise NotConnectedError("the session is not running in any wa process")
        try:
            response = await self._client().post(
                f"{lease['rpc_url']}/rpc/{session_id}/{method}",
                content=msgspec.json.encode(args), headers={HEADER: self._token},
            )
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise NotConnectedError(f"the session's wa process did not answer ({reason})") from None
        if response.status_code != 200:
            raise TransientEngineError(f"wa process answered {response.status_code}")
        body = response.json()
        error = body.get("error")
        if error:
            cls = {"not_connected": NotConnectedError, "permanent": PermanentEngineError}.get(
                error["kind"], TransientEngineError)
            raise cls(error["message"], code=error.get("code", ""),
                      retry_after=error.get("retryAfter"))
        return body["result"]


def rpc_of(rt: Runtime) -> SessionRpc:
    """This process's client of the running sessions (one connection pool per loop)."""
    return rt.part(RPC, SessionRpc)
