from __future__ import annotations

from piccolo.columns import JSONB, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wacc.apikeys.tables import ApiKey
from wacc.db.columns import Index, id_column, org_fk
from wacc.orgs.tables import Organization
from wacc.users.tables import User


class ActivityLog(Table, tablename="activity_log"):
    id = id_column()
    organization = org_fk(Organization)
    user = ForeignKey(User, on_delete=OnDelete.set_null, null=True)
    api_key = ForeignKey(ApiKey, on_delete=OnDelete.set_null, null=True)
    action = Varchar(length=80)
    resource = Varchar(length=40)
    resource_id = Varchar(length=64, null=True, default=None)
    metadata = JSONB(default={})
    ip_address = Varchar(length=64, null=True, default=None)
    user_agent = Varchar(length=255, null=True, default=None)
    request_id = Varchar(length=64, null=True, default=None)
    status_code = Integer(null=True, default=None)
    timestamp = Timestamptz(default=TimestamptzNow())


INDEXES = [
    Index(ActivityLog, "organization", "timestamp"),
    Index(ActivityLog, "user", "timestamp"),
]
