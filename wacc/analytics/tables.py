from __future__ import annotations

from piccolo.columns import JSONB, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wacc.db.columns import Index, id_column, org_fk
from wacc.orgs.tables import Organization


class AnalyticsEvent(Table, tablename="analytics_event"):
    id = id_column()
    organization = org_fk(Organization)
    session_id = Varchar(length=36, null=True, default=None)
    user_id = Varchar(length=36, null=True, default=None)
    event_type = Varchar(length=64)
    event_data = JSONB(default={})
    timestamp = Timestamptz(default=TimestamptzNow())


INDEXES = [Index(AnalyticsEvent, "organization", "event_type", "timestamp")]
