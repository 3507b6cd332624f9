"""Automations made over the API, customers writing to an inbox, and their runs."""

from __future__ import annotations

from tests.helpers import API
from tests.support.polling import until
from tests.support.whatsapp import simulate
from wacc.automations.tables import AutomationExecution
from wacc.lib.ids import new_id

PHONE = "+14155550123"



def keyword_automation(tag_id: str, **extra):
    return {"name": "Pricing", "trigger": {"type": "message.received", "match": "keywords",
                                           "keywords": ["price", "pricing"], "mode": "word"},
            "actions": [{"type": "add_tag", "tagId": tag_id},
                        {"type": "send_message", "text": "Hi {{contact.name}}, prices: {{org.name}}"}],
            **extra}


async def create(client, head, body, status=201):
    r = await client.post(f"{API}/automations", headers=head, json=body)
    assert r.status_code == status, r.text
    return r.json()


async def say(client, box, body, phone=PHONE, **extra):
    await simulate(client, box["head"], box["sid"], "message", phone=phone, body=body,
                   id=new_id(), name="Carla", **extra)


async def runs(automation_id, status=None):
    where = AutomationExecution.automation == automation_id
    if status:
        where &= AutomationExecution.status == status
    return await AutomationExecution.select().where(where).output(load_json=True)


async def settled(automation_id, count):
    async def done():
        rows = await runs(automation_id)
        return (len(rows) == count and all(r["status"] != "RUNNING" for r in rows)) and rows

    return await until(done, timeout=20)
