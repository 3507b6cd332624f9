"""The audit log: written for every mutating request, read by OWNER and ADMIN."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from piccolo.custom_types import Combinable

from wacc.audit.schemas import ActivityOut, ActivityPage
from wacc.audit.tables import ActivityLog
from wacc.http.middleware import AuditEntry
from wacc.lib import cursor
from wacc.lib.ids import new_id
from wacc.security.principal import Principal


async def record(entry: AuditEntry) -> None:
    await ActivityLog.insert(
        ActivityLog(
            id=new_id(), organization=entry.organization_id, user=entry.user_id,
            api_key=entry.api_key_id, action=entry.action[:80], resource=entry.resource[:40],
            resource_id=(entry.resource_id or None) and entry.resource_id[:64],
            metadata=entry.metadata, ip_address=(entry.ip_address or "")[:64] or None,
            user_agent=entry.user_agent, request_id=entry.request_id,
            status_code=entry.status_code,
        )
    )


async def record_event(
    organization_id: str, action: str, resource: str, resource_id: str | None, *,
    user_id: str | None = None, ip: str | None = None, user_agent: str | None = None,
    request_id: str | None = None, status: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """A security event that is not a successful request (failed login, token reuse)."""
    await ActivityLog.insert(
        ActivityLog(
            id=new_id(), organization=organization_id, user=user_id, action=action,
            resource=resource, resource_id=resource_id, metadata=metadata or {},
            ip_address=(ip or "")[:64] or None, user_agent=(user_agent or "")[:255] or None,
            request_id=request_id, status_code=status,
        )
    )


def _out(row: dict[str, Any]) -> ActivityOut:
    meta = row["metadata"]
    if isinstance(meta, str):
        meta = json.loads(meta)
    return ActivityOut(
        id=row["id"], user_id=row["user"], api_key_id=row["api_key"], action=row["action"],
        resource=row["resource"], resource_id=row["resource_id"], metadata=meta or {},
        ip_address=row["ip_address"], user_agent=row["user_agent"],
        request_id=row["request_id"], status_code=row["status_code"], timestamp=row["timestamp"],
    )


async def list_entries(
    principal: Principal, *, user_id: str | None = None, action: str | None = None,
    resource: str | None = None, resource_id: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    after: str | None = None, limit: int = 50,
) -> ActivityPage:
    """Newest first; filter by who, what, which and when."""
    where: Combinable = ActivityLog.organization == principal.organization_id
    if user_id:
        where &= ActivityLog.user == user_id
    if action:
        where &= ActivityLog.action == action
    if resource:
        where &= ActivityLog.resource == resource
    if resource_id:
        where &= ActivityLog.resource_id == resource_id
    if since:
        where &= ActivityLog.timestamp >= since
    if until:
        where &= ActivityLog.timestamp < until
    if after:
        at, last_id = cursor.decode_time(after)
        where &= (ActivityLog.timestamp < at) | (
            (ActivityLog.timestamp == at) & (ActivityLog.id < last_id)
        )
    rows = (
        await ActivityLog.select()
        .where(where)
        .order_by(ActivityLog.timestamp, ascending=False)
        .order_by(ActivityLog.id, ascending=False)
        .limit(limit + 1)
    )
    items = [_out(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor.encode(last["timestamp"].isoformat(), last["id"])
    return ActivityPage(items=items, next_cursor=next_cursor)
