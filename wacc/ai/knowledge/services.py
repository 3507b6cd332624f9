"""Knowledge-base articles, scoped to the caller's organization: saved, cut into passages
and embedded (wacc.ai.knowledge.passages), uploaded as text or markdown files, and searched the
way the auto-responder searches them."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import msgspec

from wacc.ai import services as ai_services
from wacc.ai.knowledge import passages as knowledge
from wacc.ai.knowledge.schemas import (
    MAX_ARTICLE_CHARS,
    ArticleCreate,
    ArticleOut,
    ArticlePage,
    ArticleSummary,
    ArticleUpdate,
    PassageOut,
)
from wacc.ai.providers.router import router_of
from wacc.ai.tables import AiKnowledgeBase, AiKnowledgeChunk
from wacc.ai.types import Passage
from wacc.db.engine import transaction
from wacc.lib import cursor
from wacc.lib.clock import utcnow
from wacc.lib.errors import NotFoundError, ValidationError
from wacc.lib.ids import new_id
from wacc.runtime import Runtime
from wacc.security.principal import Principal

REINDEX_JOB = "ai.knowledge_reindex"
MAX_PAGE = 100
# Retrieval compares vectors in Python and ranks candidates per question: this bounds it.
MAX_ARTICLES = 2000
UPLOAD_MAX_BYTES = 1024 * 1024
_FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown"}
_MIME_FORMATS = {"text/plain": "text", "text/markdown": "markdown", "text/x-markdown": "markdown"}
# Provider types whose SDK has a default embedding model; others embed only when their
# options name an ``embedding_model`` (an Ollama server has no default worth guessing).
_EMBEDS_BY_DEFAULT = ("openai", "gemini")


async def embedder_for(rt: Runtime, organization_id: str) -> knowledge.Embedder | None:
    """Embeddings from the organization's first enabled provider that offers them, or
    None. Only that provider: vectors of two providers cannot be compared."""
    for row in await ai_services.enabled_rows(organization_id):
        config = ai_services.config_from_row(rt, row)
        model = config.options.get("embedding_model")
        if not model and config.type not in _EMBEDS_BY_DEFAULT:
            continue
        space = f"{config.type}:{model or 'default'}"
        if config.base_url:
            space += "@" + config.base_url.split("://", 1)[-1]

        async def embed(texts: list[str], config: Any = config) -> list[list[float]]:
            return await router_of(rt).embed(config, texts)

        return knowledge.Embedder(model=space[:120], embed=embed)
    return None


async def retrieve(rt: Runtime, organization_id: str, question: str,
                   limit: int = 4) -> list[Passage]:
    """knowledge.retrieve with the organization's embeddings, when it has some."""
    return await knowledge.retrieve(organization_id, question, limit,
                                    embedder=await embedder_for(rt, organization_id))


def passage_out(passage: Passage) -> PassageOut:
    return PassageOut(article_id=passage.article_id, chunk_id=passage.chunk_id,
                      title=passage.title, content=passage.content, score=passage.score)


async def search(rt: Runtime, principal: Principal, question: str, limit: int) -> list[PassageOut]:
    if not knowledge.question_words(question):
        raise ValidationError.field("q", "enter at least one word (letters or digits)")
    found = await retrieve(rt, principal.organization_id, question, limit)
    return [passage_out(p) for p in found]


# -- articles ---------------------------------------------------------------------------


