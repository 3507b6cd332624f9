"""The call_webhook step's signing secret is sealed at rest like the other secrets and
never read back through the API (issue 14): the stored row holds only ciphertext, GET
shows a mask, an edit sent back with the mask keeps the secret, and secrets stored in
plaintext by older versions are sealed by `wacc keys rotate` (reseal_all)."""

from __future__ import annotations

from tests.helpers import API
from tests.support.automations import create
from wacc.automations import signing
from wacc.automations.tables import Automation
from wacc.cli.keys import reencrypt_all

SECRET = "s3cret-s3cret-s3cret"


async def _stored_secret() -> str:
    row = await Automation.select(Automation.actions).output(load_json=True).first()
    return row["actions"][0]["secret"]


async def test_secret_is_sealed_masked_on_read_and_kept_through_an_edit(
        client, automation_org, server):
    head = automation_org["head"]
    keyring = server.app.state["runtime"].keyring
    made = await create(client, head, {
        "name": "Notify", "trigger": {"type": "contact.created"},
        "actions": [{"type": "call_webhook", "url": "https://example.com/hook",
                     "secret": SECRET}]})
    # Shown once, in the answer to the write that set it.
    assert made["actions"][0]["secret"] == SECRET
    stored = await _stored_secret()
    assert SECRET not in stored and stored.startswith("v1.")
    assert keyring.decrypt(stored, signing.CONTEXT) == SECRET

    r = await client.get(f"{API}/automations/{made['id']}", headers=head)
    assert r.status_code == 200 and SECRET not in r.text and stored not in r.text
    step = r.json()["actions"][0]
    assert step["secret"] == signing.MASK
    listed = await client.get(f"{API}/automations", headers=head)
    assert SECRET not in listed.text and stored not in listed.text

    # The builder sends the definition back as read (with the mask): the secret stays.
    r = await client.patch(f"{API}/automations/{made['id']}", headers=head,
                           json={"name": "Renamed", "actions": [step]})
    assert r.status_code == 200, r.text
    assert keyring.decrypt(await _stored_secret(), signing.CONTEXT) == SECRET
    # A new secret replaces it, sealed again.
    r = await client.patch(f"{API}/automations/{made['id']}", headers=head, json={
        "actions": [{**step, "secret": "another-secret-0123"}]})
    assert r.status_code == 200, r.text
    assert keyring.decrypt(await _stored_secret(), signing.CONTEXT) == "another-secret-0123"

    # The mask on a step that never had a secret is refused and changes nothing.
    before = await _stored_secret()
    r = await client.patch(f"{API}/automations/{made['id']}", headers=head, json={
        "actions": [step, {"type": "call_webhook", "url": "https://other.example/x",
                           "secret": signing.MASK}]})
    assert r.status_code == 400, r.text
    assert await _stored_secret() == before


async def test_plaintext_secrets_of_older_versions_are_sealed_by_keys_rotate(
        client, automation_org, server):
    head = automation_org["head"]
    keyring = server.app.state["runtime"].keyring
    made = await create(client, head, {
        "name": "Legacy", "trigger": {"type": "contact.created"},
        "actions": [{"type": "call_webhook", "url": "https://example.com/hook"}]})
    # What an older version wrote: the secret in plaintext.
    await Automation.update({Automation.actions: [
        {"type": "call_webhook", "url": "https://example.com/hook", "secret": SECRET}]}).where(
        Automation.id == made["id"])
    assert signing.open_secret(keyring, SECRET) == SECRET  # still signs meanwhile
    r = await client.get(f"{API}/automations/{made['id']}", headers=head)
    assert SECRET not in r.text

    result = await reencrypt_all(keyring)
    assert result.changed >= 1
    stored = await _stored_secret()
    assert stored.startswith("v1.") and keyring.decrypt(stored, signing.CONTEXT) == SECRET
    assert (await reencrypt_all(keyring)).changed == 0  # idempotent
