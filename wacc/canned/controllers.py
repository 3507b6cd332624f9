from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from wacc.canned import services
from wacc.canned.schemas import (
    CannedId,
    CannedResponseCreate,
    CannedResponseOut,
    CannedResponseUpdate,
    ExpandIn,
    ExpandOut,
)
from wacc.http.deps import PrincipalDep


class CannedResponseController(Controller):
    path = "/canned-responses"
    tags = ["Canned responses"]
    opt = {"resource": "canned_response"}

    @get("/", opt={"permission": "read:conversations"})
    async def list_canned_responses(
        self, principal: PrincipalDep, search: FromQuery[str | None] = None
    ) -> list[CannedResponseOut]:
        """List canned responses; ``search`` matches shortcut or content, ignoring case."""
        return await services.list_canned(principal, search)

    @post("/", opt={"permission": "write:canned-responses"}, status_code=201)
    async def create_canned_response(
        self, principal: PrincipalDep, data: JSONBody[CannedResponseCreate]
    ) -> CannedResponseOut:
        """Create a canned response; ``shortcut`` is stored without its leading slash."""
        return await services.create_canned(principal, data)

    # A read that happens to be a POST (it takes a body): composers call it on every
    # /shortcut, so it needs only read access and writes no audit row.
    @post("/expand", opt={"permission": "read:conversations", "no_audit": True},
          status_code=200)
    async def expand_canned_response(self, principal: PrincipalDep, data: JSONBody[ExpandIn]) -> ExpandOut:
        """Replace a leading ``/shortcut`` with its content and fill ``{{contact.name}}``,
        ``{{contact.phone}}`` and ``{{agent.name}}`` from ``variables``."""
        return await services.expand(principal, data)

    @patch("/{cannedId:str}", opt={"permission": "write:canned-responses"})
    async def update_canned_response(
        self, principal: PrincipalDep, canned_id: CannedId, data: JSONBody[CannedResponseUpdate]
    ) -> CannedResponseOut:
        return await services.update_canned(principal, canned_id, data)

    @delete("/{cannedId:str}", opt={"permission": "write:canned-responses"}, status_code=204)
    async def delete_canned_response(self, principal: PrincipalDep, canned_id: CannedId) -> None:
        await services.delete_canned(principal, canned_id)
