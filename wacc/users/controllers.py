from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import InviteId, OrgId, UserId
from wacc.users import services
from wacc.users.schemas import InviteCreate, InviteOut, UserOut, UserUpdate


class UserController(Controller):
    path = "/organizations/{orgId:str}"
    tags = ["Team"]
    opt = {"resource": "user"}

    @get("/users", opt={"permission": "read:users"})
    async def list_users(self, principal: PrincipalDep, org_id: OrgId) -> list[UserOut]:
        return await services.list_members(principal, org_id)

    # resource "invite": the audit row's resourceId is the new invite's id, not a user's.
    @post("/users", opt={"permission": "write:users", "audit": "user.invite", "resource": "invite"},
          status_code=201)
    async def invite_user(
        self, principal: PrincipalDep, rt: RuntimeDep, org_id: OrgId, data: JSONBody[InviteCreate]
    ) -> InviteOut:
        """Invite a teammate: a one-time link, e-mailed when SMTP is set up and returned
        in ``inviteUrl`` otherwise. The account exists once they accept."""
        return await services.invite(rt, principal, org_id, data)

    @get("/users/{userId:str}", opt={"permission": "read:users"})
    async def get_user(self, principal: PrincipalDep, org_id: OrgId, user_id: UserId) -> UserOut:
        return await services.get(principal, org_id, user_id)

    @patch("/users/{userId:str}", opt={"permission": "write:users"})
    async def update_user(
        self, principal: PrincipalDep, org_id: OrgId, user_id: UserId, data: JSONBody[UserUpdate]
    ) -> UserOut:
        """Rename, change role, or deactivate (``isActive: false``) a teammate."""
        return await services.update(principal, org_id, user_id, data)

    @delete("/users/{userId:str}", opt={"permission": "write:users"}, status_code=204)
    async def remove_user(self, principal: PrincipalDep, org_id: OrgId, user_id: UserId) -> None:
        await services.remove(principal, org_id, user_id)

    @get("/invites", opt={"permission": "read:users", "resource": "invite"})
    async def list_invites(self, principal: PrincipalDep, org_id: OrgId) -> list[InviteOut]:
        return await services.list_invites(principal, org_id)

    @delete(
        "/invites/{inviteId:str}", opt={"permission": "write:users", "resource": "invite"},
        status_code=204,
    )
    async def revoke_invite(self, principal: PrincipalDep, org_id: OrgId, invite_id: InviteId) -> None:
        await services.revoke_invite(principal, org_id, invite_id)
