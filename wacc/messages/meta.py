"""How a message's extra content is kept in its ``metadata`` (one shape for inbound and
outbound, so the inbox and the outbound sender read it the same way)."""

from __future__ import annotations

from typing import Any


def content_meta(location: Any = None, vcard: str | None = None, poll: Any = None) -> dict[str, Any]:
    """Location, contact card and poll, from any object with the contract's field names."""
    meta: dict[str, Any] = {}
    if location is not None:
        meta["location"] = {"latitude": location.latitude, "longitude": location.longitude,
                            "name": location.name, "address": location.address}
    if vcard:
        meta["vcard"] = vcard
    if poll is not None:
        meta["poll"] = {"question": poll.question, "options": list(poll.options),
                        "selectableCount": poll.selectable_count}
    return meta
