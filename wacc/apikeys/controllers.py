from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import JSONBody

from wacc.apikeys import services
from wacc.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from wacc.http.deps import PrincipalDep
from wacc.http.params import KeyId


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["API keys"]
    opt = {"resource": "api_key"}

    @get("/", opt={"permission": "read:api-keys"})
    async def list_api_keys(self, principal: PrincipalDep) -> list[ApiKeyOut]:
        return await services.list_keys(principal)

    @post("/", opt={"permission": "write:api-keys"}, status_code=201)
    async def create_api_key(self, principal: PrincipalDep, data: JSONBody[ApiKeyCreate]) -> ApiKeyCreated:
        """Create a key. The response holds the secret ``key``: it is shown this once."""
        return await services.create(principal, data)

    @get("/{keyId:str}", opt={"permission": "read:api-keys"})
    async def get_api_key(self, principal: PrincipalDep, key_id: KeyId) -> ApiKeyOut:
        return await services.get(principal, key_id)

    @delete("/{keyId:str}", opt={"permission": "write:api-keys", "audit": "api_key.revoke"},
            status_code=204)
    async def revoke_api_key(self, principal: PrincipalDep, key_id: KeyId) -> None:
        """Revoke a key; its next request is refused."""
        await services.revoke(principal, key_id)
