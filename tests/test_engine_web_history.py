"""The web engine's history reads, Python side (no browser): what the adapter's
``historyChats``/``history`` actions return is checked like every page event.
The adapter side (wa-js chat.list / chat.getMessages) is described in docs/engines.md."""

from __future__ import annotations

from typing import Any

from wacc.engines.web import history

# Shaped like the adapter's toMessage() output (wacc/engines/web/adapter.js), which is
# what a live chat.new_message becomes too.
ANA = {"wa_id": "14155550101@c.us", "phone": "+14155550101", "name": "Ana"}


def page(answers: dict[str, Any]):
    calls: list[tuple[str, dict[str, Any]]] = []

    async def call(action: str, args: dict[str, Any]) -> Any:
        calls.append((action, args))
        return answers[action]

    return call, calls


async def test_chats_leave_out_groups_feeds_and_malformed_items():
    call, calls = page({"historyChats": [
        ANA, {"wa_id": "120363041234567890@g.us", "name": "Team"},
        {"wa_id": "status@broadcast"}, {"wa_id": "1203630@newsletter"}, {"name": "no id"},
        {"wa_id": "98765432109876@lid", "name": "Hidden"},
    ]})
    peers = await history.chats_since(call, 1700000000.0)
    assert [p.wa_id for p in peers] == ["14155550101@c.us", "98765432109876@lid"]
    assert calls == [("historyChats", {"since": 1700000000.0})]


async def test_messages_are_checked_and_sorted_oldest_first():
    def message(mid: str, t: float, **extra: Any) -> dict[str, Any]:
        return {"kind": "message", "id": mid, "chat": ANA, "sender": ANA, "timestamp": t,
                "type": "TEXT", "body": mid, **extra}

    call, calls = page({"history": [
        message("false_14155550101@c.us_B", 20.0),
        message("false_14155550101@c.us_A", 10.0),
        {"kind": "message", "id": "no chat", "timestamp": 5.0},  # malformed: dropped
        message("true_14155550101@c.us_C", 30.0, from_me=True),
    ]})
    got = await history.messages_since(call, "14155550101@c.us", 5.0)
    assert [m.id for m in got] == ["false_14155550101@c.us_A", "false_14155550101@c.us_B",
                                   "true_14155550101@c.us_C"]
    assert got[2].from_me is True
    assert calls == [("history", {"chat": "14155550101@c.us", "since": 5.0,
                                  "limit": history.MAX_PER_CHAT})]


async def test_an_answer_that_is_not_a_list_reads_as_nothing():
    call, _ = page({"history": None, "historyChats": {"oops": 1}})
    assert await history.messages_since(call, "1@c.us", 0.0) == []
    assert await history.chats_since(call, 0.0) == []
