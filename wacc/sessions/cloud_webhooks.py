"""Meta's webhooks for every cloud session of this wacc: one callback URL per app.

Meta posts all of an app's numbers to the one callback URL configured on the app, and
batches several numbers into one POST. ``/whatsapp/cloud/webhook`` takes those POSTs:
it finds the cloud sessions by ``metadata.phone_number_id``, checks the signature
with their app secret (every number of an app shares it) and hands the body to each
session's engine, which keeps its own number's changes. The per-session URL
(``/whatsapp/sessions/{id}/webhook``) keeps working and routes the other numbers of
its POSTs the same way, so nothing is dropped whichever URL Meta was given.

A change for a number no session has is logged and skipped, and Meta still gets 200
(answering an error would make Meta retry it for days, for nothing). While a session
that should take part is not running, the answer is 503 and Meta retries; engines
store each message once, so a retry adds nothing twice.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from wacc.engines.cloud import webhook
from wacc.lib.errors import (
    AuthenticationError,
    AuthorizationError,
    ServiceUnavailableError,
    ValidationError,
)
from wacc.logs import get_logger
from wacc.security.crypto import Keyring
from wacc.sessions import services
from wacc.sessions.rpc import SessionRpc
from wacc.sessions.tables import WhatsAppSession

log = get_logger(__name__)

CREDENTIALS_CONTEXT = "whatsapp_session.credentials"


@dataclass(frozen=True)
class CloudLine:
    """What routing needs of one cloud session (secrets stay in this process)."""

    session_id: str
    phone_number_id: str
    app_secret: str
    verify_token: str


async def cloud_lines(keyring: Keyring) -> list[CloudLine]:
    rows = await WhatsAppSession.select(
        WhatsAppSession.id, WhatsAppSession.settings, WhatsAppSession.credentials,
    ).where(WhatsAppSession.engine == "cloud").output(load_json=True)
    out = []
    for row in rows:
        settings = dict(row.get("settings") or {})
        if row.get("credentials"):
            with contextlib.suppress(Exception):  # unreadable credentials: no secret
                settings.update(msgspec.json.decode(keyring.decrypt(row["credentials"], CREDENTIALS_CONTEXT)))
        out.append(CloudLine(session_id=row["id"], phone_number_id=str(settings.get("phone_number_id") or ""),
                             app_secret=str(settings.get("app_secret") or ""),
                             verify_token=str(settings.get("verify_token") or "")))
    return out


async def subscribe(keyring: Keyring, params: Mapping[str, str]) -> str:
    """Meta's handshake on the app URL: the verify token of any cloud session."""
    token = params.get("hub.verify_token") or ""
    for line in await cloud_lines(keyring):
        if line.verify_token and hmac.compare_digest(token.encode(), line.verify_token.encode()):
            try:
                return webhook.verify_subscription(params, line.verify_token)
            except webhook.WebhookError as exc:
                raise ValidationError(str(exc), [{"field": "hub", "message": str(exc)}]) from None
    raise AuthorizationError("hub.verify_token matches no cloud session's verify token")


async def receive(rpc: SessionRpc, keyring: Keyring, body: bytes, signature: str | None,
                  *, session_id: str | None = None) -> dict[str, Any]:
    """Route one POST to the sessions of its numbers. With *session_id* (the per-session
    URL, whose own engine already took the body and checked its signature) that
    session is skipped and the other numbers follow."""
    received = 0
    try:
        numbers = webhook.phone_number_ids(body)
    except webhook.WebhookError as exc:
        if session_id is not None:  # the engine took it; it would have refused garbage
            return {"received": received}
        raise ValidationError(str(exc), [{"field": "body", "message": str(exc)}]) from None
    lines = await cloud_lines(keyring)
    if session_id is None:
        _check_signature(body, signature, lines, numbers)
    by_number: dict[str, list[CloudLine]] = {}
    for line in lines:
        by_number.setdefault(line.phone_number_id, []).append(line)
    unknown = [n for n in numbers if n not in by_number]
    for number in unknown:
        # Recorded (logged with the number, never the body) and skipped: Meta gets 200.
        log.warning("cloud webhook for a phone number no session has; skipped", phone_number_id=number)
    retry = False
    for number in numbers:
        for line in by_number.get(number, []):
            if line.session_id == session_id:
                continue
            try:
                received += await _forward(rpc, line.session_id, body, signature)
            except ServiceUnavailableError:
                retry = True
            except (AuthenticationError, ValidationError) as exc:
                # That session's app secret does not sign this body: another app.
                log.warning("cloud webhook refused by a session", session=line.session_id, reason=str(exc))
    if retry:
        raise ServiceUnavailableError("A session of this webhook is not running; retry later")
    return {"received": received, **({"unknownPhoneNumberIds": unknown} if unknown else {})}


def _check_signature(body: bytes, signature: str | None, lines: list[CloudLine],
                     numbers: list[str]) -> None:
    """The app URL has no session to ask: the body must be signed with the app secret of
    a session of one of its numbers (or, for numbers no session has, of any)."""
    mine = [line for line in lines if line.phone_number_id in numbers] or lines
    secrets = {line.app_secret for line in mine if line.app_secret}
    if not secrets:
        raise AuthenticationError("no cloud session with an app secret can check this webhook")
    last: Exception | None = None
    for secret in secrets:
        try:
            webhook.check_signature(body, signature, secret)
            return
        except webhook.WebhookError as exc:
            last = exc
    raise AuthenticationError(str(last))


async def _forward(rpc: SessionRpc, session_id: str, body: bytes, signature: str | None) -> int:
    """Hand the body to one session's engine; errors in the seed's format."""
    count = await services.forward_to_engine(rpc, session_id, "webhook",
                                             body=base64.b64encode(body).decode(), signature=signature)
    return int(count or 0)
