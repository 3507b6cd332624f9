"""The two directions between Python and the in-page adapter (adapter.js).

Page to Python: the adapter calls ``window.__waccEmit(json)`` with one contract event;
:func:`decode_page_event` turns it into an :class:`EngineEvent` or refuses it. The page
is WhatsApp's, not ours: whatever arrives is checked, never trusted.

Python to page: :func:`call_adapter` runs ``window.__wacc.call(name, args)`` with a
deadline (a hung page never answers) and turns the adapter's ``{ok: false, code}``
into the contract's errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from wacc.engines.contract import (
    EngineEvent,
    NotConnectedError,
    TransientEngineError,
    decode_event,
)
from wacc.engines.web.actions import adapter_error

BINDING = "__waccEmit"
CALL_JS = "([name, args]) => window.__wacc.call(name, args)"
# Events bigger than this are not something the adapter sends (media travels by
# download, not in events): refuse them before parsing.
MAX_EVENT_BYTES = 4 * 2**20


class MalformedEvent(ValueError):
    """What the page sent is not a contract event."""


def decode_page_event(payload: object) -> EngineEvent:
    if not isinstance(payload, str):
        raise MalformedEvent(f"expected a JSON string, got {type(payload).__name__}")
    if len(payload) > MAX_EVENT_BYTES:
        raise MalformedEvent(f"event of {len(payload)} characters is too big")
    try:
        return decode_event(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MalformedEvent(str(exc)) from exc


async def call_adapter(page: Page, action: str, args: dict[str, Any], deadline: float) -> Any:
    """Run one adapter action; returns its value or raises an EngineError."""
    try:
        result = await asyncio.wait_for(page.evaluate(CALL_JS, [action, args]), deadline)
    except TimeoutError:
        raise TransientEngineError(f"{action} did not finish within {deadline:g} s", code="TIMEOUT") from None
    except PlaywrightError as exc:
        # The page reloaded, crashed, or has no adapter (injection failed).
        raise NotConnectedError(f"{action} failed: {first_line(exc)}", code="PAGE_GONE") from exc
    if not isinstance(result, dict):
        raise TransientEngineError(f"{action}: unexpected answer from the page", code="BAD_ANSWER")
    if result.get("ok"):
        return result.get("value")
    raise adapter_error(str(result.get("code") or "ERROR"), str(result.get("message") or action))


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
