from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Array,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Real,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from wacc.conversations.tables import Conversation
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
from wacc.sessions.tables import WhatsAppSession


class AiProviderType(StrEnum):
    """The seed's provider types: the built-in ones. The ``provider`` column holds a
    registered type's name in upper case, so a plugin's type (``HELLO-ECHO``) fits too;
    the registry's names are the lower-case forms (docs/ai.md)."""

    OPENAI = "OPENAI"
    ANTHROPIC = "ANTHROPIC"
    GEMINI = "GEMINI"
    CUSTOM = "CUSTOM"


class AiProvider(Table, tablename="ai_provider"):
    """One way to reach a model: an organization may have several (two OpenAI keys,
    Ollama beside vLLM), tried in ``priority`` order (lowest first)."""

    id = id_column()
    organization = org_fk(Organization)
    name = Varchar(length=80, default="")
    provider = enum_column(AiProviderType, AiProviderType.OPENAI)
    enabled = Boolean(default=True)
    api_key = EncryptedText()  # "" when the provider needs none (Ollama)
    model = Varchar(length=120)
    base_url = Varchar(length=512, null=True, default=None)
    temperature = Real(null=True, default=None)
    max_tokens = Integer(null=True, default=None)
    timeout_seconds = Integer(default=30)
    config = JSONB(null=True, default=None)  # provider options (docs/ai.md)
    priority = Integer(default=0)
    last_check_at = Timestamptz(null=True, default=None)
    last_check_error = Text(null=True, default=None)
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
    # text | markdown | file; for files, the original's name and where it is stored.
    format = Varchar(length=16, default="text")
    source_name = Varchar(length=255, null=True, default=None)
    source_key = Varchar(length=255, null=True, default=None)
    created_at = created_at()
    updated_at = updated_at()


class AiKnowledgeChunk(Table, tablename="ai_knowledge_chunk"):
    """A passage of an article, the unit retrieval finds and answers cite."""

    id = id_column()
    organization = org_fk(Organization)
    article = ForeignKey(AiKnowledgeBase, on_delete=OnDelete.cascade, null=False)
    ordinal = Integer(default=0)
    content = Text()
    # The provider embedding of the passage, when one is configured (a list of floats).
    embedding = JSONB(null=True, default=None)
    embedding_model = Varchar(length=120, null=True, default=None)
    created_at = created_at()


class AiResponder(Table, tablename="ai_responder"):
    """The auto-responder of one WhatsApp session (item 10 of the AI issue)."""

    id = id_column()
    organization = org_fk(Organization)
    session = ForeignKey(WhatsAppSession, on_delete=OnDelete.cascade, null=False)
    enabled = Boolean(default=False)
    # {"timezone": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]], ...}}; null: always
    business_hours = JSONB(null=True, default=None)
    system_prompt = Text(default="")
    knowledge_base_only = Boolean(default=False)
    handoff_keywords = JSONB(default=[])
    min_confidence = Real(default=0.0)
    handoff_message = Text(null=True, default=None)
    fallback_message = Text(null=True, default=None)
    created_at = created_at()
    updated_at = updated_at()


class AiUsage(Table, tablename="ai_usage"):
    """One model call (or one failed attempt chain): tokens, cost, latency, failovers —
    what spend caps, rate limits and the analytics issue read."""

    id = id_column()
    organization = org_fk(Organization)
    conversation = ForeignKey(Conversation, on_delete=OnDelete.set_null, null=True,
                              default=None)
    message_id = Varchar(length=36, null=True, default=None)
    purpose = Varchar(length=32, default="reply")  # reply | assist | test | automation
    provider_name = Varchar(length=80, default="")
    provider_type = Varchar(length=40, default="")
    model = Varchar(length=120, default="")
    prompt_tokens = Integer(default=0)
    completion_tokens = Integer(default=0)
    # Millionths of a US dollar, so sums are exact on both databases.
    cost_micros = BigInt(default=0)
    latency_ms = Integer(default=0)
    outcome = Varchar(length=32, default="ok")
    failed_over = Boolean(default=False)
    cached = Boolean(default=False)
    attempts = JSONB(default=[])
    created_at = created_at()


INDEXES = [
    Index(AiProvider, "organization", "name", unique=True),
    Index(AiProvider, "organization", "priority"),
    Index(AiKnowledgeBase, "organization", "category"),
    Index(AiKnowledgeChunk, "article", "ordinal"),
    Index(AiKnowledgeChunk, "organization"),
    Index(AiResponder, "session", unique=True),
    Index(AiUsage, "organization", "created_at"),
]
