"""The CSV import job, run by a worker.

It reads the stored upload as a stream of records, ``BATCH_ROWS`` at a time. Each
batch's writes and the import's counters commit in one transaction, so a crashed or
retried job resumes after the last committed batch and never imports a row twice.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from piccolo.utils.encoding import dump_json

from wacc import outbox
from wacc.bus import Bus, org_topic
from wacc.contacts import services as contacts
from wacc.contacts.csvfile import CsvSource, escape, open_csv, unescape, utf8_problem
from wacc.contacts.tables import Contact, ContactImport, ContactTag, ImportStatus
from wacc.customfields import services as customfields
from wacc.customfields.tables import CustomField, FieldType
from wacc.db.engine import is_sqlite, transaction
from wacc.http.schemas import EMAIL_PATTERN
from wacc.lib.clock import utcnow
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.storage import MediaStore
from wacc.tags.tables import Tag

IMPORT_JOB = "contacts.import"
RESUME_JOB = "contacts.resume_imports"
BATCH_ROWS = 500
KEPT_ERRORS = 100  # on the import row, for the UI; the report holds all of them
# A RUNNING import not claimed again for this long lost its worker (killed, OOM).
STALE_AFTER = timedelta(minutes=30)
_LIMITS = {"name": 255, "email": 254, "language": 16, "timezone": 64}
_EMAIL = re.compile(EMAIL_PATTERN)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
REPORT_HEAD = ["row", "column", "message"]
# The columns an import writes; an update overwrites only the _UPDATED ones.
_WRITTEN = ("id", "organization", "whatsapp_id", "phone_number", "name", "email", "language",
            "timezone", "custom_fields", "is_blocked", "created_at", "updated_at")
_UPDATED = ("name", "email", "language", "timezone", "custom_fields", "updated_at")
_UPSERT = ('ON CONFLICT ("organization", "whatsapp_id") DO UPDATE SET '
           + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in _UPDATED))
# Bind parameters per statement: both databases allow 32,766 or more.
_MAX_PARAMS = 30_000


class _LostClaim(Exception):
    """Another worker took the import over; this one stops without writing."""


# -- the import job -----------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    key: str
    values: dict[str, Any]
    custom: dict[str, Any]
    tags: list[str]


@dataclass
class _Job:
    row: dict[str, Any]
    source: CsvSource
    phone: int
    plan: list[tuple[int, str, str]]  # (cell index, column, target)
    fields: dict[str, dict[str, Any]]
    tags: dict[str, str]  # lower-cased name -> id
    report: Any
    report_bytes: int = 0
    report_limit: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)
    pending: list[tuple[int, str | None, str, list[str] | None, bool]] = field(
        default_factory=list)
    checked: dict[Any, Any] = field(default_factory=dict)
    analyzed_at: int = 0  # contacts created when _refresh_statistics last ran

    @property
    def org(self) -> str:
        return str(self.row["organization"])

    def column_of(self, target: str) -> str | None:
        return next((c for _, c, t in self.plan if t == target), None)

    def fail(self, number: int, column: str | None, message: str, cells: list[str] | None,
             keep: bool = True) -> None:
        self.pending.append((number, column, message, cells, keep))

    def flush(self) -> None:
        """Record the batch's errors in row order (custom-field checks come after the
        parse of the whole batch)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for number, column, message, cells, keep in sorted(self.pending, key=lambda e: e[0]):
            if keep and len(self.kept) < KEPT_ERRORS:
                self.kept.append({"row": number, "column": column, "message": message})
            if self.report_bytes <= self.report_limit:
                writer.writerow([number, column or "", message, *(escape(c) for c in cells or [])])
        self.pending = []
        self.report_bytes += self.report.write(buffer.getvalue())


def _number(text: str) -> int | float:
    if not _NUMBER.match(text):
        raise ValueError
    return float(text) if "." in text else int(text)


