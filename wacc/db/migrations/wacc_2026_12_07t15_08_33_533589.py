from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-07T15:08:33:533589"
VERSION = "1.38.0"
DESCRIPTION = "message type UNSUPPORTED"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="wacc", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Message",
        tablename="message",
        column_name="type",
        db_column_name="type",
        params={
            "choices": Enum(
                "MessageType",
                {
                    "TEXT": "TEXT",
                    "IMAGE": "IMAGE",
                    "VIDEO": "VIDEO",
                    "AUDIO": "AUDIO",
                    "DOCUMENT": "DOCUMENT",
                    "STICKER": "STICKER",
                    "LOCATION": "LOCATION",
                    "CONTACT": "CONTACT",
                    "POLL": "POLL",
                    "REACTION": "REACTION",
                    "UNSUPPORTED": "UNSUPPORTED",
                },
            )
        },
        old_params={
            "choices": Enum(
                "MessageType",
                {
                    "TEXT": "TEXT",
                    "IMAGE": "IMAGE",
                    "VIDEO": "VIDEO",
                    "AUDIO": "AUDIO",
                    "DOCUMENT": "DOCUMENT",
                    "STICKER": "STICKER",
                    "LOCATION": "LOCATION",
                    "CONTACT": "CONTACT",
                    "POLL": "POLL",
                    "REACTION": "REACTION",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
