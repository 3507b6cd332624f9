from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from wacc.contacts.schemas import ContactPage
from wacc.http.deps import PrincipalDep
from wacc.segments import services
from wacc.segments.schemas import (
    SegmentCount,
    SegmentCreate,
    SegmentId,
    SegmentOut,
    SegmentPreview,
    SegmentPreviewOut,
    SegmentUpdate,
)

Limit = Annotated[int, QueryParameter(ge=1, le=200)]


class SegmentController(Controller):
    path = "/segments"
    tags = ["Segments"]
    opt = {"resource": "segment"}

    @get("/", opt={"permission": "read:contacts"})
    async def list_segments(self, principal: PrincipalDep) -> list[SegmentOut]:
        return await services.list_segments(principal)

    @post("/", opt={"permission": "write:segments"}, status_code=201)
    async def create_segment(self, principal: PrincipalDep, data: JSONBody[SegmentCreate]) -> SegmentOut:
        """``conditions`` is a group ``{"all": [...]}`` or ``{"any": [...]}`` of
        conditions ``{"field", "op", "value"}`` and nested groups (see docs/segments.md);
        each bad condition is reported with its place, e.g. ``conditions.all[2].op``."""
        return await services.create_segment(principal, data)

    # A read that happens to be a POST (it takes a body): editors call it as the user
    # types, so it needs only read access, stores nothing and writes no audit row.
    @post("/preview", opt={"permission": "read:contacts", "no_audit": True}, status_code=200)
    async def preview_segment(self, principal: PrincipalDep, data: JSONBody[SegmentPreview],
                              limit: Limit = 20) -> SegmentPreviewOut:
        """How many contacts the conditions match, and the first ``limit`` of them."""
        return await services.preview(principal, data, limit)

    @get("/{segmentId:str}", opt={"permission": "read:contacts"})
    async def get_segment(self, principal: PrincipalDep, segment_id: SegmentId) -> SegmentOut:
        return await services.get_segment(principal, segment_id)

    @patch("/{segmentId:str}", opt={"permission": "write:segments"})
    async def update_segment(self, principal: PrincipalDep, segment_id: SegmentId,
                             data: JSONBody[SegmentUpdate]) -> SegmentOut:
        return await services.update_segment(principal, segment_id, data)

    @delete("/{segmentId:str}", opt={"permission": "write:segments"}, status_code=204)
    async def delete_segment(self, principal: PrincipalDep, segment_id: SegmentId) -> None:
        await services.delete_segment(principal, segment_id)

    @get("/{segmentId:str}/contacts", opt={"permission": "read:contacts"})
    async def segment_contacts(
        self, principal: PrincipalDep, segment_id: SegmentId,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = 50,
    ) -> ContactPage:
        """The contacts the segment matches now, as GET /contacts returns them: newest
        first, cursor-paginated."""
        return await services.segment_contacts(principal, segment_id, cursor, limit)

    @get("/{segmentId:str}/count", opt={"permission": "read:contacts"})
    async def segment_count(self, principal: PrincipalDep, segment_id: SegmentId) -> SegmentCount:
        """How many contacts the segment matches now."""
        return await services.segment_count(principal, segment_id)