def _parse(job: _Job, number: int, cells: list[str]) -> tuple[_Row | None, list[tuple[str | None, str]]]:
    """A record's values, checked without the database; or its problems."""
    errors: list[tuple[str | None, str]] = []
    header = job.source.header
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
        errors.append((None, f"{len(cells)} cells but the header has {len(header)} columns"))

    def cell(index: int) -> str:
        return unescape(cells[index]).strip() if index < len(cells) else ""

    key = ""
    raw_phone = cell(job.phone)
    phone_column = header[job.phone]
    if not raw_phone:
        errors.append((phone_column, "no phone number"))
    else:
        try:
            phone = contacts.normalize_phone(raw_phone, job.row["default_region"])
            key = contacts.wa_id_for(phone)
        except ValidationError as exc:
            errors.append((phone_column, exc.details[0]["message"]))
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    tags: list[str] = []
    for index, column, target in job.plan:
        text = cell(index)
        if not text or target == "phone":
            continue
        if target in _LIMITS:
            if len(text) > _LIMITS[target]:
                errors.append((column, f"longer than {_LIMITS[target]} characters"))
            elif target == "email" and not _EMAIL.match(text):
                errors.append((column, "not an e-mail address"))
            else:
                values[target] = text
        elif target == "tags":
            for name in _tag_names(text, job.tags):
                if name.lower() not in job.tags:
                    errors.append((column, f"unknown tag {name!r} (create it first)"))
                else:
                    tags.append(job.tags[name.lower()])
        else:
            definition = job.fields.get(target[len("custom."):])
            if definition is None:
                errors.append((column, "the custom field was deleted"))
            elif definition["type"] == FieldType.NUMBER:
                try:
                    custom[definition["key"]] = _number(text)
                except ValueError:
                    errors.append((column, "must be a number"))
            elif definition["type"] == FieldType.MULTISELECT:
                custom[definition["key"]] = [v.strip() for v in text.split(";") if v.strip()]
            else:
                custom[definition["key"]] = text
    if errors:
        return None, errors
    return _Row(number, key, values, custom, list(dict.fromkeys(tags))), []


def _tag_names(text: str, known: dict[str, str]) -> list[str]:
    """Tag names in a cell, separated by ";" (as the export writes them) or ","
    ("Wholesale,VIP", as people type them). A part that is a whole tag name is kept
    whole, so a tag whose name has a comma still imports."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(";")):
        if part.lower() in known:
            names.append(part)
        else:
            names.extend(n.strip() for n in part.split(","))
    return [n for n in names if n]


async def _checked_custom(job: _Job, row: _Row, creating: bool) -> dict[str, Any]:
    """Custom values through the custom-fields service; a new contact must also carry
    every required field. Results are remembered for the job: imports repeat values
    (plans, sizes, regions) and a query per row would dominate the import's time."""
    if not row.custom and not (creating and any(f["required"] for f in job.fields.values())):
        return {}
    key = (creating, *sorted((k, tuple(v) if isinstance(v, list) else v)
                             for k, v in row.custom.items()))
    known = job.checked.get(key)
    if known is None:
        try:
            known = await customfields.validate_values(job.org, row.custom, partial=not creating)
        except ValidationError as exc:
            known = exc
        if len(job.checked) >= 20_000:
            job.checked.clear()
        job.checked[key] = known
    if isinstance(known, ValidationError):
        raise known
    return dict(known)


async def _apply(job: _Job, batch: list[tuple[_Row, list[str]]],
                 counts: dict[str, int]) -> None:
    """Write one batch and advance the import's counters, in one transaction (which also
    keeps the batch's reads on one connection)."""
    async with transaction():
        keys = list({r.key for r, _ in batch})
        existing = {r["whatsapp_id"]: r for r in await Contact.select().where(
            (Contact.organization == job.org) & Contact.whatsapp_id.is_in(keys)
        ).output(load_json=True)} if keys else {}
        new, changed, links = await _decide(job, batch, existing, counts)
        job.flush()
        now = utcnow()
        ids = {key: state["id"] for key, state in existing.items()}
        ids.update((r["whatsapp_id"], r["id"]) for r in await _insert_many(
            Contact, _WRITTEN,
            [_contact_values(job.org, key, state, now, new_id()) for key, state in new.items()],
            "ON CONFLICT DO NOTHING RETURNING id, whatsapp_id"))
        # Updates too are one statement: each contact's new state (kept in *existing* by
        # _decide), written over it by its (organization, whatsapp_id) key.
        await _insert_many(Contact, _WRITTEN, [
            _contact_values(job.org, key, existing[key], now, existing[key]["id"])
            for key in changed], _UPSERT)
        tagged = [k for k, v in links.items() if v]
        if any(k not in ids for k in tagged):  # created meanwhile by an inbound message
            ids.update((r["whatsapp_id"], r["id"]) for r in await Contact.select(
                Contact.id, Contact.whatsapp_id).where(
                (Contact.organization == job.org)
                & Contact.whatsapp_id.is_in([k for k in tagged if k not in ids])))
        await _insert_many(ContactTag, ("id", "contact", "tag"), [
            (new_id(), ids[k], t) for k in tagged for t in links[k]], "ON CONFLICT DO NOTHING")
        await _advance(job, counts)


