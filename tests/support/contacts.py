"""Contact CSV imports over the API, and waiting for the worker to finish one."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import API
from wacc.contacts.tables import ContactImport

IMPORT = f"{API}/contacts/import"


async def upload(client, head, data: bytes, mapping=None, name="contacts.csv", **form):
    fields = {k: v for k, v in form.items() if v is not None}
    if mapping is not None:
        fields["mapping"] = json.dumps(mapping)
    return await client.post(IMPORT, headers=head, files={"file": (name, data, "text/csv")},
                             data=fields)


async def finished(client, head, import_id, timeout=60.0):
    """The import over the API once the worker is done (polled in the table: the API's
    rate limit is per minute)."""
    async with asyncio.timeout(timeout):
        while (await ContactImport.select(ContactImport.status).where(
                ContactImport.id == import_id).first())["status"] not in ("DONE", "FAILED"):
            await asyncio.sleep(0.05)
    r = await client.get(f"{API}/contacts/imports/{import_id}", headers=head)
    assert r.status_code == 200, r.text
    return r.json()
