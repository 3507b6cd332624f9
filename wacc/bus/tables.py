from __future__ import annotations

from piccolo.columns import JSONB, BigSerial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class BusEvent(Table, tablename="bus_event"):
    """Embedded mode's event bus: processes append here and poll for newer ids.
    (With Redis, events go through Redis pub/sub instead and this stays empty.)"""

    id = BigSerial(primary_key=True)
    topic = Varchar(length=120)
    payload = JSONB(default={})
    created_at = Timestamptz(default=TimestamptzNow())