def _contact_values(org: str, key: str, state: dict[str, Any], now: Any,
                    contact_id: str) -> tuple[Any, ...]:
    return (contact_id, org, key, state["phone_number"], state.get("name"), state.get("email"),
            state.get("language"), state.get("timezone"),
            dump_json(state.get("custom_fields") or {}), bool(state.get("is_blocked")), now, now)


async def _insert_many(table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                       suffix: str) -> list[dict[str, Any]]:
    """Multi-row INSERTs for a batch, and what a RETURNING in *suffix* returns. Written as
    SQL because building an ORM object per row cost more than the database's own work
    (a third of an import's time)."""
    step = _MAX_PARAMS // len(columns)
    names = ", ".join(f'"{c}"' for c in columns)
    one = "(" + ", ".join(["{}"] * len(columns)) + ")"
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        out += await table.raw(f'INSERT INTO "{table._meta.tablename}" ({names}) VALUES '
                               + ", ".join([one] * len(chunk)) + " " + suffix,
                               *[v for row in chunk for v in row]) or []
    return out


async def _decide(job: _Job, batch: list[tuple[_Row, list[str]]],
                  existing: dict[str, dict[str, Any]], counts: dict[str, int],
                  ) -> tuple[dict[str, Any], set[str], dict[str, set[str]]]:
    """Per row in file order: create, update (later rows win field by field), skip or
    fail. Returns the contacts to insert, the keys of the existing ones changed (their
    new state is in *existing*) and tag links."""
    new: dict[str, dict[str, Any]] = {}
    changed: set[str] = set()
    links: dict[str, set[str]] = {}
    update = job.row["on_duplicate"] == "update"
    for row, cells in batch:
        current = new.get(row.key) or existing.get(row.key)
        if current is not None and not update:
            counts["skipped"] += 1
            continue
        try:
            custom = await _checked_custom(job, row, creating=current is None)
        except ValidationError as exc:
            for detail in exc.details:
                key = detail["field"].removeprefix("customFields.")
                job.fail(row.number, job.column_of(f"custom.{key}") or f"custom.{key}",
                         detail["message"], cells)
            counts["failed"] += 1
            continue
        if current is None:
            new[row.key] = {**row.values, "custom_fields": custom,
                            "phone_number": "+" + row.key.split("@")[0]}
            counts["created"] += 1
        else:
            current.update(row.values,
                           custom_fields={**(current.get("custom_fields") or {}), **custom})
            if row.key not in new:
                changed.add(row.key)
            counts["updated"] += 1
        links.setdefault(row.key, set()).update(row.tags)
    return new, changed, links


async def _advance(job: _Job, counts: dict[str, int]) -> None:
    """Record the counters, only if this worker still holds the import (its processed
    count is what this worker last wrote)."""
    processed = sum(counts[k] for k in ("created", "updated", "skipped", "failed"))
    moved = await ContactImport.update({
        ContactImport.processed: processed, ContactImport.created: counts["created"],
        ContactImport.updated: counts["updated"], ContactImport.skipped: counts["skipped"],
        ContactImport.failed: counts["failed"], ContactImport.errors: job.kept,
    }).where((ContactImport.id == job.row["id"])
             & (ContactImport.processed == job.row["processed"])
             & (ContactImport.status == ImportStatus.RUNNING)).returning(ContactImport.id)
    if not moved:
        raise _LostClaim
    job.row["processed"] = processed


async def _claim(import_id: str) -> dict[str, Any] | None:
    now = utcnow()
    claimed = await ContactImport.update({
        ContactImport.status: ImportStatus.RUNNING, ContactImport.started_at: now,
    }).where((ContactImport.id == import_id) & (
        (ContactImport.status == ImportStatus.PENDING)
        | ((ContactImport.status == ImportStatus.RUNNING)
           & (ContactImport.started_at < now - STALE_AFTER)))).returning(ContactImport.id)
    if not claimed:
        return None
    return await ContactImport.select().where(ContactImport.id == import_id).output(
        load_json=True).first()


async def _finish(bus: Bus, row: dict[str, Any], status: ImportStatus, *,
                  error: str | None = None, report_key: str | None = None) -> str:
    await ContactImport.update({
        ContactImport.status: status, ContactImport.error: error,
        ContactImport.report_key: report_key, ContactImport.finished_at: utcnow(),
    }).where((ContactImport.id == row["id"]) & (ContactImport.status == ImportStatus.RUNNING))
    await _publish(bus, row, status.value)
    return status.value


async def _publish(bus: Bus, row: dict[str, Any], status: str, **extra: Any) -> None:
    fresh = await ContactImport.select().where(ContactImport.id == row["id"]).first() or row
    await bus.publish(org_topic(row["organization"]), {
        "type": "import:progress", "importId": row["id"], "status": status,
        **{k: fresh[k] for k in ("processed", "created", "updated", "skipped", "failed")},
        **extra,
    })


