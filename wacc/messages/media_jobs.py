"""Inbound media fetched after the message is stored (engines that say ``defer_media``).

The Cloud API's webhook must answer Meta at once, so the pipeline stores a media
message with its file "pending" and queues ``messages.fetch_media``. The job asks the
session's engine for the bytes (``fetch_media`` over the session RPC), stores them and
tells the inbox. A failure affects that one file: the job is retried three times with
growing waits, then the message says "media unavailable" (``metadata.media.unavailable``)
with the reason. It never touches the session: a 401 from Meta's media host is one
file's problem, not a dead token.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from wacc.bus import Bus, org_topic
from wacc.lib.errors import ValidationError
from wacc.logs import get_logger
from wacc.messages.tables import Message
from wacc.sessions.rpc import SessionRpc
from wacc.storage import MediaStore

log = get_logger(__name__)

FETCH_MEDIA_JOB = "messages.fetch_media"
# Retries after the first attempt, and the wait before each: Meta's media id stays
# valid for 30 days, so waiting minutes costs nothing, and a passing outage of the
# media host or of the session is ridden out.
RETRIES = 3
RETRY_DELAYS = (10.0, 60.0, 300.0)


@dataclass(frozen=True)
class Outcome:
    state: str  # "stored", "retry", "unavailable", "skipped"
    delay: float = 0.0
    error: str | None = None


def pending_media(ev_media: Any) -> dict[str, Any]:
    """What the job needs to fetch a file later, kept in the message's metadata."""
    return {"fetch": ev_media.fetch, "mime_type": ev_media.mime_type,
            "filename": ev_media.filename, "sha256": ev_media.sha256, "size": ev_media.size}


async def fetch_media(rpc: SessionRpc, bus: Bus, store: MediaStore, message_id: str,
                      attempt: int = 0) -> Outcome:
    row = await Message.select(
        Message.id, Message.organization, Message.session, Message.conversation,
        Message.metadata, Message.media_url, Message.media_mime_type,
    ).where(Message.id == message_id).first()
    if row is None:
        return Outcome("skipped")  # deleted meanwhile (its session or conversation went)
    meta = _loads(row["metadata"])
    media = meta.get("media")
    pending = media.get("pending") if isinstance(media, dict) else None
    if row["media_url"] or not isinstance(media, dict) or not isinstance(pending, dict):
        return Outcome("skipped")  # already fetched (a duplicate job)
    try:
        answer = await rpc.call(row["session"], "fetch_media", media=pending)
        data = base64.b64decode(answer) if isinstance(answer, str) else bytes(answer)
        mime = row["media_mime_type"] or pending.get("mime_type") or "application/octet-stream"
        key = await store.put(row["organization"], data, mime, pending.get("filename"))
    except Exception as exc:  # any failure is this file's alone
        reason = _reason(exc)
        # wacc's own limits (size, type) will refuse it again: no point retrying.
        if attempt < RETRIES and not isinstance(exc, ValidationError):
            log.info("media fetch failed; retrying", message=message_id, attempt=attempt, reason=reason)
            return Outcome("retry", RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)], reason)
        log.warning("media unavailable", message=message_id, reason=reason)
        media.pop("pending", None)
        media.update(unavailable=True, error=reason)
        await Message.update({Message.metadata: meta}).where(Message.id == message_id)
        await _announce(bus, row, media_url=None, error=reason)
        return Outcome("unavailable", error=reason)
    media.pop("pending", None)
    media.pop("error", None)
    await Message.update({Message.metadata: meta, Message.media_url: key}).where(
        Message.id == message_id)
    await _announce(bus, row, media_url=key, error=None)
    return Outcome("stored")


async def _announce(bus: Bus, row: dict[str, Any], *, media_url: str | None, error: str | None) -> None:
    await bus.publish(org_topic(row["organization"]), {
        "type": "message:media", "messageId": row["id"], "conversationId": row["conversation"],
        "available": media_url is not None, **({"error": error} if error else {}),
    })


def _reason(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return str(details[0].get("message") or exc)[:300]
    return (str(exc) or type(exc).__name__)[:300]


def _loads(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)
