"""Real webhook bodies Meta sends, as captured in tests/cloud/fixtures/*.json (each file
names its source), for the cloud tests to parse, post and sign."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
# The business number every fixture is addressed to (metadata.phone_number_id).
FIXTURE_NUMBER_ID = "1122334455667"
FIXTURE_DISPLAY_NUMBER = "972123456789"


def names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def fixture(name: str) -> dict[str, Any]:
    """The webhook body of fixture *name* (a fresh copy, safe to change)."""
    doc = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert doc.get("source"), f"fixture {name} does not cite its source"
    return doc["webhook"]


def raw(name: str) -> bytes:
    """The body as Meta's bytes: compact JSON, non-ASCII escaped as \\uXXXX like Meta."""
    return json.dumps(fixture(name), separators=(",", ":"), ensure_ascii=True).encode()


def with_status_id(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """A status fixture about one of our own sent messages."""
    for entry in body["entry"]:
        for change in entry["changes"]:
            for status in change["value"].get("statuses", []):
                status["id"] = message_id
    return body