async def run_import(media: MediaStore, bus: Bus, import_id: str, *, last_attempt: bool = True) -> str:
    """The job: claim the import, resume after its last committed batch, finish it.
    An unexpected error hands it back (PENDING) for a retry, or fails it on the last try."""
    row = await _claim(import_id)
    if row is None:
        return "not claimed"
    try:
        return await _run(media, bus, row)
    except _LostClaim:
        return "taken over"
    except Exception:
        if last_attempt:
            await _finish(bus, row, ImportStatus.FAILED, error="internal error; see the worker log")
        else:
            await ContactImport.update({ContactImport.status: ImportStatus.PENDING}).where(
                (ContactImport.id == row["id"]) & (ContactImport.processed == row["processed"]))
        raise


async def _run(media: MediaStore, bus: Bus, row: dict[str, Any]) -> str:
    try:
        data = await media.get(row["file_key"])
    except NotFoundError:
        return await _finish(bus, row, ImportStatus.FAILED, error="the uploaded file is gone")
    problem = utf8_problem(data)
    if problem:
        return await _finish(bus, row, ImportStatus.FAILED, error=problem)
    source = open_csv(data)
    mapping = row["mapping"] or {}
    if any(column not in source.header for column in mapping):
        return await _finish(bus, row, ImportStatus.FAILED,
                             error="the mapping names a column the file does not have")
    plan = [(source.header.index(c), c, t) for c, t in mapping.items()]
    fields = {r["key"]: r for r in await CustomField.select().where(
        CustomField.organization == row["organization"]).output(load_json=True)}
    tags = {r["name"].lower(): r["id"] for r in await Tag.select(Tag.id, Tag.name).where(
        Tag.organization == row["organization"])}
    total = data.count(b"\n") - (1 if data.endswith(b"\n") else 0)
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as report:
        csv.writer(report).writerow([*REPORT_HEAD, *source.header])
        job = _Job(row=row, source=source, phone=next(i for i, _, t in plan if t == "phone"),
                   plan=plan, fields=fields, tags=tags, report=report,
                   report_limit=int(media.max_bytes * 0.9), kept=list(row["errors"] or []))
        counts = {k: row[k] for k in ("created", "updated", "skipped", "failed")}
        batch: list[tuple[_Row, list[str]]] = []
        seen = pending = 0
        for number, cells, unreadable in source.records():
            replay = seen < row["processed"]  # committed before a crash: report only
            seen += 1
            parsed, errors = ((None, [(None, unreadable)]) if unreadable
                              else _parse(job, number, cells or []))
            for column, message in errors:
                job.fail(number, column, message, cells, keep=not replay)
            if replay:
                continue
            pending += 1
            if errors:
                counts["failed"] += 1
            elif parsed is not None:
                batch.append((parsed, cells or []))
            if pending >= BATCH_ROWS:
                await _apply(job, batch, counts)
                batch, pending = [], 0
                await _refresh_statistics(job, counts)
                await _publish(bus, row, "RUNNING", total=total)
        await _apply(job, batch, counts)
        report_key = None
        if counts["failed"]:
            report.seek(0)
            report_key = await media.put(row["organization"], report.read().encode(), "text/csv",
                                         "import-errors.csv")
    return await _finish(bus, row, ImportStatus.DONE, report_key=report_key)


async def _refresh_statistics(job: _Job, counts: dict[str, int]) -> None:
    """On PostgreSQL, ANALYZE the contact table each time the import has doubled what it
    created. A table that grows from few rows to 100,000 within a minute keeps statistics
    from when it was small, and the per-batch lookup by phone then scans every contact
    of the organization (an import five times slower and getting worse)."""
    if counts["created"] >= max(1000, 2 * job.analyzed_at) and not is_sqlite(Contact._meta.db):
        await Contact.raw('ANALYZE "contact"')
        job.analyzed_at = counts["created"]


async def resume_stale() -> int:
    """Queue imports whose worker died (RUNNING, unclaimed too long) or whose job was never
    queued (PENDING for minutes); claiming makes a duplicate job harmless."""
    now = utcnow()
    rows = await ContactImport.select(ContactImport.id).where(
        ((ContactImport.status == ImportStatus.RUNNING)
         & (ContactImport.started_at < now - STALE_AFTER))
        | ((ContactImport.status == ImportStatus.PENDING)
           & (ContactImport.created_at < now - timedelta(minutes=10))))
    for r in rows:
        await outbox.add(IMPORT_JOB, r["id"], subject=r["id"])
    return len(rows)


