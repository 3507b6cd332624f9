"""Request and response bodies of the knowledge base."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

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
