"""Meta's webhooks, as pure functions a thin HTTP controller can call.

The controller answers Meta's subscription handshake with :func:`verify_subscription`,
checks each POST with :func:`check_signature` over the raw body (before any parsing),
then turns it into contract events with :func:`parse`. Nothing here does I/O.

Meta batches: one POST can carry several entries (business accounts), each with
several changes (phone numbers), each with several messages and statuses. A body that
is not Meta's envelope is refused whole (WebhookError: 4xx); inside a valid envelope
one unreadable message is skipped and reported (``Parsed.problems``), never failing
the others, because Meta would retry the whole POST for days. The messages
themselves are read in ``inbound``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from wacc.engines.cloud.inbound import ACKS, MEDIA_TYPES, Parsed, value_events
from wacc.engines.cloud.vcards import contacts_to_vcard
from wacc.engines.contract import EngineEvent

SIGNATURE_HEADER = "X-Hub-Signature-256"
CONVERSATION_FIELDS = ("messages", "smb_message_echoes")

__all__ = ["ACKS", "MEDIA_TYPES", "SIGNATURE_HEADER", "Change", "Parsed", "WebhookError",
           "changes", "check_signature", "contacts_to_vcard", "parse", "parse_report",
           "phone_number_ids", "sign", "verify_subscription"]


class WebhookError(Exception):
    """The request is not a valid webhook from Meta; the controller answers 4xx."""


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str:
    """The ``hub.challenge`` to echo back when Meta subscribes the endpoint with our
    verify token (``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…``)."""
    if params.get("hub.mode") != "subscribe":
        raise WebhookError("hub.mode must be 'subscribe'")
    token = params.get("hub.verify_token") or ""
    if not verify_token or not hmac.compare_digest(token.encode(), verify_token.encode()):
        raise WebhookError("hub.verify_token does not match this session's verify token")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise WebhookError("hub.challenge is missing")
    return challenge


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for *body*."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(body: bytes, header: str | None, app_secret: str) -> None:
    """Refuse a POST whose ``X-Hub-Signature-256`` is not the HMAC-SHA256 of the raw
    body under the app secret. Compare in constant time so the signature cannot be
    guessed byte by byte from response timings."""
    if not app_secret:
        # Without a secret anyone could post fake customer messages; refuse rather
        # than accept unsigned webhooks.
        raise WebhookError("no app secret is configured, so the signature cannot be checked")
    if not header:
        raise WebhookError(f"the {SIGNATURE_HEADER} header is missing")
    if not header.startswith("sha256="):
        raise WebhookError(f"the {SIGNATURE_HEADER} header must start with 'sha256='")
    if not hmac.compare_digest(header.strip().lower(), sign(body, app_secret)):
        raise WebhookError(f"the {SIGNATURE_HEADER} signature does not match the body")


@dataclass(frozen=True)
class Change:
    """One ``messages`` change: the business number it is for, and its ``value``."""

    phone_number_id: str
    value: dict[str, Any]


def parse(body: bytes, *, phone_number_id: str | None = None) -> list[EngineEvent]:
    """Contract events from a webhook body, in Meta's order. With *phone_number_id*,
    only changes for that business number are kept (one app may serve several).
    Unreadable messages are skipped; :func:`parse_report` also says which."""
    return parse_report(body, phone_number_id=phone_number_id).events


def parse_report(body: bytes, *, phone_number_id: str | None = None) -> Parsed:
    """Events and the problems met (one line per skipped message or status). A body
    that is not Meta's structure at all raises WebhookError."""
    out = Parsed()
    for change in changes(body):
        if phone_number_id is None or change.phone_number_id == phone_number_id:
            parsed = value_events(change.value)
            out.events.extend(parsed.events)
            out.problems.extend(parsed.problems)
    return out


def phone_number_ids(body: bytes) -> list[str]:
    """The business numbers a webhook body is about, so a controller can route it to
    the right session before parsing it for that session."""
    seen: list[str] = []
    for change in changes(body):
        if change.phone_number_id and change.phone_number_id not in seen:
            seen.append(change.phone_number_id)
    return seen


def changes(body: bytes) -> list[Change]:
    """The ``messages`` changes of a body, and ``smb_message_echoes`` (what the business
    sent from the WhatsApp Business app on a coexistence number); other fields
    (templates, account updates, calls, …) are not conversations and are left out."""
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise WebhookError(f"the webhook body is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
        raise WebhookError("the webhook body has no 'entry' list")
    out: list[Change] = []
    for entry in doc["entry"]:
        found = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(found, list):
            raise WebhookError("a webhook entry has no 'changes' list")
        for change in found:
            # Other fields (account_update, template updates, calls, ...) are skipped
            # before their value is looked at: their shapes are not ours to refuse, and
            # a 4xx would have Meta retry them for days.
            if isinstance(change, dict) and change.get("field", "messages") not in CONVERSATION_FIELDS:
                continue
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise WebhookError("a webhook change has no 'value' object")
            value = change["value"]
            metadata = value.get("metadata")
            number_id = str(metadata.get("phone_number_id", "")) if isinstance(metadata, dict) else ""
            out.append(Change(number_id, value))
    return out
