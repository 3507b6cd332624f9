"""`wacc init` and `wacc migrate`: prepare a machine and its database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wacc.cli.common import CommandError, state, with_database
from wacc.config import Settings, describe
from wacc.security.crypto import key_file, load_keyring, new_key, write_key_file

if TYPE_CHECKING:
    from wacc.runtime import Runtime

CONFIG_FILE_NAME = "wacc.toml"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    return repr(value)


def config_template() -> str:
    """wacc.toml with every setting commented out at its default, grouped by section."""
    lines = [
        "# wacc configuration. Every setting is listed at its default, commented out;",
        "# uncomment a line to change it. WACC_* environment variables win over this file.",
        "# Reference: docs/configuration.md. Secrets are better given as WACC_..._FILE.",
    ]
    section = None
    for info in describe():
        if info.env == "WACC_DATA_DIR":
            continue  # this file lives in the data directory; set WACC_DATA_DIR instead
        if info.section != section:
            section = info.section
            lines += ["", f"[{section}]"]
        lines += [f"# {info.doc} ({info.env})", f"# {info.name} = {_toml_value(info.default)}"]
    return "\n".join(lines) + "\n"


def _ensure_data_dir(path: Path) -> str:
    if path.is_dir():
        return f"data directory: {path}"
    path.mkdir(mode=0o700, parents=True)
    return f"data directory: created {path} (0700)"


def _ensure_master_key(settings: Settings) -> str:
    if settings.security.secret_key:
        load_keyring(settings)  # validates it
        return "master key: from WACC_SECRET_KEY"
    path = key_file(settings)
    if path.exists():
        # Never replaced: secrets stored under it would be lost. A broken file is an error.
        load_keyring(settings)
        return f"master key: {path} (kept)"
    write_key_file(path, [new_key()])
    return f"master key: created {path} (0600). Back it up: stored secrets need it."


def _ensure_config_file(settings: Settings) -> str:
    path = settings.data_path / CONFIG_FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return f"configuration: {path} (kept)"
    with os.fdopen(fd, "w") as handle:
        handle.write(config_template())
    return f"configuration: created {path}"


def first_start(settings: Settings) -> list[str]:
    """On the very first `wacc run` of an embedded install, do what `wacc init` would:
    make the data directory and the master key, so `pip install` + `wacc run` works.

    Only when the SQLite database does not exist yet: a missing key next to existing
    data means the key was lost, and a new one would not open the stored secrets. With
    PostgreSQL every machine must share one key, so none is ever made up here.
    """
    url = settings.database.url
    if (settings.security.secret_key or key_file(settings).exists()
            or not url.startswith("sqlite:") or Path(url[len("sqlite:///"):]).exists()):
        return []
    return [_ensure_data_dir(settings.data_path), _ensure_master_key(settings)]


async def _create_owner(rt: Runtime, org: str, email: str, name: str, password: str) -> str:
    from wacc.cli.accounts import checked_email
    from wacc.db.engine import transaction
    from wacc.orgs import services as orgs
    from wacc.security.roles import Role
    from wacc.users import services as users

    async with transaction():
        organization = await orgs.create(org)
        user = await users.create(rt, organization.id, checked_email(email), name, password,
                                  Role.OWNER)
    return f"first owner: created {user.email} in organization {organization.name} " \
           f"(slug {organization.slug})"


def _check_owner(settings: Settings, owner: dict[str, str | None]) -> None:
    """Refuse, naming the option, what the first owner cannot have."""
    from wacc.cli.accounts import checked_email
    from wacc.security.passwords import PasswordPolicyError, check_policy

    for key in ("org", "name"):
        if owner[key] is not None and not owner[key].strip():  # type: ignore[union-attr]
            raise CommandError(f"--{key}: must not be blank")
    if owner["email"]:
        owner["email"] = checked_email(owner["email"])
    if owner["password"]:
        try:
            check_policy(owner["password"], settings.auth.password_min_length,
                         email=owner["email"] or "", name=owner["name"] or "")
        except PasswordPolicyError as exc:
            raise CommandError(f"--password: {exc}") from None


async def _first_owner_needed(email: str | None) -> tuple[bool, bool]:
    """(no organization exists yet, a user with *email* exists)."""
    from wacc.orgs import services as orgs
    from wacc.users import services as users

    exists = bool(email) and await users.row_by_email(email or "") is not None
    return await orgs.count() == 0, exists


def init(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option(help="Name of the first organization.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail of its first owner.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of its first owner.")] = None,
    password: Annotated[str | None, typer.Option(
        help="Password of its first owner (prompted for when missing).")] = None,
    non_interactive: Annotated[bool, typer.Option(
        "--non-interactive", help="Never prompt; leave out what was not given.")] = False,
) -> None:
    """Prepare this machine: data directory, master key, wacc.toml, database.

    Creates the data directory (0700), the master key file (0600; not when
    WACC_SECRET_KEY is set), wacc.toml with every setting commented out, the database
    tables and, when asked, the first organization and its owner. Safe to run again:
    whatever exists is kept.
    """
    settings = state(ctx).settings
    owner = {"org": org, "email": email, "name": name, "password": password}
    # What was given is checked before anything is made: a refused owner must not leave
    # a half-prepared machine behind. (Options left out matter only if no organization
    # exists yet, which is known once the database is there; init is safe to run again.)
    _check_owner(settings, owner)
    typer.echo(_ensure_data_dir(settings.data_path))
    typer.echo(_ensure_master_key(settings))
    typer.echo(_ensure_config_file(settings))
    from wacc.db.migrate import summary
    from wacc.roles.common import migrate as apply

    typer.echo(f"database: {summary(asyncio.run(apply(settings)))}")

    no_org, email_taken = with_database(settings, lambda: _first_owner_needed(email))
    if email_taken:
        typer.echo(f"first owner: {email} exists already (kept)")
        return
    if not no_org:
        if any(owner.values()):
            typer.echo("first owner: organizations exist already; add people with "
                       "`wacc user create` or `wacc user invite`")
        return
    interactive = not non_interactive and sys.stdin.isatty()
    if not any(owner.values()) and not (
        interactive and typer.confirm("Create the first organization and its owner now?",
                                      default=True)
    ):
        typer.echo(f"first owner: none yet. Open {settings.public_url} to create it, or "
                   "run `wacc init --org NAME --email EMAIL --name NAME`.")
        return
    missing = [f"--{k}" for k, v in owner.items() if not v]
    if non_interactive and missing:
        raise CommandError(f"{', '.join(missing)}: needed for the first owner (or give none "
                           "of --org/--email/--name/--password)")
    for key, value in owner.items():
        if value:
            continue
        owner[key] = typer.prompt(
            {"org": "Organization name", "email": "Owner e-mail", "name": "Owner name",
             "password": "Owner password"}[key],
            hide_input=key == "password", confirmation_prompt=key == "password",
        )
    _check_owner(settings, owner)
    rt = state(ctx).runtime()
    typer.echo(with_database(settings, lambda: _create_owner(rt, **owner)))  # type: ignore[arg-type]


def migrate(ctx: typer.Context) -> None:
    """Apply pending database migrations.

    Safe while wacc runs, and when several machines migrate at once (they take turns).
    """
    from wacc.db.migrate import summary
    from wacc.roles.common import migrate as apply

    typer.echo(f"database: {summary(asyncio.run(apply(state(ctx).settings)))}")
