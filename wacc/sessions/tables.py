from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from wacc.db.columns import EncryptedText, Index, created_at, enum_column, id_column, org_fk, updated_at
from wacc.orgs.tables import Organization


class SessionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    QR_READY = "QR_READY"
    LOADING = "LOADING"
    FAILED = "FAILED"


class WhatsAppSession(Table, tablename="whatsapp_session"):
    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=120)
    # Which engine plugin runs it (simulator, web, cloud, or a third-party one).
    engine = Varchar(length=40, default="simulator")
    phone_number = Varchar(length=32, null=True, default=None)
    status = enum_column(SessionStatus, SessionStatus.DISCONNECTED)
    qr_code = Text(null=True, default=None)
    last_seen = Timestamptz(null=True, default=None)
    client_info = JSONB(null=True, default=None)
    settings = JSONB(null=True, default=None)
    # What the user asked for (CONNECTED or DISCONNECTED); `status` is what is.
    desired_state = Varchar(length=16, default="DISCONNECTED")
    # Engine credentials (Cloud API token, app secret), encrypted at rest.
    credentials = EncryptedText(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = created_at()
    updated_at = updated_at()


class SessionLease(Table, tablename="session_lease"):
    """Which `wa` process runs a session. Claimed with a conditional write, renewed by a
    heartbeat; an expired lease is taken over by another process."""

    id = id_column()
    session = ForeignKey(WhatsAppSession, on_delete=OnDelete.cascade, unique=True)
    node_id = Varchar(length=200)
    rpc_url = Varchar(length=255)
    expires_at = Timestamptz()
    acquired_at = Timestamptz()


class HistoryImport(Table, tablename="history_import"):
    """A read of past messages from the phone (wacc.sessions.history): the first import
    of the last N days when a session links, or a back-fill of what arrived while it
    was down. Progress is kept here chat by chat, so an interrupted run resumes."""

    id = id_column()
    organization = org_fk(Organization)
    session = ForeignKey(WhatsAppSession, on_delete=OnDelete.cascade, null=False)
    kind = Varchar(length=16, default="import")  # import | backfill
    status = Varchar(length=16, default="PENDING")  # PENDING | RUNNING | DONE | FAILED
    since = Timestamptz()
    # The chats to read (Peers as JSON), fixed at the first run; null until then.
    chats = JSONB(null=True, default=None)
    chats_done = Integer(default=0)
    messages_seen = Integer(default=0)
    messages_stored = Integer(default=0)
    error = Text(null=True, default=None)
    created_at = created_at()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


INDEXES = [Index(WhatsAppSession, "organization"), Index(HistoryImport, "session", "created_at")]