async def _counts(article_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(passages, passages with a vector) per article."""
    counts = dict.fromkeys(article_ids, (0, 0))
    if not article_ids:
        return counts
    rows = await AiKnowledgeChunk.select(
        AiKnowledgeChunk.article, AiKnowledgeChunk.embedding_model,
    ).where(AiKnowledgeChunk.article.is_in(article_ids))
    for row in rows:
        total, embedded = counts[row["article"]]
        counts[row["article"]] = (total + 1, embedded + (row["embedding_model"] is not None))
    return counts


def _fields(row: dict[str, Any], counts: tuple[int, int]) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "format": row["format"],
            "category": row["category"], "tags": list(row["tags"] or []),
            "priority": row["priority"], "source_name": row["source_name"],
            "chunk_count": counts[0], "embedded_count": counts[1],
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


async def _row(principal: Principal, article_id: str) -> dict[str, Any]:
    row = await AiKnowledgeBase.select().where(
        (AiKnowledgeBase.id == article_id)
        & (AiKnowledgeBase.organization == principal.organization_id)).first()
    if row is None:
        raise NotFoundError("Article not found")
    return row


async def count_articles(principal: Principal) -> int:
    return await AiKnowledgeBase.count().where(
        AiKnowledgeBase.organization == principal.organization_id)


async def get_article(principal: Principal, article_id: str) -> ArticleOut:
    row = await _row(principal, article_id)
    counts = await _counts([article_id])
    return ArticleOut(**_fields(row, counts[article_id]), content=row["content"])


async def list_articles(principal: Principal, category: str | None, after: str | None,
                        limit: int) -> ArticlePage:
    """Newest first; ``after`` is the cursor of the previous page."""
    where: Any = AiKnowledgeBase.organization == principal.organization_id
    if category is not None:
        where &= AiKnowledgeBase.category == category
    if after:
        at, last_id = cursor.decode_time(after)
        where &= (AiKnowledgeBase.created_at < at) | (
            (AiKnowledgeBase.created_at == at) & (AiKnowledgeBase.id < last_id))
    columns = [c for c in AiKnowledgeBase._meta.columns if c._meta.name != "content"]
    rows = await AiKnowledgeBase.select(*columns).where(where).order_by(
        AiKnowledgeBase.created_at, ascending=False).order_by(
        AiKnowledgeBase.id, ascending=False).limit(limit + 1)
    page = rows[:limit]
    counts = await _counts([r["id"] for r in page])
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = cursor.encode(last["created_at"].isoformat(), last["id"])
    return ArticlePage(items=[ArticleSummary(**_fields(r, counts[r["id"]])) for r in page],
                       next_cursor=next_cursor)


def _clean(title: str, content: str) -> tuple[str, str]:
    title, content = title.strip(), content.strip()
    if not title:
        raise ValidationError.field("title", "must not be empty")
    if not content:
        raise ValidationError.field("content", "must not be empty")
    return title, content


async def create_article(rt: Runtime, principal: Principal, data: ArticleCreate, *,
                         source_name: str | None = None) -> ArticleOut:
    org = principal.organization_id
    title, content = _clean(data.title, data.content)
    if await AiKnowledgeBase.count().where(AiKnowledgeBase.organization == org) >= MAX_ARTICLES:
        raise ValidationError(f"The knowledge base holds at most {MAX_ARTICLES} articles")
    article_id = new_id()
    passages = await knowledge.passages_for(org, article_id, title, content, data.format,
                                            await embedder_for(rt, org))
    async with transaction():
        await AiKnowledgeBase.insert(AiKnowledgeBase(
            id=article_id, organization=org, title=title, content=content, format=data.format,
            category=data.category, tags=list(dict.fromkeys(data.tags)), priority=data.priority,
            source_name=source_name))
        await knowledge.replace_passages(article_id, passages)
    return await get_article(principal, article_id)


async def update_article(rt: Runtime, principal: Principal, article_id: str,
                         data: ArticleUpdate) -> ArticleOut:
    """Change an article; new text, title or format cuts it into passages again."""
    row = await _row(principal, article_id)
    changes: dict[Any, Any] = {}
    for name in ("category", "priority", "format"):
        if (value := getattr(data, name)) is not msgspec.UNSET:
            changes[getattr(AiKnowledgeBase, name)] = value
    if data.tags is not msgspec.UNSET:
        changes[AiKnowledgeBase.tags] = list(dict.fromkeys(data.tags))
    title = row["title"] if data.title is msgspec.UNSET else data.title
    content = row["content"] if data.content is msgspec.UNSET else data.content
    fmt = row["format"] if data.format is msgspec.UNSET else data.format
    title, content = _clean(title, content)
    changes[AiKnowledgeBase.title], changes[AiKnowledgeBase.content] = title, content
    changes[AiKnowledgeBase.updated_at] = utcnow()
    rechunk = (title, content, fmt) != (row["title"], row["content"], row["format"])
    passages = (await knowledge.passages_for(
        principal.organization_id, article_id, title, content, fmt,
        await embedder_for(rt, principal.organization_id)) if rechunk else None)
    async with transaction():
        await AiKnowledgeBase.update(changes).where(AiKnowledgeBase.id == article_id)
        if passages is not None:
            await knowledge.replace_passages(article_id, passages)
    return await get_article(principal, article_id)


async def delete_article(principal: Principal, article_id: str) -> None:
    """Delete an article and its passages; answers already sent keep their citations."""
    await _row(principal, article_id)
    await AiKnowledgeBase.delete().where(AiKnowledgeBase.id == article_id)


async def reindex(rt: Runtime, organization_id: str) -> int:
    """Cut every article of the organization into passages again, embedded by its
    current provider (after adding or changing one); returns how many were done. One
    article at a time, so a failure midway leaves every article whole."""
    embedder = await embedder_for(rt, organization_id)
    rows = await AiKnowledgeBase.select(
        AiKnowledgeBase.id, AiKnowledgeBase.title, AiKnowledgeBase.content,
        AiKnowledgeBase.format).where(AiKnowledgeBase.organization == organization_id)
    for row in rows:
        passages = await knowledge.passages_for(organization_id, row["id"], row["title"],
                                                row["content"], row["format"], embedder)
        async with transaction():
            if await AiKnowledgeBase.exists().where(AiKnowledgeBase.id == row["id"]):
                await knowledge.replace_passages(row["id"], passages)
    return len(rows)


def read_text_file(filename: str, content_type: str | None, data: bytes) -> tuple[str, str]:
    """(format, text) of an uploaded text or markdown file; a 400 for anything else."""
    suffix = PurePath(filename).suffix.lower()
    fmt = _FORMATS.get(suffix) or _MIME_FORMATS.get((content_type or "").split(";")[0].strip())
    if fmt is None:
        raise ValidationError.field("file", "must be a .txt or .md file (text or markdown)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError.field("file", "must be UTF-8 text") from None
    if "\x00" in text:
        raise ValidationError.field("file", "must be text, not binary")
    if len(text) > MAX_ARTICLE_CHARS:
        raise ValidationError.field("file", f"at most {MAX_ARTICLE_CHARS} characters of text")
    return fmt, text


def title_of(filename: str, fmt: str, text: str) -> str:
    """A markdown file's first top heading, else the file's name without its suffix."""
    if fmt == "markdown":
        for line in text.splitlines():
            if line.startswith("# ") and line[2:].strip():
                return line[2:].strip()[:255]
    return (PurePath(filename).stem.strip() or "Untitled")[:255]
