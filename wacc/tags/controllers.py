from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody

from wacc.http.deps import principal_of
from wacc.tags import services
from wacc.tags.schemas import TagCreate, TagId, TagOut, TagUpdate


class TagController(Controller):
    path = "/tags"
    tags = ["Tags"]
    opt = {"resource": "tag"}

    @get("/", opt={"permission": "read:contacts"})
    async def list_tags(self, request: Request) -> list[TagOut]:
        return await services.list_tags(principal_of(request))

    @post("/", opt={"permission": "write:tags"}, status_code=201)
    async def create_tag(self, request: Request, data: JSONBody[TagCreate]) -> TagOut:
        """Create a tag. Names are unique per organization, ignoring case."""
        return await services.create_tag(principal_of(request), data)

    @patch("/{tagId:str}", opt={"permission": "write:tags"})
    async def update_tag(self, request: Request, tag_id: TagId, data: JSONBody[TagUpdate]) -> TagOut:
        return await services.update_tag(principal_of(request), tag_id, data)

    @delete("/{tagId:str}", opt={"permission": "write:tags"}, status_code=204)
    async def delete_tag(self, request: Request, tag_id: TagId) -> None:
        """Delete a tag; contacts and conversations that carried it lose it."""
        await services.delete_tag(principal_of(request), tag_id)
