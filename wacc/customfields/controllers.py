from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from wacc.customfields import services
from wacc.customfields.schemas import (
    CustomFieldCreate,
    CustomFieldOut,
    CustomFieldUpdate,
    FieldId,
)
from wacc.http.deps import PrincipalDep


class CustomFieldController(Controller):
    path = "/custom-fields"
    tags = ["Custom fields"]
    opt = {"resource": "custom_field"}

    @get("/", opt={"permission": "read:contacts"})
    async def list_custom_fields(self, principal: PrincipalDep) -> list[CustomFieldOut]:
        return await services.list_fields(principal)

    @post("/", opt={"permission": "write:settings"}, status_code=201)
    async def create_custom_field(
        self, principal: PrincipalDep, data: JSONBody[CustomFieldCreate]
    ) -> CustomFieldOut:
        """Define a contact field. ``options`` is required for SELECT and MULTISELECT
        and refused for other types; the key cannot change later."""
        return await services.create(principal, data)

    @patch("/{fieldId:str}", opt={"permission": "write:settings"})
    async def update_custom_field(
        self, principal: PrincipalDep, field_id: FieldId, data: JSONBody[CustomFieldUpdate]
    ) -> CustomFieldOut:
        """Rename, change options or the required flag; key and type are fixed."""
        return await services.update(principal, field_id, data)

    @delete("/{fieldId:str}", opt={"permission": "write:settings"}, status_code=204)
    async def delete_custom_field(self, principal: PrincipalDep, field_id: FieldId) -> None:
        await services.delete(principal, field_id)
