"""Team and profile pages: members, their roles and invites, and your own password and
two-factor set-up. Reads go through the users and auth services as the signed-in
principal; every change is a call of the public API from the page (static/js/settings.js)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template

from wacc.http.deps import PrincipalDep
from wacc.security.roles import Role, can_manage
from wacc.ui.render import page
from wacc.users import services as users
from wacc.users.schemas import UserOut


def manageable_roles(actor: Role | None) -> list[Role]:
    """The roles *actor* may give or take (rank rules of docs/permissions.md)."""
    if actor is None:
        return []
    return [role for role in Role if can_manage(actor, role)]


class TeamPages(Controller):
    include_in_schema = False

    @get("/team", opt={"permission": "read:users"})
    async def team(self, request: Request, principal: PrincipalDep) -> Template:
        members = await users.list_members(principal, principal.organization_id)
        invites = await users.list_invites(principal, principal.organization_id)
        roles = manageable_roles(principal.role)

        def manageable(member: UserOut) -> bool:
            # Yourself and members above your rank: the API would refuse, so no buttons.
            return member.id != principal.user_id and member.role in roles

        return page(request, "team/list.html", section="team", members=members,
                    invites=invites, roles=roles, manageable=manageable,
                    org_id=principal.organization_id)

    @get("/ui/team/invites", opt={"permission": "read:users"})
    async def invite_rows(self, request: Request, principal: PrincipalDep) -> Template:
        """The pending invites, refreshed after an invite or a revoke."""
        invites = await users.list_invites(principal, principal.organization_id)
        return page(request, "team/_invites.html", invites=invites,
                    roles=manageable_roles(principal.role), org_id=principal.organization_id)

    @get("/profile")
    async def profile(self, request: Request, principal: PrincipalDep) -> Template:
        """Any signed-in user: their name, password and two-factor authentication."""
        return page(request, "profile/index.html", section="profile",
                    org_id=principal.organization_id)
