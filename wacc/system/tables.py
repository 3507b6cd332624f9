from __future__ import annotations

from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class RoleHeartbeat(Table, tablename="role_heartbeat"):
    """One row per running role process (worker, scheduler, wa), refreshed periodically;
    /health/ready reads it to tell whether jobs are being worked."""

    id = Varchar(length=200, primary_key=True)  # role:host:pid
    role = Varchar(length=32, index=True)
    host = Varchar(length=128)
    pid = Integer()
    started_at = Timestamptz(default=TimestamptzNow())
    seen_at = Timestamptz(default=TimestamptzNow())
