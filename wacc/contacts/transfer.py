"""CSV import and export of contacts: the upload is checked at once (encoding, header,
mapping) and stored, then imported by a job (wacc.contacts.importer); exports stream.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

import phonenumbers

from wacc import outbox
from wacc.contacts import services as contacts
from wacc.contacts.csvfile import csv_header, escape, utf8_problem
from wacc.contacts.importer import IMPORT_JOB, REPORT_HEAD
from wacc.contacts.schemas import ImportOut, ImportRowError
from wacc.contacts.tables import ContactImport
from wacc.customfields.tables import CustomField
from wacc.db.engine import transaction
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.storage import MediaStore
from wacc.tags.tables import Tag

EXPORT_PAGE = 500  # contacts read per query while streaming an export
MAX_COLUMNS = 200
TARGETS = ("name", "phone", "email", "language", "timezone", "tags")
_ALIASES = {"phonenumber": "phone", "phone_number": "phone", "phone number": "phone",
            "mobile": "phone"}


# -- the upload ---------------------------------------------------------------------------


def default_mapping(header: list[str], field_keys: set[str]) -> dict[str, str]:
    """Columns named like a contact field (as the export names them) map to it; others
    are left out."""
    out: dict[str, str] = {}
    for column in header:
        name = column.lower()
        target = _ALIASES.get(name, name)
        if target in TARGETS and target not in out.values():
            out[column] = target
        elif column.startswith("custom.") and column[len("custom."):] in field_keys:
            out[column] = column
    return out


def check_upload(data: BinaryIO, mapping: dict[str, str], field_keys: set[str],
                 default_region: str | None) -> list[dict[str, str]]:
    """Every problem with an upload (a seekable file, read in pieces), one detail each;
    empty when it can be imported."""
    if _blank(data):
        return [{"field": "file", "message": "the file is empty"}]
    problem = utf8_problem(data)
    if problem:
        return [{"field": "file", "message": problem}]
    header = csv_header(data)
    details = []
    if not any(header):
        return [{"field": "file", "message": "the file has no header row"}]
    if len(header) > MAX_COLUMNS:
        details.append({"field": "file", "message": f"more than {MAX_COLUMNS} columns"})
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        details.append({"field": "file",
                        "message": f"column names must be unique: {', '.join(duplicates)}"})
    used: dict[str, str] = {}
    for column, target in mapping.items():
        where = f"mapping.{column}"[:120]
        if column not in header:
            details.append({"field": where, "message": f"no column {column!r} in the header"})
        key = target[len("custom."):] if target.startswith("custom.") else None
        if target not in TARGETS and (key is None or key not in field_keys):
            details.append({"field": where, "message": f"{target!r} is not a contact field "
                            f"({', '.join(TARGETS)} or custom.<key> of a custom field)"})
        elif target in used:
            details.append({"field": where, "message": f"{target!r} is also mapped from "
                            f"column {used[target]!r}"})
        used[target] = column
    if "phone" not in used:
        details.append({"field": "mapping", "message": "no column is mapped to phone"})
    if default_region is not None and default_region not in phonenumbers.SUPPORTED_REGIONS:
        details.append({"field": "defaultRegion",
                        "message": f"{default_region!r} is not a region code such as DE or US"})
    return details


def _blank(file: BinaryIO) -> bool:
    """Only whitespace (or nothing) in the file; rewound."""
    file.seek(0)
    try:
        while chunk := file.read(1 << 16):
            if chunk.strip():
                return False
        return True
    finally:
        file.seek(0)


async def start_import(media: MediaStore, organization_id: str, user_id: str | None,
                       filename: str, data: bytes | BinaryIO, mapping: dict[str, str] | None,
                       on_duplicate: str, default_region: str | None) -> ImportOut:
    """Check the upload (bytes, or the uploaded file as the web server spooled it to
    disk: read in pieces, never whole); store it and queue its import. Nothing is kept
    when it is refused."""
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    keys = {r["key"] for r in await CustomField.select(CustomField.key).where(
        CustomField.organization == organization_id)}
    checks = asyncio.to_thread  # reading a large file must not hold up the event loop
    if mapping is None and not await checks(utf8_problem, file):
        mapping = default_mapping(await checks(csv_header, file), keys)
    details = await checks(check_upload, file, mapping or {}, keys, default_region)
    if details:
        raise ValidationError("The file cannot be imported", details)
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    file_key = await media.put(organization_id, file, "text/csv", "import.csv")
    import_id = new_id()
    # The import and its job commit together (wacc.outbox): queued once Redis answers.
    async with transaction():
        await ContactImport.insert(ContactImport(
            id=import_id, organization=organization_id, user=user_id, filename=filename[:255],
            file_key=file_key, size=size, mapping=mapping, on_duplicate=on_duplicate,
            default_region=default_region,
        ))
        # The answer is the import as created (PENDING): read before the job can be
        # queued, so a quick worker does not make it say RUNNING or DONE one time in a few.
        created = await get_import(organization_id, import_id)
        await outbox.add(IMPORT_JOB, import_id, subject=import_id)
    return created


def _import_out(row: dict[str, Any]) -> ImportOut:
    return ImportOut(
        id=row["id"], status=row["status"], filename=row["filename"], size=row["size"],
        mapping=row["mapping"] or {}, on_duplicate=row["on_duplicate"],
        default_region=row["default_region"], processed=row["processed"],
        created=row["created"], updated=row["updated"], skipped=row["skipped"],
        failed=row["failed"], errors=[ImportRowError(**e) for e in row["errors"] or []],
        has_report=row["report_key"] is not None, error=row["error"],
        created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


async def _import_row(organization_id: str, import_id: str) -> dict[str, Any]:
    row = await ContactImport.select().where(
        (ContactImport.id == import_id) & (ContactImport.organization == organization_id)
    ).output(load_json=True).first()
    if row is None:
        raise NotFoundError("Import not found")
    return row


async def get_import(organization_id: str, import_id: str) -> ImportOut:
    return _import_out(await _import_row(organization_id, import_id))


async def list_imports(organization_id: str, limit: int = 50) -> list[ImportOut]:
    rows = await ContactImport.select().where(
        ContactImport.organization == organization_id
    ).order_by(ContactImport.created_at, ascending=False).limit(limit).output(load_json=True)
    return [_import_out(r) for r in rows]


async def error_report(media: MediaStore, organization_id: str, import_id: str) -> bytes:
    """The full report once the import has finished; before that, or with no errors,
    just its header."""
    row = await _import_row(organization_id, import_id)
    if row["report_key"] is None:
        return (",".join(REPORT_HEAD) + "\r\n").encode()
    data: bytes = await media.get(row["report_key"])
    return data


# -- export -------------------------------------------------------------------------------


async def export_csv(organization_id: str, filters: dict[str, Any]) -> AsyncIterator[bytes]:
    """The contacts matching *filters* as CSV, a page at a time. Column names are those
    the import maps by default, so an exported file imports back unchanged."""
    names = {r["id"]: r["name"] for r in await Tag.select(Tag.id, Tag.name).where(
        Tag.organization == organization_id)}
    keys = sorted(r["key"] for r in await CustomField.select(CustomField.key).where(
        CustomField.organization == organization_id))
    first = await contacts.list_contacts(organization_id, **filters, limit=EXPORT_PAGE)

    async def chunks() -> AsyncIterator[bytes]:
        page = first
        head = ["id", "phone", "name", "email", "language", "timezone", "tags",
                *(f"custom.{k}" for k in keys), "blocked", "createdAt", "lastMessageAt"]
        buffer = io.StringIO()
        buffer.write("\ufeff")  # so spreadsheet programs read the file as UTF-8
        writer = csv.writer(buffer)
        writer.writerow(head)
        while True:
            for c in page.items:
                custom = [c.custom_fields.get(k) for k in keys]
                writer.writerow([escape(v) for v in (
                    c.id, c.phone_number, c.name, c.email, c.language, c.timezone,
                    ";".join(sorted(names[t] for t in c.tags if t in names)),
                    *(";".join(v) if isinstance(v, list) else v for v in custom),
                    "yes" if c.is_blocked else "", c.created_at.isoformat(),
                    c.last_message_at.isoformat() if c.last_message_at else "")])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            if not page.next_cursor:
                return
            page = await contacts.list_contacts(organization_id, **filters,
                                                after=page.next_cursor, limit=EXPORT_PAGE)

    return chunks()

