"""Contacts pages: the list (search, filters, pages), one contact (edit, tags, merge,
block, delete) and the CSV import. Pages read through the contacts, tags, custom-field
and segment services as the signed-in user; every write goes from the browser to
/api/v1/contacts (static/js/contacts.js and app.js)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from wacc.contacts import services as contacts
from wacc.contacts import transfer
from wacc.contacts.schemas import ContactId
from wacc.conversations import inbox as conversations
from wacc.customfields import services as customfields
from wacc.http.deps import PrincipalDep
from wacc.security.principal import Principal
from wacc.segments import services as segments
from wacc.sessions import services as sessions
from wacc.tags import services as tags
from wacc.ui.render import page

READ = {"permission": "read:contacts"}
WRITE = {"permission": "write:contacts"}
PAGE_SIZE = 25
# The fields an import column may fill besides custom fields (docs/import-export.md).
IMPORT_FIELDS = [("name", "Name"), ("phone", "Phone"), ("email", "E-mail"),
                 ("language", "Language"), ("timezone", "Time zone"),
                 ("tags", "Tags (names separated by ;)")]

Search = Annotated[str | None, QueryParameter(name="search", max_length=120)]
TagFilter = Annotated[str | None, QueryParameter(name="tagId", max_length=64)]
SegmentFilter = Annotated[str | None, QueryParameter(name="segmentId", max_length=64)]
BlockedFilter = Annotated[str | None, QueryParameter(name="blocked", pattern=r"^(|yes|no)$")]
PickSearch = Annotated[str | None, QueryParameter(name="_search", max_length=120)]
Cursor = Annotated[str | None, QueryParameter(name="cursor", max_length=200)]


@dataclass
class Filters:
    search: str = ""
    tag_id: str = ""
    segment_id: str = ""
    blocked: str = ""  # "", "yes" or "no"

    def query(self, **extra: str) -> str:
        """The filters as a query string (empty ones left out), for links and htmx."""
        values = {"search": self.search, "tagId": self.tag_id, "segmentId": self.segment_id,
                  "blocked": self.blocked, **extra}
        return urlencode({k: v for k, v in values.items() if v})

    def export_query(self) -> str:
        # The export endpoint knows search and tag only (GET /contacts' own filters).
        return urlencode({k: v for k, v in (("search", self.search), ("tagId", self.tag_id)) if v})

    @property
    def active(self) -> bool:
        return bool(self.search or self.tag_id or self.segment_id or self.blocked)


def _filters(search: str | None, tag_id: str | None, segment_id: str | None,
             blocked: str | None) -> Filters:
    return Filters(search=(search or "").strip(), tag_id=tag_id or "",
                   segment_id=segment_id or "", blocked=blocked or "")


async def _contact_page(principal: Principal, filters: Filters, cursor: str | None) -> Any:
    """One page of contacts. Search and tag are GET /contacts' filters; blocked and segment
    are not, so with those the page is read through the segment condition language (the
    same keyset pages, and an agent's own-conversation limit applies as for segments)."""
    org = principal.organization_id
    if not filters.segment_id and not filters.blocked:
        return await contacts.list_contacts(org, search=filters.search or None,
                                            tag_id=filters.tag_id or None, after=cursor,
                                            limit=PAGE_SIZE)
    parts: list[dict[str, Any]] = []
    if filters.segment_id:
        segment = await segments.get_segment(principal, filters.segment_id)
        if segment.conditions:
            parts.append(segment.conditions)
    if filters.blocked:
        parts.append({"field": "isBlocked", "op": "eq", "value": filters.blocked == "yes"})
    if filters.tag_id:
        parts.append({"field": "tag", "op": "has", "value": filters.tag_id})
    if filters.search:
        parts.append({"any": [{"field": name, "op": "contains", "value": filters.search}
                              for name in ("name", "phone", "email")]})
    own = await conversations.restricted_to_own(principal)
    where = await segments.matching(org, {"all": parts},
                                    (principal.user_id or "") if own else None)
    return await contacts.page_where(where, cursor, PAGE_SIZE)


async def _tag_names(principal: Principal) -> dict[str, Any]:
    return {t.id: t for t in await tags.list_tags(principal)}


class ContactPages(Controller):
    include_in_schema = False

    @get("/contacts", opt=READ)
    async def list_page(self, request: Request, principal: PrincipalDep, search: Search = None,
                        tag_id: TagFilter = None,
                        segment_id: SegmentFilter = None,
                        blocked: BlockedFilter = None) -> Template:
        filters = _filters(search, tag_id, segment_id, blocked)
        return page(request, "contacts/list.html", section="contacts", filters=filters, more=False,
                    result=await _contact_page(principal, filters, None),
                    tags=await _tag_names(principal),
                    segments=await segments.list_segments(principal))

    @get("/ui/contacts/rows", opt=READ)
    async def rows(self, request: Request, principal: PrincipalDep, search: Search = None,
                   tag_id: TagFilter = None,
                   segment_id: SegmentFilter = None, blocked: BlockedFilter = None,
                   cursor: Cursor = None) -> Template:
        """The table body for a search or filter change, or the next page (cursor)."""
        filters = _filters(search, tag_id, segment_id, blocked)
        return page(request, "contacts/_rows.html", filters=filters, more=bool(cursor),
                    result=await _contact_page(principal, filters, cursor),
                    tags=await _tag_names(principal))

    @get("/ui/contacts/pick", opt=WRITE)
    async def pick(self, request: Request, principal: PrincipalDep, search: PickSearch = None,
                   exclude: Annotated[str | None, QueryParameter(max_length=64)] = None,
                   ) -> Template:
        """Contacts to merge into the one open: radio choices for the merge dialog. The
        search box is named "_search" so the merge form's JSON leaves it out."""
        found: list[Any] = []
        if search and search.strip():
            result = await contacts.list_contacts(principal.organization_id,
                                                  search=search.strip(), limit=10)
            found = [c for c in result.items if c.id != exclude]
        return page(request, "contacts/_pick.html", found=found, searched=bool(search))

    @get("/contacts/import", opt=WRITE)
    async def import_page(self, request: Request, principal: PrincipalDep) -> Template:
        fields = await customfields.list_fields(principal)
        choices = IMPORT_FIELDS + [(f"custom.{f.key}", f"{f.name} (custom)") for f in fields]
        return page(request, "contacts/import.html", section="contacts", choices=choices,
                    imports=await transfer.list_imports(principal.organization_id, limit=10))

    @get("/contacts/{contactId:str}", opt=READ)
    async def detail_page(self, request: Request, principal: PrincipalDep, contact_id: ContactId) -> Template:
        contact = await contacts.get_contact(principal.organization_id, contact_id)
        all_tags = await _tag_names(principal)
        chats: list[Any] = []
        chats_hidden = True
        # An agent limited to their own conversations would see others' here: they
        # open conversations from the inbox instead.
        if principal.can("read:conversations") and not await conversations.restricted_to_own(
                principal):
            chats = await contacts.conversations_of(principal.organization_id, contact_id)
            chats_hidden = False
        return page(request, "contacts/detail.html", section="contacts", contact=contact,
                    tags=all_tags, fields=await customfields.list_fields(principal),
                    free_tags=[t for t in all_tags.values() if t.id not in contact.tags],
                    conversations=chats, conversations_hidden=chats_hidden,
                    sessions=await sessions.list_sessions(principal)
                    if principal.can("write:messages") else [])
