"""`wacc keys ...`: the master key that seals secrets at rest.

Rotation re-encrypts every EncryptedText value of every table under a new key. With the
key file it goes: write [new, old] → re-encrypt → write [new]. Each step is atomic, and a
key file holding more than one key means a rotation was interrupted, so running the
command again finishes it instead of starting another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import typer

from wacc.automations.signing import reseal_all
from wacc.cli.common import CommandError, state, with_database
from wacc.config import Settings
from wacc.security.crypto import (
    DecryptionError,
    Keyring,
    encode_key,
    key_file,
    load_keyring,
    new_key,
    write_key_file,
)

app = typer.Typer(help="Manage the master key.", no_args_is_help=True)

# Rows re-encrypted per transaction: keeps each write lock short.
BATCH = 500
ROLES_THAT_HOLD_KEYS = ("web", "worker", "scheduler", "wa")


@dataclass
class Reencrypted:
    changed: int = 0
    current: int = 0
    failed: list[str] = field(default_factory=list)


async def reencrypt_all(keyring: Keyring, *, write: bool = True) -> Reencrypted:
    """Seal every stored secret with ``keyring.current``; the other keys only decrypt.
    With ``write=False`` only check that every secret can be decrypted.

    An update applies only if the value is still the one read, so a concurrent change
    is never overwritten with a stale secret.
    """
    from wacc.db.columns import encrypted_columns
    from wacc.db.engine import transaction
    from wacc.schema import ALL_TABLES

    result = Reencrypted()
    current_prefix = f"v1.{keyring.current_id}.%"
    for table, column in encrypted_columns(ALL_TABLES):
        context = f"{table._meta.tablename}.{column._meta.name}"
        pk = table._meta.primary_key
        result.current += await table.count().where(column.like(current_prefix))
        rows = await table.select(pk, column).where(
            column.is_not_null() & column.not_like(current_prefix)
        )
        for start in range(0, len(rows), BATCH):
            async with transaction():
                for row in rows[start:start + BATCH]:
                    row_id, sealed = row[pk._meta.name], row[column._meta.name]
                    try:
                        plaintext = keyring.decrypt(sealed, context)
                    except DecryptionError as exc:
                        result.failed.append(f"{context} of {row_id}: {exc}")
                        continue
                    if not write:
                        continue
                    await table.update({column: keyring.encrypt(plaintext, context)}).where(
                        (pk == row_id) & (column == sealed)
                    )
                    result.changed += 1
    if write:
        # Secrets inside JSON (automation webhook steps) are not EncryptedText columns.
        result.changed += await reseal_all(keyring)
    return result


async def _running_roles(settings: Settings) -> list[str]:
    from wacc.system.services import alive

    window = settings.worker.heartbeat_seconds * 3
    found = []
    for role in ROLES_THAT_HOLD_KEYS:
        found += [f"{r['role']} on {r['host']} (pid {r['pid']})" for r in await alive(role, window)]
    return found


def _fail_if_undecryptable(result: Reencrypted, keep: str) -> None:
    if result.failed:
        shown = "; ".join(result.failed[:3]) + (" …" if len(result.failed) > 3 else "")
        raise CommandError(
            f"{len(result.failed)} secret(s) could not be decrypted with any known key "
            f"({shown}). {keep}"
        )


def _rotate_key_file(settings: Settings, force: bool) -> None:
    path = key_file(settings)
    keyring = load_keyring(settings)
    if not force:
        running = with_database(settings, lambda: _running_roles(settings))
        if running:
            raise CommandError(
                f"wacc is running ({', '.join(running)}). Its processes read the key file "
                "only when they start, so stop them first (--force if these are stale)."
            )
    # Check first that every secret opens, so a failure leaves everything as it was.
    checked = with_database(settings, lambda: reencrypt_all(keyring, write=False))
    _fail_if_undecryptable(checked, "Nothing was changed.")
    in_file = len(keyring.keys) - len(settings.security.secret_key_previous)
    if in_file > 1:
        typer.echo(f"{path} holds {in_file} keys: finishing an interrupted rotation")
    else:
        keyring = Keyring((new_key(), *keyring.keys))
        write_key_file(path, list(keyring.keys[: in_file + 1]))
    result = with_database(settings, lambda: reencrypt_all(keyring))
    _fail_if_undecryptable(result, f"{path} keeps the old keys too; nothing was lost.")
    write_key_file(path, [keyring.current])
    typer.echo(f"re-encrypted {result.changed} secret(s) ({result.current} already current); "
               f"{path} now holds only the new key {keyring.current_id}. Back it up again.")


def _rotate_environment(settings: Settings) -> None:
    keyring = load_keyring(settings)
    result = with_database(settings, lambda: reencrypt_all(keyring))
    _fail_if_undecryptable(
        result, "Add the key(s) they were sealed with to WACC_SECRET_KEY_PREVIOUS and retry."
    )
    if not settings.security.secret_key_previous:
        typer.echo(
            f"all {result.current} secret(s) already use WACC_SECRET_KEY. To rotate it: set "
            "WACC_SECRET_KEY to a new key (`wacc keys generate`) and WACC_SECRET_KEY_PREVIOUS "
            "to the old one, restart wacc, then run `wacc keys rotate` again."
        )
        return
    typer.echo(f"re-encrypted {result.changed} secret(s) ({result.current} already current) "
               f"to WACC_SECRET_KEY ({keyring.current_id}). Now remove "
               "WACC_SECRET_KEY_PREVIOUS everywhere and restart wacc.")


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(
        "--force", help="Rotate the key file even though wacc processes report in.")] = False,
) -> None:
    """Re-encrypt every stored secret under a new master key.

    With the key file: stop wacc, run this, start wacc (safe to re-run if interrupted).
    With WACC_SECRET_KEY: first set the new key there and the old one in
    WACC_SECRET_KEY_PREVIOUS and restart; then run this; then drop the previous key.
    """
    settings = state(ctx).settings
    if settings.security.secret_key:
        _rotate_environment(settings)
    else:
        _rotate_key_file(settings, force)


@app.command("generate")
def generate() -> None:
    """Print a new random master key (base64), e.g. for WACC_SECRET_KEY."""
    typer.echo(encode_key(new_key()))
