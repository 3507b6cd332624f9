from __future__ import annotations

from litestar import Controller, delete, get, patch
from litestar.params import JSONBody

from wacc.http.deps import PrincipalDep
from wacc.http.params import OrgId
from wacc.orgs import services
from wacc.orgs.schemas import OrganizationDelete, OrganizationOut, OrganizationUpdate


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["Organizations"]
    opt = {"resource": "organization"}

    @get("/", opt={"permission": "read:organization"})
    async def list_organizations(self, principal: PrincipalDep) -> list[OrganizationOut]:
        """The caller's organization (a user belongs to exactly one)."""
        return await services.list_for(principal)

    @get("/{orgId:str}", opt={"permission": "read:organization"})
    async def get_organization(self, principal: PrincipalDep, org_id: OrgId) -> OrganizationOut:
        return await services.get(principal, org_id)

    @patch("/{orgId:str}", opt={"permission": "write:organization"})
    async def update_organization(
        self, principal: PrincipalDep, org_id: OrgId, data: JSONBody[OrganizationUpdate]
    ) -> OrganizationOut:
        return await services.update(principal, org_id, data)

    @delete("/{orgId:str}", opt={"permission": "delete:organization"}, status_code=204)
    async def delete_organization(
        self, principal: PrincipalDep, org_id: OrgId, data: JSONBody[OrganizationDelete]
    ) -> None:
        """Delete the organization and everything in it; confirm with its slug."""
        await services.delete(principal, org_id, data.confirm_slug)
