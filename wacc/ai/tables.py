from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSONB, Array, Boolean, Integer, Text, Varchar
from piccolo.table import Table

from wacc.db.columns import (
    EncryptedText,
    Index,
    created_at,
    enum_column,
    id_column,
    org_fk,
    updated_at,
)
from wacc.orgs.tables import Organization


class AiProviderType(StrEnum):
    OPENAI = "OPENAI"
    ANTHROPIC = "ANTHROPIC"
    GEMINI = "GEMINI"
    CUSTOM = "CUSTOM"


class AiProvider(Table, tablename="ai_provider"):
    id = id_column()
    organization = org_fk(Organization)
    provider = enum_column(AiProviderType, AiProviderType.OPENAI)
    enabled = Boolean(default=True)
    api_key = EncryptedText()
    model = Varchar(length=120)
    config = JSONB(null=True, default=None)
    priority = Integer(default=0)
    created_at = created_at()
    updated_at = updated_at()


class AiKnowledgeBase(Table, tablename="ai_knowledge_base"):
    id = id_column()
    organization = org_fk(Organization)
    title = Varchar(length=255)
    content = Text()
    category = Varchar(length=120, null=True, default=None)
    tags = Array(base_column=Varchar(length=64), default=[])
    embeddings = JSONB(null=True, default=None)
    priority = Integer(default=0)
    created_at = created_at()
    updated_at = updated_at()


INDEXES = [
    Index(AiProvider, "organization", "provider", unique=True),
    Index(AiKnowledgeBase, "organization", "category"),
]
