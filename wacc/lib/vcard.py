"""Reading the parts of a vCard that WhatsApp uses: names and phone numbers.

Both engines turn an outgoing contact message's vCard into their own wire format
(wa-js: ``{id, name}``; Meta: ``contacts[]``), and both need only FN, N and TEL. The
reader handles what phones actually write: folded lines (RFC 6350 3.2), Apple's
grouped ``item1.TEL``, vCard 2.1 bare types (``TEL;CELL:``) and WhatsApp's ``waid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wacc.lib.text import only_digits


@dataclass
class Phone:
    number: str
    types: set[str] = field(default_factory=set)
    waid: str = ""


@dataclass
class Card:
    formatted_name: str = ""
    first_name: str = ""
    last_name: str = ""
    phones: list[Phone] = field(default_factory=list)


def parse(text: str) -> list[Card]:
    """Every BEGIN:VCARD … END:VCARD block, in order; text outside blocks is ignored."""
    cards: list[Card] = []
    current: Card | None = None
    for line in _unfold(text):
        name, params, value = _property(line)
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            current = Card()
        elif name == "END" and value.strip().upper() == "VCARD":
            if current is not None:
                cards.append(current)
            current = None
        elif current is not None:
            _read(current, name, params, value)
    return cards


def _read(card: Card, name: str, params: dict[str, str], value: str) -> None:
    if name == "FN":
        card.formatted_name = _unescape(value)
    elif name == "N":
        parts = [_unescape(p) for p in value.split(";")] + ["", ""]
        card.last_name, card.first_name = parts[0], parts[1]
    elif name == "TEL":
        number = _unescape(value)
        if number:
            types = {t.strip().upper() for t in params.get("TYPE", "").replace('"', "").split(",")}
            card.phones.append(Phone(number, types - {""}, only_digits(params.get("WAID", ""))))


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def _property(line: str) -> tuple[str, dict[str, str], str]:
    head, _, value = line.partition(":")
    name, *param_parts = head.split(";")
    name = name.rpartition(".")[2].upper()  # "item1.TEL": the group means nothing here
    params: dict[str, str] = {}
    for part in param_parts:
        key, eq, val = part.partition("=")
        if not eq:  # vCard 2.1 bare types: "TEL;CELL:…"
            key, val = "TYPE", key
        key = key.upper()
        params[key] = f"{params[key]},{val}" if key in params else val
    return name, params, value


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out).strip()
