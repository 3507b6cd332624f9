"""Column helpers shared by every feature's tables."""

from __future__ import annotations

from enum import Enum
from typing import Any

from piccolo.columns import ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wacc.lib.clock import utcnow
from wacc.lib.ids import new_id

ID_LENGTH = 36


def id_column() -> Varchar:
    """Primary key: a UUID as text, so ids look the same on SQLite and PostgreSQL."""
    return Varchar(length=ID_LENGTH, primary_key=True, default=new_id)


def created_at() -> Timestamptz:
    return Timestamptz(default=TimestamptzNow())


def updated_at() -> Timestamptz:
    return Timestamptz(default=TimestamptzNow(), auto_update=utcnow)


def org_fk(table: type[Table], **kwargs: Any) -> ForeignKey:
    """The owning organization; deleting an organization deletes what it owns."""
    return ForeignKey(references=table, on_delete=OnDelete.cascade, null=False, **kwargs)


def enum_column(enum: type[Enum], default: Enum, **kwargs: Any) -> Varchar:
    return Varchar(length=24, choices=enum, default=default.value, **kwargs)


class EncryptedText(Text):
    """A secret stored encrypted (AES-256-GCM, see wacc.security.crypto).

    The column type itself is plain text; services encrypt before writing and decrypt
    after reading. Being a distinct class lets `wacc keys rotate` find every secret
    column of every table, including ones added by later features.
    """

    @property
    def column_type(self) -> str:
        return "TEXT"


def encrypted_columns(tables: list[type[Table]]) -> list[tuple[type[Table], EncryptedText]]:
    return [
        (table, column)
        for table in tables
        for column in table._meta.columns
        if isinstance(column, EncryptedText)
    ]


class Index:
    """A multi-column index, or a unique constraint over several columns.

    Piccolo's auto-migrations handle single-column indexes; its multi-column Unique
    constraint is emitted as ALTER TABLE … ADD CONSTRAINT, which SQLite cannot run. So
    multi-column indexes (unique or not) are declared in each tables module's INDEXES
    and created as indexes by hand-written migrations, which work on both databases.
    A test checks that every declared index exists after migrating.
    """

    def __init__(self, table: type[Table], *columns: str, unique: bool = False) -> None:
        self.table = table
        self.columns = columns
        self.unique = unique

    @property
    def name(self) -> str:
        prefix = "ux" if self.unique else "ix"
        return f"{prefix}_{self.table._meta.tablename}_{'_'.join(self.columns)}"

    def ddl(self) -> str:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        unique = "UNIQUE " if self.unique else ""
        return (
            f'CREATE {unique}INDEX IF NOT EXISTS "{self.name}" ON '
            f'"{self.table._meta.tablename}" ({cols})'
        )
