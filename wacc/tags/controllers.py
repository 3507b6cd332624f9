from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from wacc.http.deps import PrincipalDep
from wacc.tags import services
from wacc.tags.schemas import TagCreate, TagId, TagOut, TagUpdate


class TagController(Controller):
    path = "/tags"
    tags = ["Tags"]
    opt = {"resource": "tag"}

    @get("/", opt={"permission": "read:contacts"})
    async def list_tags(self, principal: PrincipalDep) -> list[TagOut]:
        return await services.list_tags(principal)

    @post("/", opt={"permission": "write:tags"}, status_code=201)
    async def create_tag(self, principal: PrincipalDep, data: JSONBody[TagCreate]) -> TagOut:
        """Create a tag. Names are unique per organization, ignoring case."""
        return await services.create_tag(principal, data)

    @patch("/{tagId:str}", opt={"permission": "write:tags"})
    async def update_tag(self, principal: PrincipalDep, tag_id: TagId, data: JSONBody[TagUpdate]) -> TagOut:
        return await services.update_tag(principal, tag_id, data)

    @delete("/{tagId:str}", opt={"permission": "write:tags"}, status_code=204)
    async def delete_tag(self, principal: PrincipalDep, tag_id: TagId) -> None:
        """Delete a tag; contacts and conversations that carried it lose it."""
        await services.delete_tag(principal, tag_id)
