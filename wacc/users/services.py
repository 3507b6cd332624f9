"""Team members and invites, scoped to the caller's organization."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wacc.db.engine import is_sqlite, transaction
from wacc.lib.clock import utcnow
from wacc.lib.errors import AuthorizationError, ConflictError, NotFoundError, ValidationError
from wacc.lib.ids import new_id, token
from wacc.orgs import services as orgs
from wacc.runtime import Runtime
from wacc.security.passwords import PasswordPolicyError, check_policy, hash_password
from wacc.security.principal import Principal
from wacc.security.roles import Role, can_manage
from wacc.security.tokens import hash_secret
from wacc.users.schemas import InviteCreate, InviteInfo, InviteOut, UserOut, UserUpdate
from wacc.users.tables import Invite, User


def user_out(row: dict[str, Any]) -> UserOut:
    return UserOut(
        id=row["id"], organization_id=row["organization"], email=row["email"],
        name=row["name"], role=Role(row["role"]), is_active=row["is_active"],
        two_factor_enabled=row["totp_enabled"], last_login_at=row["last_login_at"],
        created_at=row["created_at"],
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password(
    rt: Runtime, password: str, email: str, name: str, *, field: str = "password"
) -> None:
    """Raise ValidationError naming *field* (the request's field) when the policy fails."""
    try:
        check_policy(password, rt.settings.auth.password_min_length, email=email, name=name)
    except PasswordPolicyError as exc:
        raise ValidationError.field(field, str(exc)) from None


async def create(
    rt: Runtime, org_id: str, email: str, name: str, password: str, role: Role
) -> UserOut:
    """Create an active user (registration, accepted invites, the CLI)."""
    email = normalize_email(email)
    check_password(rt, password, email, name)
    if await User.exists().where(User.email == email):
        raise ConflictError(
            "A user with this e-mail already exists",
            [{"field": "email", "message": "already registered"}],
        )
    user_id = new_id()
    await User.insert(
        User(
            id=user_id, organization=org_id, email=email, name=name.strip(),
            password_hash=hash_password(password), role=role.value,
            password_changed_at=utcnow(),
        )
    )
    return await get_by_id(user_id)


async def get_by_id(user_id: str) -> UserOut:
    row = await User.select().where(User.id == user_id).first()
    if row is None:
        raise NotFoundError("User not found")
    return user_out(row)


async def row_by_email(email: str) -> dict[str, Any] | None:
    return await User.select().where(User.email == normalize_email(email)).first()


async def row_by_id(user_id: str) -> dict[str, Any] | None:
    return await User.select().where(User.id == user_id).first()


def _check_org(principal: Principal, org_id: str) -> None:
    if org_id != principal.organization_id:
        raise NotFoundError("Organization not found")


async def _scoped_row(principal: Principal, org_id: str, user_id: str) -> dict[str, Any]:
    _check_org(principal, org_id)
    row = (
        await User.select()
        .where((User.id == user_id) & (User.organization == principal.organization_id))
        .first()
    )
    if row is None:
        raise NotFoundError("User not found")
    return row


async def list_members(principal: Principal, org_id: str) -> list[UserOut]:
    _check_org(principal, org_id)
    rows = (
        await User.select()
        .where(User.organization == principal.organization_id)
        .order_by(User.created_at)
    )
    return [user_out(r) for r in rows]


async def get(principal: Principal, org_id: str, user_id: str) -> UserOut:
    return user_out(await _scoped_row(principal, org_id, user_id))


def _actor_role(principal: Principal) -> Role:
    # An API key acts with ADMIN's reach at most: it can never make or unmake an OWNER.
    return principal.role or Role.ADMIN


async def _keep_an_owner(org_id: str, user_id: str) -> None:
    """Refuse a change to *user_id* that would leave no other active OWNER.

    Call inside the write transaction. On PostgreSQL the owners' rows are locked (in id
    order, so two callers cannot deadlock) until it ends: two owners demoting each other
    at once are then serialized, and the second one sees a single owner left. SQLite's
    write transactions are serialized already.
    """
    query = (
        User.select(User.id)
        .where(
            (User.organization == org_id) & (User.role == Role.OWNER.value)
            & (User.is_active == True)  # noqa: E712
        )
        .order_by(User.id)
    )
    if not is_sqlite():
        query = query.lock_rows()
    if not any(row["id"] != user_id for row in await query):
        raise ConflictError("The organization needs at least one owner")


async def update(principal: Principal, org_id: str, user_id: str, data: UserUpdate) -> UserOut:
    async with transaction():
        row = await _scoped_row(principal, org_id, user_id)
        actor, target = _actor_role(principal), Role(row["role"])
        is_self = user_id == principal.user_id
        values: dict[Any, Any] = {}
        if data.name is not None:
            values[User.name] = data.name.strip()
        if data.role is not None and data.role != target:
            if is_self:
                raise AuthorizationError("You cannot change your own role")
            if not can_manage(actor, target) or not can_manage(actor, data.role):
                raise AuthorizationError("Your role cannot give or take this role")
            if target is Role.OWNER:
                await _keep_an_owner(org_id, user_id)
            values[User.role] = data.role.value
        if data.is_active is not None and data.is_active != row["is_active"]:
            if is_self:
                raise AuthorizationError("You cannot deactivate yourself")
            if not can_manage(actor, target):
                raise AuthorizationError("Your role cannot change this member")
            if not data.is_active and target is Role.OWNER:
                await _keep_an_owner(org_id, user_id)
            values[User.is_active] = data.is_active
        if data.name is not None and not is_self and not can_manage(actor, target):
            raise AuthorizationError("Your role cannot change this member")
        if values:
            await User.update(values).where(User.id == user_id)
    return await get_by_id(user_id)


async def remove(principal: Principal, org_id: str, user_id: str) -> None:
    async with transaction():
        row = await _scoped_row(principal, org_id, user_id)
        if user_id == principal.user_id:
            raise AuthorizationError("You cannot remove yourself")
        if not can_manage(_actor_role(principal), Role(row["role"])):
            raise AuthorizationError("Your role cannot remove this member")
        if row["role"] == Role.OWNER.value:
            await _keep_an_owner(org_id, user_id)
        await User.delete().where(User.id == user_id)


async def is_active_member(user_id: str, org_id: str) -> dict[str, Any] | None:
    return (
        await User.select(User.id, User.role, User.is_active, User.organization)
        .where((User.id == user_id) & (User.organization == org_id) & (User.is_active == True))  # noqa: E712
        .first()
    )


# -- invites -------------------------------------------------------------------------

INVITE_GONE = "This invite link is not valid (used, revoked or expired)"


def _invite_out(row: dict[str, Any], url: str | None = None, emailed: bool = False) -> InviteOut:
    return InviteOut(
        id=row["id"], email=row["email"], name=row["name"], role=Role(row["role"]),
        expires_at=row["expires_at"], accepted_at=row["accepted_at"],
        created_at=row["created_at"], invite_url=url, emailed=emailed,
    )


async def invite(rt: Runtime, principal: Principal, org_id: str, data: InviteCreate) -> InviteOut:
    _check_org(principal, org_id)
    if not can_manage(_actor_role(principal), data.role):
        raise AuthorizationError(f"Your role cannot invite a {data.role.value}")
    email = normalize_email(data.email)
    if await User.exists().where(User.email == email):
        raise ConflictError(
            "A user with this e-mail already exists",
            [{"field": "email", "message": "already registered"}],
        )
    secret = token()
    invite_id = new_id()
    now = utcnow()
    async with transaction():
        # A new invite replaces any earlier one for the same address.
        await Invite.update({Invite.revoked_at: now}).where(
            (Invite.organization == org_id) & (Invite.email == email)
            & Invite.accepted_at.is_null() & Invite.revoked_at.is_null()
        )
        await Invite.insert(
            Invite(
                id=invite_id, organization=org_id, email=email, name=(data.name or "").strip(),
                role=data.role.value, token_hash=hash_secret(secret),
                invited_by=principal.user_id,
                expires_at=now + timedelta(days=rt.settings.auth.invite_days),
            )
        )
    url = f"{rt.settings.public_url}/invite/{secret}"
    org = await orgs.get_by_id(org_id)
    emailed = await rt.mailer.send(
        email,
        f"You are invited to {org.name} on wacc",
        f"You have been invited to join {org.name} as {data.role.value.lower()}.\n\n"
        f"Accept the invitation: {url}\n\nThe link works once and expires in "
        f"{rt.settings.auth.invite_days} days.",
    )
    row = await Invite.select().where(Invite.id == invite_id).first()
    assert row is not None
    # Without e-mail the link is handed to the inviter (it is a one-time secret).
    return _invite_out(row, url=None if emailed else url, emailed=emailed)


async def list_invites(principal: Principal, org_id: str) -> list[InviteOut]:
    _check_org(principal, org_id)
    rows = (
        await Invite.select()
        .where(
            (Invite.organization == org_id) & Invite.accepted_at.is_null()
            & Invite.revoked_at.is_null() & (Invite.expires_at > utcnow())
        )
        .order_by(Invite.created_at, ascending=False)
    )
    return [_invite_out(r) for r in rows]


async def revoke_invite(principal: Principal, org_id: str, invite_id: str) -> None:
    _check_org(principal, org_id)
    row = await Invite.select(Invite.id, Invite.role).where(
        (Invite.id == invite_id) & (Invite.organization == org_id) & Invite.revoked_at.is_null()
        & Invite.accepted_at.is_null()
    ).first()
    if row is None:
        raise NotFoundError("Invite not found")
    if not can_manage(_actor_role(principal), Role(row["role"])):
        raise AuthorizationError("Your role cannot revoke this invite")
    await Invite.update({Invite.revoked_at: utcnow()}).where(Invite.id == invite_id)


async def _open_invite(secret: str) -> dict[str, Any]:
    row = await Invite.select().where(Invite.token_hash == hash_secret(secret)).first()
    if (
        row is None or row["accepted_at"] is not None or row["revoked_at"] is not None
        or row["expires_at"] <= utcnow()
    ):
        raise NotFoundError(INVITE_GONE)
    return row


async def invite_info(secret: str) -> InviteInfo:
    row = await _open_invite(secret)
    org = await orgs.get_by_id(row["organization"])
    return InviteInfo(
        email=row["email"], name=row["name"], role=Role(row["role"]),
        organization_name=org.name, expires_at=row["expires_at"],
    )


async def accept_invite(rt: Runtime, secret: str, password: str, name: str | None) -> UserOut:
    async with transaction():
        row = await _open_invite(secret)
        final_name = (name or row["name"] or row["email"].split("@")[0]).strip()
        # Mark it used first, conditionally: of two concurrent accepts only one wins.
        won = await Invite.update({Invite.accepted_at: utcnow()}).where(
            (Invite.id == row["id"]) & Invite.accepted_at.is_null()
        ).returning(Invite.id)
        if not won:
            raise NotFoundError(INVITE_GONE)
        user = await create(
            rt, row["organization"], row["email"], final_name, password, Role(row["role"])
        )
    return user


async def set_password(rt: Runtime, user_id: str, password: str) -> None:
    row = await row_by_id(user_id)
    if row is None:
        raise NotFoundError("User not found")
    check_password(rt, password, row["email"], row["name"])
    await User.update(
        {User.password_hash: hash_password(password), User.password_changed_at: utcnow()}
    ).where(User.id == user_id)


async def list_all(org_id: str | None = None) -> list[UserOut]:
    """Every user (optionally of one organization), for the operator's CLI."""
    query = User.select().order_by(User.created_at)
    if org_id:
        query = query.where(User.organization == org_id)
    return [user_out(r) for r in await query]
