"""The simulator's own endpoints, under the sessions API's path (the URL names the
session; the work is the simulator engine's, reached through the session RPC)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody

from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import SessionId
from wacc.lib.errors import ValidationError
from wacc.security.principal import Principal
from wacc.sessions import services as sessions
from wacc.sessions.rpc import rpc_of
from wacc.simulator.schemas import SimulateIn


async def _simulator_only(principal: Principal, session_id: str) -> None:
    if await sessions.engine_of(principal, session_id) != "simulator":
        raise ValidationError.field("sessionId", "not a simulator session")


class SimulatorController(Controller):
    path = "/whatsapp/sessions"
    tags = ["WhatsApp sessions"]
    opt = {"resource": "session"}

    @post("/{sessionId:str}/simulator", opt={"permission": "write:sessions",
                                              "audit": "session.simulate"}, status_code=200)
    async def simulate(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId,
                       data: JSONBody[SimulateIn]) -> dict[str, Any]:
        """The simulator's customer phone: scan, message, read, react, edit, revoke,
        logout, identity (simulator sessions only)."""
        await _simulator_only(principal, session_id)
        return await sessions.command(principal, session_id, rpc_of(rt), "simulate",
                                      action=data.action, **data.payload)

    # 409: the session is not connected (the simulator holds the outbox).
    @get("/{sessionId:str}/simulator/outbox", opt={"permission": "read:sessions", "errors": (409,)})
    async def simulator_outbox(self, principal: PrincipalDep, rt: RuntimeDep, session_id: SessionId,
                               to: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """What the business sent, as the simulated customers' phones received it."""
        await _simulator_only(principal, session_id)
        return await sessions.command(principal, session_id, rpc_of(rt), "outbox", to=to)
