from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from wacc.contacts import services
from wacc.contacts.schemas import (
    ContactConversation,
    ContactCreate,
    ContactId,
    ContactOut,
    ContactPage,
    ContactTagIn,
    ContactUpdate,
    MergeIn,
    TagId,
)
from wacc.engines.contract import Peer, SetBlocked
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.logs import get_logger
from wacc.sessions.rpc import rpc_of

log = get_logger(__name__)


class ContactController(Controller):
    path = "/contacts"
    tags = ["Contacts"]
    opt = {"resource": "contact"}

    @get("/", opt={"permission": "read:contacts"})
    async def list_contacts(
        self, principal: PrincipalDep,
        search: Annotated[str | None, QueryParameter(max_length=120)] = None,
        tag_id: Annotated[str | None, QueryParameter(name="tagId", max_length=64)] = None,
        field: Annotated[str | None, QueryParameter(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")] = None,
        field_value: Annotated[str | None, QueryParameter(name="fieldValue", max_length=255)] = None,
        last_message_after: Annotated[datetime | None, QueryParameter(name="lastMessageAfter")] = None,
        last_message_before: Annotated[datetime | None, QueryParameter(name="lastMessageBefore")] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> ContactPage:
        """Search by name, phone or e-mail; filter by tag, a custom field (``field`` and
        ``fieldValue``) and last message time; newest first, cursor-paginated."""
        return await services.list_contacts(
            principal.organization_id, search=search, tag_id=tag_id, field=field,
            field_value=field_value, last_message_after=last_message_after,
            last_message_before=last_message_before, after=cursor, limit=limit)

    @post("/", opt={"permission": "write:contacts"}, status_code=201)
    async def create_contact(self, principal: PrincipalDep, data: JSONBody[ContactCreate]) -> ContactOut:
        """Phone numbers are stored in E.164; one contact per number."""
        return await services.create_contact(principal.organization_id, data)

    @get("/{contactId:str}", opt={"permission": "read:contacts"})
    async def get_contact(self, principal: PrincipalDep, contact_id: ContactId) -> ContactOut:
        return await services.get_contact(principal.organization_id, contact_id)

    @patch("/{contactId:str}", opt={"permission": "write:contacts"})
    async def update_contact(self, principal: PrincipalDep, rt: RuntimeDep, contact_id: ContactId,
                             data: JSONBody[ContactUpdate]) -> ContactOut:
        """Edit fields (``customFields`` merge; a null removes one) or block the number
        (also blocked on WhatsApp through the contact's sessions, when connected)."""

        async def sync_block(row: dict[str, Any], blocked: bool) -> None:
            for conversation in await services.conversations_of(row["organization"], row["id"]):
                try:
                    await rpc_of(rt).call(conversation.session_id, SetBlocked(
                        peer=Peer(wa_id=row["whatsapp_id"]), blocked=blocked))
                except Exception as exc:  # recorded here either way; the phone follows later
                    log.warning("block not synced to WhatsApp", error=type(exc).__name__)

        return await services.update_contact(principal.organization_id, contact_id,
                                             data, on_block=sync_block)

    @delete("/{contactId:str}", opt={"permission": "delete:contacts"}, status_code=204)
    async def delete_contact(self, principal: PrincipalDep, contact_id: ContactId) -> None:
        """Delete the contact with its conversations and messages."""
        await services.delete_contact(principal.organization_id, contact_id)

    @post("/{contactId:str}/tags", opt={"permission": "write:contacts", "audit": "contact.tag"},
          status_code=200)
    async def add_tag(self, principal: PrincipalDep, contact_id: ContactId,
                      data: JSONBody[ContactTagIn]) -> ContactOut:
        return await services.add_tag(principal.organization_id, contact_id,
                                      data.tag_id)

    @delete("/{contactId:str}/tags/{tagId:str}", opt={"permission": "write:contacts",
                                                       "audit": "contact.untag"},
            status_code=204)
    async def remove_tag(self, principal: PrincipalDep, contact_id: ContactId, tag_id: TagId) -> None:
        await services.remove_tag(principal.organization_id, contact_id, tag_id)

    @get("/{contactId:str}/conversations", opt={"permission": "read:conversations"})
    async def contact_conversations(self, principal: PrincipalDep,
                                    contact_id: ContactId) -> list[ContactConversation]:
        return await services.conversations_of(principal.organization_id, contact_id)

    @post("/{contactId:str}/merge", opt={"permission": "write:contacts", "audit": "contact.merge"},
          status_code=200)
    async def merge_contacts(self, principal: PrincipalDep, contact_id: ContactId,
                             data: JSONBody[MergeIn]) -> ContactOut:
        """Merge another contact into this one; nothing is lost."""
        return await services.merge_contacts(principal.organization_id, contact_id,
                                             data.other_id)
