"""The ``call_webhook`` step's signing secret, sealed at rest like every other secret
(AES-256-GCM under the master key, wacc.security.crypto) and never read back through
the API (issue 14).

The secret lives inside the automation's ``actions`` JSON (a step has no row of its
own), so it is sealed value by value rather than by an EncryptedText column:

- saved: every secret is sealed before the row is written;
- read (``GET /automations``, ``GET /automations/{id}``): the secret is replaced by
  :data:`MASK`; a definition sent back with the mask keeps the stored secret, so the
  builder can save an edit without knowing it. Only the answer to the create or update
  that set it shows it, once, so a manager can configure the receiving end;
- used: opened with the keyring when the webhook is called;
- secrets stored in plaintext by older versions keep working (opened as they are) and
  are sealed by ``wacc keys rotate``, which also re-seals every secret under the new key
  (:func:`reseal_all`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from wacc.automations.definition import _walk
from wacc.automations.tables import Automation
from wacc.lib.errors import ValidationError
from wacc.security.crypto import DecryptionError, Keyring

MASK = "********"
CONTEXT = "automation.call_webhook.secret"


def _webhooks(steps: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, step in _walk(steps, "actions"):
        if step.get("type") == "call_webhook":
            yield path, step


def _sealed_by(keyring: Keyring, value: str) -> str | None:
    """The plaintext of a sealed *value*, or None when it is not sealed (legacy)."""
    if value.count(".") < 2 or not value.startswith("v1."):
        return None
    try:
        return keyring.decrypt(value, CONTEXT)
    except DecryptionError:
        return None


def open_secret(keyring: Keyring, value: str) -> str:
    """The secret to sign with: sealed values are opened, legacy plaintext is as is."""
    opened = _sealed_by(keyring, value)
    return value if opened is None else opened


def restore_masked(keyring: Keyring, steps: list[Any], stored: list[dict[str, Any]]) -> None:
    """Put the stored secret back where a definition sent :data:`MASK` (in place): the
    step at the same place, else the stored step calling the same URL."""
    if not isinstance(steps, list):
        return
    old = dict(_webhooks(stored or []))
    by_url = {s.get("url"): s for s in old.values()}
    try:
        new = list(_webhooks(steps))
    except (KeyError, TypeError, AttributeError):
        return  # malformed: the validator reports it with its place
    for path, step in new:
        if step.get("secret") != MASK:
            continue
        match = old.get(path)
        if match is None or match.get("url") != step.get("url"):
            match = by_url.get(step.get("url")) or match
        if match is None or not match.get("secret"):
            raise ValidationError.field(f"{path}.secret", "enter the signing secret again")
        step["secret"] = open_secret(keyring, match["secret"])


def seal(keyring: Keyring, steps: list[dict[str, Any]]) -> None:
    """Seal every secret not sealed yet (in place), after validation."""
    for _, step in _webhooks(steps):
        secret = step.get("secret")
        if isinstance(secret, str) and secret and _sealed_by(keyring, secret) is None:
            step["secret"] = keyring.encrypt(secret, CONTEXT)


def masked(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(steps)
    for _, step in _webhooks(out):
        if step.get("secret"):
            step["secret"] = MASK
    return out


def revealed(keyring: Keyring, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(steps)
    for _, step in _webhooks(out):
        if step.get("secret"):
            step["secret"] = open_secret(keyring, step["secret"])
    return out


async def reseal_all(keyring: Keyring) -> int:
    """Seal legacy plaintext secrets and re-seal old-key ones under ``keyring.current``;
    the number of automations changed. An update applies only if the definition is still
    the one read, so a concurrent edit is never overwritten."""
    changed = 0
    rows = await Automation.select(Automation.id, Automation.actions, Automation.version).output(
        load_json=True)
    for row in rows:
        steps = row["actions"] or []
        fresh = copy.deepcopy(steps)
        for _, step in _webhooks(fresh):
            secret = step.get("secret")
            if isinstance(secret, str) and secret and not (
                    _sealed_by(keyring, secret) is not None and keyring.is_current(secret)):
                step["secret"] = keyring.encrypt(open_secret(keyring, secret), CONTEXT)
        if fresh != steps:
            await Automation.update({Automation.actions: fresh}).where(
                (Automation.id == row["id"]) & (Automation.version == row["version"]))
            changed += 1
    return changed
