from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from wacc.audit import services
from wacc.audit.schemas import ActivityPage
from wacc.http.deps import PrincipalDep


class AuditController(Controller):
    path = "/audit-logs"
    tags = ["Audit log"]

    @get("/", opt={"permission": "read:audit"})
    async def list_audit_logs(
        self,
        principal: PrincipalDep,
        user_id: Annotated[str | None, QueryParameter(name="userId", max_length=64)] = None,
        action: Annotated[str | None, QueryParameter(max_length=80)] = None,
        resource: Annotated[str | None, QueryParameter(max_length=40)] = None,
        resource_id: Annotated[str | None, QueryParameter(name="resourceId", max_length=64)] = None,
        since: Annotated[datetime | None, QueryParameter()] = None,
        until: Annotated[datetime | None, QueryParameter()] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> ActivityPage:
        """Newest first, filtered by user, action, resource and time; cursor-paginated."""
        return await services.list_entries(
            principal, user_id=user_id, action=action, resource=resource,
            resource_id=resource_id, since=since, until=until, after=cursor, limit=limit,
        )
