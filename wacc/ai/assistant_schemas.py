"""Request and response bodies of the knowledge base, the auto-responder and agent assist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import PathParameter

from wacc.http.schemas import Input, Output

ArticleId = Annotated[str, PathParameter(name="articleId", min_length=1, max_length=64)]

# About 50,000 tokens: far more than a help article, little enough to chunk in a request.
MAX_ARTICLE_CHARS = 200_000
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
ArticleText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ARTICLE_CHARS)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
ArticleTag = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ArticleTags = Annotated[list[ArticleTag], msgspec.Meta(max_length=20)]
Priority = Annotated[int, msgspec.Meta(ge=-100, le=100)]
Format = Literal["text", "markdown"]


class ArticleCreate(Input):
    title: Title
    content: ArticleText
    format: Format = "text"
    category: Category | None = None
    tags: ArticleTags = []
    # Breaks ties between equally good passages: higher first.
    priority: Priority = 0


class ArticleUpdate(Input):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    content: ArticleText | msgspec.UnsetType = msgspec.UNSET
    format: Format | msgspec.UnsetType = msgspec.UNSET
    category: Category | msgspec.UnsetType | None = msgspec.UNSET
    tags: ArticleTags | msgspec.UnsetType = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET


class ArticleSummary(Output):
    id: str
    title: str
    format: str
    category: str | None
    tags: list[str]
    priority: int
    source_name: str | None  # the uploaded file's name, for articles made from a file
    chunk_count: int
    embedded_count: int  # passages with a vector (0 without an embedding provider)
    created_at: datetime
    updated_at: datetime


class ArticleOut(ArticleSummary):
    content: str


class ArticlePage(Output):
    items: list[ArticleSummary]
    next_cursor: str | None


class ReindexOut(Output):
    articles: int  # how many articles the background job will cut again


class PassageOut(Output):
    article_id: str
    chunk_id: str
    title: str
    content: str
    score: float


# -- the auto-responder ------------------------------------------------------------------

Clock = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]
Span = Annotated[list[Clock], msgspec.Meta(min_length=2, max_length=2)]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHours(Input):
    timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    # Opening spans per day, e.g. {"mon": [["09:00", "12:30"], ["13:30", "17:00"]]};
    # a day not named is closed.
    days: dict[Day, Annotated[list[Span], msgspec.Meta(max_length=8)]]


Keyword = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Text = Annotated[str, msgspec.Meta(max_length=4096)]


class ResponderIn(Input):
    """The whole configuration (PUT): fields left out take their defaults."""

    enabled: bool = False
    business_hours: BusinessHours | None = None  # null: at any hour
    system_prompt: Annotated[str, msgspec.Meta(max_length=8000)] = ""
    knowledge_base_only: bool = False
    handoff_keywords: Annotated[list[Keyword], msgspec.Meta(max_length=50)] = []
    min_confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    handoff_message: Text | None = None
    fallback_message: Text | None = None


class ResponderOut(Output):
    session_id: str
    enabled: bool
    business_hours: dict[str, Any] | None
    system_prompt: str
    knowledge_base_only: bool
    handoff_keywords: list[str]
    min_confidence: float
    handoff_message: str | None
    fallback_message: str | None
    open_now: bool  # whether the business hours cover this moment
    updated_at: datetime | None


# -- agent assist --------------------------------------------------------------------------

Tone = Literal["friendly", "formal", "short", "apologetic", "confident", "empathetic"]


class SuggestIn(Input):
    # What the agent wants the reply to say, in a few words (optional).
    hint: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class RewriteIn(Input):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    tone: Tone


class AssistOut(Output):
    text: str
    citations: list[PassageOut]
    provider: str | None
    model: str | None
