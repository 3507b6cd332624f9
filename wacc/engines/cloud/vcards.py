"""Meta's ``contacts`` objects as vCard text, the form every engine reports shared
contacts in (the reverse, for sends, is ``outbound.vcard_to_contacts``)."""

from __future__ import annotations

from typing import Any

from wacc.lib.text import only_digits


def contacts_to_vcard(cards: list[Any]) -> str:
    """Meta's contacts array as vCard 3.0 text (one card per contact)."""
    out: list[str] = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        found = card.get("name")
        name: dict[str, Any] = found if isinstance(found, dict) else {}
        formatted = name.get("formatted_name") or " ".join(
            p for p in (name.get("first_name"), name.get("last_name")) if p) or "Unknown"
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_escape(formatted)}",
                 f"N:{_escape(name.get('last_name') or '')};{_escape(name.get('first_name') or '')};;;"]
        for phone in card.get("phones") or []:
            if not isinstance(phone, dict) or not phone.get("phone"):
                continue
            params = f";type={phone['type']}" if phone.get("type") else ""
            if phone.get("wa_id"):
                params += f";waid={only_digits(str(phone['wa_id']))}"
            lines.append(f"TEL{params}:{phone['phone']}")
        lines.append("END:VCARD")
        out.append("\r\n".join(lines))
    return "\r\n".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")
