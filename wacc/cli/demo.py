"""`wacc demo`: seed a realistic demo organization on the simulator engine
(wacc.demo). `wacc run --demo` runs it before starting the roles."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import TYPE_CHECKING

import typer

from wacc.cli.common import state, with_database
from wacc.config import Settings

if TYPE_CHECKING:
    from wacc.demo.seed import Seeded


def credentials() -> list[str]:
    from wacc.demo import data

    return [f"  owner: {data.OWNER_EMAIL}  agent: {data.AGENT_EMAIL}  "
            f"password (both): {data.PASSWORD}"]


def _report(seeded: Seeded) -> list[str]:
    from wacc.demo import data

    org = seeded.organization
    if not seeded.created:
        return [f"demo: organization {org.name!r} (slug {org.slug}) exists already; "
                "nothing changed", *credentials()]
    c = seeded.counts
    return [
        f"demo: created organization {org.name!r} (slug {org.slug})",
        *credentials(),
        f"  session {data.SESSION_NAME!r} (simulator, {seeded.session_phone}): connects when "
        "the wa role runs",
        f"  {c['contacts']} contacts, {c['conversations']} conversations, {c['inbound']} "
        f"customer messages, {c['replies']} replies (sent once the wa role and worker run), "
        f"{c['notes']} note",
        f"  {c['tags']} tags, {c['custom_fields']} custom fields, {c['canned_responses']} "
        f"canned responses, {c['automations']} automation",
    ]


def seed(settings: Settings) -> list[str]:
    """Prepare the data directory and database as `wacc run` would, then seed."""
    from wacc.cli.setup import first_start
    from wacc.demo.seed import seed as run_seed
    from wacc.features import make_plugin_manager
    from wacc.roles.common import migrate
    from wacc.runtime import Runtime
    from wacc.security.crypto import load_keyring

    prepared = first_start(settings)
    asyncio.run(migrate(settings))
    rt = Runtime.build(settings, load_keyring(settings), make_plugin_manager(settings))

    async def work() -> list[str]:
        try:
            return prepared + _report(await run_seed(rt))
        finally:
            await rt.close_parts()
            await rt.bus.close()

    return with_database(settings, work)


def seed_in_child() -> int:
    """`wacc demo` in a short-lived process, for `wacc run --demo`: importing every
    feature would otherwise stay with the supervisor for good (as `wacc migrate` does).
    Its output and errors reach the terminal as they are."""
    return subprocess.run([sys.executable, "-m", "wacc.cli.main", "demo"],
                          stdin=subprocess.DEVNULL, check=False).returncode


def demo(ctx: typer.Context) -> None:
    """Seed a demo organization to try wacc with: "Demo Coffee Co." (slug demo).

    Creates an owner and an agent, a simulator session "Shop phone", tags, custom
    fields, canned responses, an automation, contacts and conversations whose customer
    messages arrive through the simulator. Does nothing when the organization with the
    slug demo exists. `wacc run --demo` seeds and starts wacc in one go.
    """
    for line in seed(state(ctx).settings):
        typer.echo(line)
