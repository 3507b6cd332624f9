"""Set-based writes for hot paths, where one statement per row would dominate."""

from __future__ import annotations

from datetime import datetime

from piccolo.columns import Column
from piccolo.table import Table

from wacc.db.engine import is_sqlite


async def raise_timestamps(table: type[Table], column: Column, values: dict[str, datetime]) -> None:
    """Set ``column`` to the given time for each row id, only where that moves it later
    (NULL counts as earliest). One statement on PostgreSQL; one per row on SQLite, where
    every write takes the same file lock anyway."""
    if not values:
        return
    name = column._meta.db_column_name
    tablename = table._meta.tablename
    if is_sqlite(table._meta.db):
        for row_id, at in values.items():
            await table.update({column: at}).where(
                (table._meta.primary_key == row_id) & (column.is_null() | (column < at)))
        return
    await table.raw(
        f'UPDATE "{tablename}" AS t SET "{name}" = v.at '
        "FROM unnest({}::varchar[], {}::timestamptz[]) AS v(id, at) "
        f'WHERE t."id" = v.id AND (t."{name}" IS NULL OR t."{name}" < v.at)',
        list(values), list(values.values()),
    )
