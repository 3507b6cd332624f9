"""The knowledge base API: articles the auto-responder answers from."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from wacc import outbox
from wacc.ai.knowledge import services
from wacc.ai.knowledge.schemas import (
    ArticleCreate,
    ArticleId,
    ArticleOut,
    ArticlePage,
    ArticleUpdate,
    PassageOut,
    ReindexOut,
)
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.uploads import UPLOAD_BODY_CAP, read_upload
from wacc.lib.errors import ValidationError

READ = {"permission": "read:ai"}
WRITE = {"permission": "write:ai"}


def _upload_fields(form: Any, fmt: str, text: str, filename: str) -> ArticleCreate:
    tags = [t.strip() for t in str(form.get("tags") or "").split(",") if t.strip()]
    fields: dict[str, Any] = {
        "title": form.get("title") or services.title_of(filename, fmt, text), "content": text,
        "format": fmt, "category": form.get("category") or None, "tags": tags}
    if form.get("priority"):
        fields["priority"] = form.get("priority")
    try:
        return msgspec.convert(fields, ArticleCreate, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationError("Invalid input", [{"field": "form", "message": str(exc)}]) from None


class KnowledgeBaseController(Controller):
    path = "/ai/knowledge-base"
    tags = ["AI"]
    opt = {"resource": "ai_knowledge_base"}

    @get("/", opt=READ)
    async def list_articles(
        self, principal: PrincipalDep,
        category: Annotated[str | None, QueryParameter(max_length=120)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=services.MAX_PAGE)] = 50,
    ) -> ArticlePage:
        """Newest first, cursor-paginated, without the articles' text."""
        return await services.list_articles(principal, category, cursor, limit)

    @post("/", opt=WRITE, status_code=201)
    async def create_article(self, principal: PrincipalDep, rt: RuntimeDep,
                             data: JSONBody[ArticleCreate]) -> ArticleOut:
        """Add an article (``format``: text or markdown). It is cut into passages at
        once, and embedded when a provider of the organization offers embeddings."""
        return await services.create_article(rt, principal, data)

    @post("/upload", opt={**WRITE, "audit": "ai_knowledge_base.upload"}, status_code=201,
          request_max_body_size=UPLOAD_BODY_CAP)
    async def upload_article(self, request: Request, principal: PrincipalDep, rt: RuntimeDep) -> ArticleOut:
        """Multipart form: ``file`` (.txt or .md, UTF-8, up to 1 MiB), and optionally
        ``title`` (default: a markdown file's first heading, else the file name),
        ``category``, ``tags`` (comma-separated) and ``priority``."""
        upload, data, form = await read_upload(request, "file", services.UPLOAD_MAX_BYTES)
        filename = upload.filename or "article.txt"
        fmt, text = services.read_text_file(filename, upload.content_type, data)
        article = _upload_fields(form, fmt, text, filename)
        return await services.create_article(rt, principal,
                                             article, source_name=filename[:255])

    @post("/reindex", opt={**WRITE, "audit": "ai_knowledge_base.reindex"}, status_code=202)
    async def reindex_knowledge_base(self, principal: PrincipalDep, rt: RuntimeDep) -> ReindexOut:
        """Cut every article into passages again and embed them with the current
        provider, in the background (after adding or changing an embedding provider)."""
        articles = await services.count_articles(principal)
        await outbox.add(services.REINDEX_JOB, principal.organization_id)
        return ReindexOut(articles=articles)

    @get("/search", opt=READ)
    async def search_knowledge_base(
        self, principal: PrincipalDep, rt: RuntimeDep,
        q: Annotated[str, QueryParameter(min_length=1, max_length=2000)],
        limit: Annotated[int, QueryParameter(ge=1, le=20)] = 4,
    ) -> list[PassageOut]:
        """The passages the auto-responder would be given for the question *q*, best
        first, each with a relevance ``score`` from 0 to 1."""
        return await services.search(rt, principal, q, limit)

    @get("/{articleId:str}", opt=READ)
    async def get_article(self, principal: PrincipalDep, article_id: ArticleId) -> ArticleOut:
        return await services.get_article(principal, article_id)

    @patch("/{articleId:str}", opt=WRITE)
    async def update_article(self, principal: PrincipalDep, rt: RuntimeDep, article_id: ArticleId,
                             data: JSONBody[ArticleUpdate]) -> ArticleOut:
        """Change an article; new text, title or format re-cuts its passages."""
        return await services.update_article(rt, principal,
                                             article_id, data)

    @delete("/{articleId:str}", opt=WRITE, status_code=204)
    async def delete_article(self, principal: PrincipalDep, article_id: ArticleId) -> None:
        await services.delete_article(principal, article_id)
