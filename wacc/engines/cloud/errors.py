"""Meta's Graph API error codes, classified once: what the cloud engine does with each.

:data:`META_ERRORS` is the one table (docs/engines.md shows it too). Each code is

- ``RETRY``: "not now" — the message waits and is sent again, after at least ``wait``
  seconds when Meta suggests a wait (otherwise the outbox's own backoff);
- ``MESSAGE``: this message can never be sent as it is — it is marked FAILED with
  Meta's code and text; the session stays connected;
- ``SESSION``: the access token is dead (code 190 only) — the session is disconnected
  and the user alerted; messages wait for new credentials.

Sources: Meta's "WhatsApp error codes" reference
(developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes),
the Graph API error-handling guide (codes 0-613), and the same classification in
david-lev/pywa ``pywa/errors.py`` (AuthorizationError / ThrottlingError / SendMessageError
/ TemplateError groups). Codes 0, 3, 10 and 200-299 are permission problems of one call
(a missing scope, an endpoint the app may not use): they fail that call, they do not mean
the token is gone, so they are ``MESSAGE``, not ``SESSION``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    RETRY = "retry"
    MESSAGE = "message"
    SESSION = "session"


@dataclass(frozen=True)
class Rule:
    kind: Kind
    title: str
    # RETRY only: the least time to wait before trying again, in seconds.
    wait: float | None = None
    # RETRY only: the limit is per customer (the pair rate limit), so later messages to
    # that customer are held back too, or they would overtake the one that waits.
    per_recipient: bool = False


R, M, S = Kind.RETRY, Kind.MESSAGE, Kind.SESSION

META_ERRORS: dict[int, Rule] = {
    # -- session-fatal: the access token itself ----------------------------------------
    190: Rule(S, "Access token has expired or is invalid"),
    # -- retryable: throttling (Meta: "wait and retry") ---------------------------------
    4: Rule(R, "Too many API calls (app rate limit)", wait=60),
    17: Rule(R, "User request limit reached", wait=60),
    613: Rule(R, "Calls to this API have exceeded the rate limit", wait=60),
    80007: Rule(R, "WhatsApp Business Account rate limit reached", wait=60),
    # Throughput: 80 messages/s per number by default; a second is enough to drain it.
    130429: Rule(R, "Cloud API message throughput reached", wait=1),
    # Pair rate: about one message every 6 seconds to the same customer; other
    # customers can be messaged at once (Meta: "wait and retry ... to the same number").
    131056: Rule(R, "(Business Account, Consumer Account) pair rate limit hit", wait=6,
                 per_recipient=True),
    # Spam rate limit: Meta only says to check the quality rating and wait; the number is
    # restricted for a while, so the retry waits ten minutes (our choice, not Meta's).
    131048: Rule(R, "Spam rate limit hit", wait=600),
    # -- retryable: Meta's side is down or busy -----------------------------------------
    1: Rule(R, "API unknown: possible server error"),
    2: Rule(R, "API service temporarily unavailable"),
    131000: Rule(R, "Something went wrong"),
    131016: Rule(R, "Service unavailable"),
    131057: Rule(R, "Business account is in maintenance mode", wait=60),
    133004: Rule(R, "Server temporarily unavailable"),
    # -- permanent for this message -----------------------------------------------------
    0: Rule(M, "AuthException: the app user could not be authenticated for this call"),
    3: Rule(M, "API method: capability or permissions issue"),
    10: Rule(M, "Permission denied"),
    33: Rule(M, "The business phone number has been deleted"),
    100: Rule(M, "Invalid parameter"),
    368: Rule(M, "Temporarily blocked for policy violations"),
    130472: Rule(M, "User's number is part of an experiment"),
    130497: Rule(M, "Business account is restricted from messaging users in this country"),
    131005: Rule(M, "Access denied"),
    131008: Rule(M, "Required parameter is missing"),
    131009: Rule(M, "Parameter value is not valid"),
    131021: Rule(M, "Recipient cannot be sender"),
    131026: Rule(M, "Message undeliverable"),
    131030: Rule(M, "Recipient phone number not in allowed list"),
    131031: Rule(M, "Account has been locked"),
    131037: Rule(M, "WhatsApp provided number needs display name approval"),
    131042: Rule(M, "Business eligibility payment issue"),
    131045: Rule(M, "Incorrect certificate"),
    131047: Rule(M, "Re-engagement message: more than 24 hours since the customer last replied"),
    131049: Rule(M, "Meta chose not to deliver (per-user marketing limit)"),
    131051: Rule(M, "Unsupported message type"),
    131052: Rule(M, "Media download error"),
    131053: Rule(M, "Media upload error"),
    131064: Rule(M, "Messaging limit reached for template classification violations"),
    132000: Rule(M, "Template parameter count mismatch"),
    132001: Rule(M, "Template does not exist in this language or is not approved"),
    132005: Rule(M, "Template hydrated text too long"),
    132007: Rule(M, "Template format character policy violated"),
    132008: Rule(M, "Template parameter format mismatch"),
    132012: Rule(M, "Template parameter format mismatch"),
    132015: Rule(M, "Template is paused for low quality"),
    132016: Rule(M, "Template is disabled for low quality"),
    132068: Rule(M, "Flow is blocked"),
    132069: Rule(M, "Flow is throttled"),
    133010: Rule(M, "Phone number not registered"),
    135000: Rule(M, "Generic user error"),
}
# Graph API permission errors 200-299 ("API Permission"): like 10, one call's problem.
META_ERRORS.update({code: Rule(M, "API permission not granted or removed") for code in range(200, 300)})

# What an error without a code we know means, by HTTP status.
UNKNOWN_TRANSIENT_STATUSES = frozenset({408, 429})


def classify(code: int | None, status: int, *, from_graph: bool = True) -> Rule:
    """The rule for a Graph API error: by Meta's *code* when we know it, else by HTTP
    *status*. Only a response of the Graph API itself (*from_graph*) can end the
    session: a 401 from the media host means that download failed, not that the token
    is dead."""
    if code is not None and code in META_ERRORS:
        rule = META_ERRORS[code]
        return rule if from_graph or rule.kind is not Kind.SESSION else Rule(R, rule.title)
    if from_graph and status == 401:
        return Rule(S, "Graph API refused the access token (HTTP 401)")
    if status in UNKNOWN_TRANSIENT_STATUSES or status >= 500 or not from_graph:
        return Rule(R, f"HTTP {status}")
    return Rule(M, f"HTTP {status}")
