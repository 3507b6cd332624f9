"""Who is calling: a user (by access token) or an API key."""

from __future__ import annotations

from dataclasses import dataclass, field

from wacc.security.roles import Role, role_permissions


@dataclass(frozen=True)
class Principal:
    organization_id: str
    user_id: str | None = None
    role: Role | None = None
    api_key_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_family: str | None = None

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    @property
    def permissions(self) -> frozenset[str]:
        if self.is_api_key:
            return self.scopes
        assert self.role is not None
        return role_permissions(self.role)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def rate_key(self) -> str:
        return f"key:{self.api_key_id}" if self.is_api_key else f"user:{self.user_id}"
