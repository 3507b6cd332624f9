from __future__ import annotations

from litestar import Controller, WebSocket, get, websocket

from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.schemas import Output
from wacc.realtime.connection import Connection
from wacc.realtime.presence import presence_of


class PresenceOut(Output):
    online: list[str]  # user ids with at least one open connection


class RealtimeController(Controller):
    path = "/"
    tags = ["Realtime"]

    @websocket("/ws", opt={"public": True, "no_audit": True})
    async def realtime(self, socket: WebSocket) -> None:
        """Live events (seed 5.2). The first event authenticates:
        ``{"type": "authenticate", "token": "<access token or API key>"}``."""
        await Connection(socket, socket.app.state["runtime"]).run()

    @get("/presence", opt={"permission": "read:users"})
    async def presence(self, principal: PrincipalDep, rt: RuntimeDep) -> PresenceOut:
        """Team members online now (any open WebSocket, on any web process)."""
        org = principal.organization_id
        return PresenceOut(online=sorted(await presence_of(rt).online(org)))
