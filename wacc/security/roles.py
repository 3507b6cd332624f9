"""Roles and the permission matrix.

Every endpoint declares one permission such as ``write:users``. A user's role grants a
set of permissions (below); an API key carries an explicit subset as its scopes. One
guard checks both. docs/permissions.md is generated from this table
(`python -m wacc.devtools docs`), and a test fails when it drifts.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    AGENT = "AGENT"
    VIEWER = "VIEWER"


# Higher rank may manage lower rank; nobody manages an equal or higher rank except OWNER.
RANK = {Role.OWNER: 5, Role.ADMIN: 4, Role.MANAGER: 3, Role.AGENT: 2, Role.VIEWER: 1}

# permission -> (description, roles that hold it). Later features add their rows here.
PERMISSIONS: dict[str, tuple[str, frozenset[Role]]] = {}


def _grant(permission: str, description: str, *roles: Role) -> None:
    PERMISSIONS[permission] = (description, frozenset(roles))


_ALL = tuple(Role)
_STAFF = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.AGENT)
_ADMINS = (Role.OWNER, Role.ADMIN)
_MANAGERS = (Role.OWNER, Role.ADMIN, Role.MANAGER)

_grant("read:organization", "See the organization's profile and settings", *_ALL)
_grant("write:organization", "Change the organization's name and settings", *_ADMINS)
_grant("delete:organization", "Delete the organization and all its data", Role.OWNER)
_grant("read:users", "List and view team members and invites", *_ALL)
_grant("write:users", "Invite, change, deactivate and remove team members", *_ADMINS)
_grant("read:api-keys", "List API keys (never their secrets)", *_ADMINS)
_grant("write:api-keys", "Create and revoke API keys", *_ADMINS)
_grant("read:audit", "Read the audit log", *_ADMINS)
# Declared now so API keys can be scoped for what the next features add.
_grant("read:sessions", "See WhatsApp sessions and their status", *_ALL)
_grant("write:sessions", "Add, connect, disconnect and delete WhatsApp sessions", *_ADMINS)
_grant("read:contacts", "See contacts", *_ALL)
_grant("write:contacts", "Create, edit, import and merge contacts", *_STAFF)
_grant("delete:contacts", "Delete and erase contacts (GDPR erasure)", *_ADMINS)
_grant("export:contacts", "Export contacts (CSV, GDPR export)", *_MANAGERS)
_grant("write:segments", "Create, change and delete contact segments", *_MANAGERS)
_grant("write:tags", "Create, rename and delete tags", *_MANAGERS)
_grant("write:settings", "Change organization settings such as custom fields", *_ADMINS)
_grant("write:canned-responses", "Create and change canned responses", *_MANAGERS)
_grant("read:conversations", "See conversations", *_ALL)
_grant("write:conversations", "Assign, tag, note and change conversations", *_STAFF)
_grant("read:messages", "Read messages", *_ALL)
_grant("write:messages", "Send and revoke messages", *_STAFF)
_grant("read:automations", "See automations and their runs", *_MANAGERS)
_grant("write:automations", "Create and change automations", *_MANAGERS)
_grant("read:analytics", "See reports", *_MANAGERS)
_grant("read:ai", "See AI providers, the knowledge base and auto-responders (never keys)",
       *_MANAGERS)
_grant("write:ai", "Configure AI providers, the knowledge base and auto-responders",
       *_ADMINS)
_grant("use:ai", "Ask the AI for reply suggestions, summaries and rewrites", *_STAFF)


def role_permissions(role: Role) -> frozenset[str]:
    return frozenset(p for p, (_, roles) in PERMISSIONS.items() if role in roles)


def role_allows(role: Role, permission: str) -> bool:
    return role in PERMISSIONS[permission][1]


def can_manage(actor: Role, target: Role) -> bool:
    """Whether *actor* may create, change or remove a member whose role is *target*."""
    if actor is Role.OWNER:
        return True
    return RANK[actor] > RANK[target]
