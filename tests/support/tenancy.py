"""A second organization, to show that the first one's data stays out of its reach."""

from __future__ import annotations

from tests.helpers import PASSWORD, login
from wacc.orgs import services as orgs
from wacc.security.roles import Role
from wacc.users import services as users


async def second_org(client, server):
    """Create organization Beta with an owner; returns that owner's access token."""
    org = await orgs.create("Beta")
    await users.create(server.app.state["runtime"], org.id, "beta-owner@example.com",
                       "Bea Beta", PASSWORD, Role.OWNER)
    return (await login(client, "beta-owner@example.com"))["accessToken"]
