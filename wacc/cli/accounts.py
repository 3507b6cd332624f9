"""`wacc user ...` and `wacc org ...`: the operator's view of organizations and people.

The CLI acts as an organization's owner, through the same services as the API, so the
same rules apply (password policy, unique e-mail, who may invite whom).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from wacc.cli.common import print_table, state, with_database
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.security.roles import Role

if TYPE_CHECKING:
    from wacc.orgs.schemas import OrganizationOut
    from wacc.security.principal import Principal

user_app = typer.Typer(help="Create, list and manage users.", no_args_is_help=True)
org_app = typer.Typer(help="List organizations.", no_args_is_help=True)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", "--org-id", "--org-slug",
                 help="Organization id or slug (may be left out when there is only one)."),
]


async def _resolve_org(ref: str | None) -> OrganizationOut:
    from wacc.orgs import services as orgs

    every = await orgs.list_all()
    if ref is None:
        if len(every) == 1:
            return every[0]
        raise ValidationError.field(
            "org", "no organization exists yet (run `wacc init`)" if not every
            else "there are several organizations: choose one with --org (see `wacc org list`)"
        )
    for org in every:
        if ref in (org.id, org.slug):
            return org
    raise NotFoundError(f"No organization with id or slug {ref!r}")


def checked_email(email: str) -> str:
    """The API validates e-mails in its request bodies; the CLI checks them here."""
    import msgspec

    from wacc.http.schemas import Email

    try:
        return msgspec.convert(email.strip(), Email)
    except msgspec.ValidationError:
        raise ValidationError.field("email", f"{email!r} is not an e-mail address") from None


def _as_owner(org_id: str) -> Principal:
    """The operator acts with an owner's reach inside the organization."""
    from wacc.security.principal import Principal

    return Principal(organization_id=org_id, role=Role.OWNER)


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    org: OrgOption = None,
    role: Annotated[Role, typer.Option(help="Role in the organization.", case_sensitive=False)] = Role.AGENT,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True, show_default=False,
                                          help="Prompted for when left out.")] = "",
) -> None:
    """Create an active user in an organization."""
    from wacc.users import services as users

    cli = state(ctx)
    rt = cli.runtime()

    async def create() -> str:
        organization = await _resolve_org(org)
        user = await users.create(rt, organization.id, checked_email(email), name, password,
                                  role)
        return f"created {user.email} ({user.role.value}) in {organization.slug}, id {user.id}"

    typer.echo(with_database(cli.settings, create))


@user_app.command("list")
def user_list(ctx: typer.Context, org: OrgOption = None) -> None:
    """List users, of one organization or of all."""
    from wacc.orgs import services as orgs
    from wacc.users import services as users

    async def rows() -> list[list[object]]:
        chosen = [await _resolve_org(org)] if org else await orgs.list_all()
        out: list[list[object]] = []
        for organization in chosen:
            for u in await users.list_members(_as_owner(organization.id), organization.id):
                out.append([organization.slug, u.email, u.name, u.role.value,
                            "yes" if u.is_active else "no",
                            "yes" if u.two_factor_enabled else "no", u.id])
        return out

    print_table(["ORG", "EMAIL", "NAME", "ROLE", "ACTIVE", "2FA", "ID"],
                with_database(state(ctx).settings, rows))


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(help="The user's e-mail.")],
    password: Annotated[str, typer.Option(prompt="New password", hide_input=True,
                                          confirmation_prompt=True, show_default=False,
                                          help="Prompted for when left out.")] = "",
) -> None:
    """Set a user's password and sign them out everywhere."""
    from wacc.auth import services as auth
    from wacc.users import services as users

    cli = state(ctx)
    rt = cli.runtime()

    async def reset() -> str:
        row = await users.row_by_email(email)
        if row is None:
            raise NotFoundError(f"No user with e-mail {email}")
        await users.set_password(rt, row["id"], password)
        # A reset usually means the old password leaked: end every session made with it.
        await auth.revoke_user_sessions(row["id"])
        return f"password of {row['email']} changed; their sessions were signed out"

    typer.echo(with_database(cli.settings, reset))


@user_app.command("invite")
def user_invite(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(help="Who to invite.")],
    org: OrgOption = None,
    role: Annotated[Role, typer.Option(help="Role they will have.", case_sensitive=False)] = Role.AGENT,
    name: Annotated[str | None, typer.Option(help="Their name (they may change it).")] = None,
) -> None:
    """Invite someone by e-mail.

    Without SMTP configured, prints the one-time link to pass on instead.
    """
    from wacc.users import services as users
    from wacc.users.schemas import InviteCreate

    cli = state(ctx)
    rt = cli.runtime()
    data = InviteCreate(email=checked_email(email), name=name, role=role)

    async def invite() -> str:
        organization = await _resolve_org(org)
        out = await users.invite(rt, _as_owner(organization.id), organization.id, data)
        if out.emailed:
            return f"invite e-mailed to {out.email} ({out.role.value} in {organization.slug})"
        return (f"Invite link for {out.email} ({out.role.value} in {organization.slug}; works "
                f"once, until {out.expires_at:%Y-%m-%d %H:%M} UTC):\n{out.invite_url}")

    typer.echo(with_database(cli.settings, invite))


@org_app.command("list")
def org_list(ctx: typer.Context) -> None:
    """List every organization."""
    from wacc.orgs import services as orgs

    rows = with_database(state(ctx).settings, orgs.list_all)
    print_table(["SLUG", "NAME", "PLAN", "CREATED", "ID"],
                [[o.slug, o.name, o.plan, f"{o.created_at:%Y-%m-%d}", o.id] for o in rows])
