"""Contacts in and out: CSV import (a background job), CSV export, GDPR export and erasure."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any, BinaryIO, cast

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Stream

from wacc.audit import services as audit
from wacc.contacts import gdpr, transfer
from wacc.contacts.schemas import ContactId, EraseOut, ImportId, ImportOut
from wacc.http.context import request_id
from wacc.http.deps import PrincipalDep, RuntimeDep, client_of
from wacc.http.uploads import UPLOAD_BODY_CAP, receive_upload
from wacc.lib.errors import ValidationError
from wacc.security.principal import Principal

_MAX_MAPPING = 200


def _mapping(raw: Any) -> dict[str, str] | None:
    if raw in (None, ""):
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 255 and len(v) <= 80
            for k, v in value.items()):
        raise ValidationError.field("mapping", "must be a JSON object of column name to field")
    if len(value) > _MAX_MAPPING:
        raise ValidationError.field("mapping", f"at most {_MAX_MAPPING} columns")
    return {k.strip(): v.strip() for k, v in value.items()}


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store"}


class ContactTransferController(Controller):
    path = "/contacts"
    tags = ["Contacts"]
    opt = {"resource": "contact"}

    @post("/import", opt={"permission": "write:contacts", "audit": "contact.import"},
          status_code=202, request_max_body_size=UPLOAD_BODY_CAP)
    async def import_contacts(self, request: Request, principal: PrincipalDep, rt: RuntimeDep) -> ImportOut:
        """Multipart form: ``file`` (CSV, UTF-8), ``mapping`` (JSON: column → name, phone,
        email, language, timezone, tags or custom.<key>; by default columns named so),
        ``onDuplicate`` (skip or update) and ``defaultRegion`` (e.g. DE, for numbers
        without a country code). Checked now; imported by a job whose progress
        ``GET /contacts/imports/{importId}`` and the ``import:progress`` event show."""
        upload, _, form = await receive_upload(request, "file", rt.media.max_bytes, "a CSV file")
        on_duplicate = form.get("onDuplicate") or "skip"
        if on_duplicate not in ("skip", "update"):
            raise ValidationError.field("onDuplicate", "must be skip or update")
        region = form.get("defaultRegion") or None
        return await transfer.start_import(
            rt.media, principal.organization_id, principal.user_id,
            PurePath(upload.filename or "import.csv").name, cast(BinaryIO, upload.file),
            _mapping(form.get("mapping")),
            on_duplicate, region.strip().upper() if isinstance(region, str) else None)

    @get("/imports", opt={"permission": "write:contacts"})
    async def list_imports(self, principal: PrincipalDep) -> list[ImportOut]:
        """The latest 50 imports, newest first."""
        return await transfer.list_imports(principal.organization_id)

    @get("/imports/{importId:str}", opt={"permission": "write:contacts"})
    async def get_import(self, principal: PrincipalDep, import_id: ImportId) -> ImportOut:
        return await transfer.get_import(principal.organization_id, import_id)

    @get("/imports/{importId:str}/errors", opt={"permission": "write:contacts"},
         media_type="text/csv")
    async def import_errors(self, principal: PrincipalDep, rt: RuntimeDep,
                            import_id: ImportId) -> Response[bytes]:
        """Every rejected row as CSV: row, column, message and the row's original cells."""
        data = await transfer.error_report(rt.media, principal.organization_id, import_id)
        return Response(data, media_type="text/csv; charset=utf-8",
                        headers=_attachment(f"import-{import_id}-errors.csv"))

    @get("/export", opt={"permission": "export:contacts"}, media_type="text/csv")
    async def export_contacts(
        self, request: Request, principal: PrincipalDep,
        search: Annotated[str | None, QueryParameter(max_length=120)] = None,
        tag_id: Annotated[str | None, QueryParameter(name="tagId", max_length=64)] = None,
        field: Annotated[str | None, QueryParameter(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")] = None,
        field_value: Annotated[str | None, QueryParameter(name="fieldValue", max_length=255)] = None,
        last_message_after: Annotated[datetime | None, QueryParameter(name="lastMessageAfter")] = None,
        last_message_before: Annotated[datetime | None, QueryParameter(name="lastMessageBefore")] = None,
    ) -> Stream:
        """The contacts GET /contacts would list with the same filters, as CSV, streamed.
        Cells that a spreadsheet would run as a formula start with an apostrophe."""
        chunks = await transfer.export_csv(principal.organization_id, {
            "search": search, "tag_id": tag_id, "field": field, "field_value": field_value,
            "last_message_after": last_message_after, "last_message_before": last_message_before,
        })
        await _audit(request, principal, "contact.export", None)
        return Stream(chunks, media_type="text/csv; charset=utf-8",
                      headers=_attachment("contacts.csv"))

    @get("/{contactId:str}/export", opt={"permission": "export:contacts"})
    async def export_contact(self, request: Request, principal: PrincipalDep,
                             contact_id: ContactId) -> dict[str, Any]:
        """GDPR export: everything stored about the contact, as JSON."""
        data = await gdpr.export_contact(principal, contact_id)
        await _audit(request, principal, "contact.gdpr_export", contact_id)
        return data

    @post("/{contactId:str}/erase", opt={"permission": "delete:contacts",
                                         "audit": "contact.erase"}, status_code=200)
    async def erase_contact(self, principal: PrincipalDep, rt: RuntimeDep, contact_id: ContactId) -> EraseOut:
        """GDPR erasure: the contact, its conversations, messages, notes and media files
        are deleted for good. The audit log keeps the contact id and nothing personal."""
        return await gdpr.erase_contact(rt.media, principal.organization_id, contact_id)


async def _audit(request: Request, principal: Principal, action: str,
                 contact_id: str | None) -> None:
    """Reads are not audited by the middleware; exports of personal data are, here."""
    ip, agent = client_of(request)
    await audit.record_event(
        principal.organization_id, action, "contact", contact_id, user_id=principal.user_id,
        ip=ip, user_agent=agent, request_id=request_id(request.scope), status=200,
        metadata={"apiKeyId": principal.api_key_id} if principal.api_key_id else None)
