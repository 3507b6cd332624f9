"""The knowledge base's engine: articles cut into passages, and the passages that answer
a question.

Chunking keeps paragraphs whole where it can (~800 characters a passage, the last
sentences of one passage repeated at the start of the next so an answer split across
the seam is still found) and, for markdown, never lets a passage cross a heading: each
passage starts with its place in the article ("Title > Section > Subsection"), so the
words of the headings are searchable and the model sees where a passage comes from.

Retrieval has two steps. The database finds candidates: passages of the organization
containing any word of the question (FTS5 on SQLite, the GIN ``tsvector`` index on
PostgreSQL, both through the migration of this feature). Then they are ranked here with
BM25 over the candidates, so both databases rank alike and common words ("how", "the")
weigh little. When the organization has a provider that can embed, passages carry
vectors and the ranking blends in cosine similarity with the question's vector, which
also finds passages that share no word with the question. The vectors are compared in
Python: one query loads the organization's vectors, fine for a few thousand passages
(docs/ai.md has the figures); a larger knowledge base wants a vector index.
"""

from __future__ import annotations

import asyncio
import math
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from piccolo.querystring import QueryString

from wacc.ai.contract import AiError
from wacc.ai.tables import AiKnowledgeChunk
from wacc.ai.types import Passage
from wacc.db import fulltext
from wacc.db.engine import is_sqlite
from wacc.lib.ids import new_id
from wacc.logs import get_logger

log = get_logger(__name__)

CHUNK_CHARS = 800
OVERLAP_CHARS = 150
# Words of a question used to find candidates: the longest ones, which say the most.
MAX_QUESTION_WORDS = 20
MAX_QUESTION_CHARS = 2000
MAX_CANDIDATES = 200
# Passages scoring below this share of the best one are noise, not context.
KEEP_RATIO = 0.25
# How much cosine similarity counts against BM25 when vectors are there (0..1).
EMBEDDING_WEIGHT = 0.5
# A passage found only by its vector needs at least this similarity.
MIN_SIMILARITY = 0.3
EMBED_BATCH = 64
EMBED_TIMEOUT = 20.0
BM25_K1, BM25_B = 1.2, 0.75
# BM25 is unbounded; s / (s + SATURATION) makes it a 0..1 relevance (two rare words
# matched ≈ 0.6), comparable with the responder's minimum confidence.
SATURATION = 3.0

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s+")  # and CJK full stops
WORD = fulltext.WORD  # the words full-text search sees, in any script


# -- chunking ---------------------------------------------------------------------------


def _sections(content: str, markdown: bool) -> list[tuple[list[str], str]]:
    """(heading path, text) of each part of the article between headings."""
    if not markdown:
        return [([], content)]
    out: list[tuple[list[str], str]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            out.append(([title for _, title in path], text))
        lines.clear()

    for line in content.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        flush()
        level = len(heading.group(1))
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, heading.group(2).strip())]
    flush()
    return out


def _sentences(paragraph: str, size: int) -> list[str]:
    """A paragraph cut into sentences, and any sentence longer than *size* at spaces."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > size:
            cut = sentence.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


def _pack(paragraphs: list[str], size: int, overlap: int) -> list[str]:
    """Sentences packed into passages of at most *size* characters; a new passage starts
    with the previous one's last sentences (up to *overlap* characters)."""
    pieces = [(index == 0, s) for p in paragraphs for index, s in enumerate(_sentences(p, size))]

    def joined(part: list[tuple[bool, str]]) -> str:
        text = ""
        for starts_paragraph, sentence in part:
            text += ("\n\n" if starts_paragraph else " ") + sentence if text else sentence
        return text

    chunks: list[str] = []
    current: list[tuple[bool, str]] = []
    for piece in pieces:
        if current and len(joined([*current, piece])) > size:
            chunks.append(joined(current))
            tail: list[tuple[bool, str]] = []
            for item in reversed(current):
                if len(joined([item, *tail])) > overlap:
                    break
                tail.insert(0, item)
            current = tail if len(joined([*tail, piece])) <= size else []
        current.append(piece)
    if current:
        chunks.append(joined(current))
    return chunks


def chunk(title: str, content: str, fmt: str = "text", *, size: int = CHUNK_CHARS,
          overlap: int = OVERLAP_CHARS) -> list[str]:
    """The passages of an article, each headed by its place in it."""
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for path, text in _sections(content, fmt == "markdown"):
        context = " > ".join([title.strip(), *path])
        paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
        out += [f"{context}\n\n{body}" for body in _pack(paragraphs, size, overlap)]
    return out


# -- embeddings -------------------------------------------------------------------------


@dataclass(frozen=True)
class Embedder:
    """Vectors from one provider. ``model`` names the vector space (provider type and
    embedding model): vectors of different spaces are never compared."""

    model: str
    embed: Callable[[list[str]], Awaitable[list[list[float]]]]


async def _vectors(embedder: Embedder | None, texts: list[str]) -> list[list[float]] | None:
    """Vectors for *texts*, or None when there is no embedder or it failed (passages
    are then found by their words alone; the failure is logged, the save goes on)."""
    if embedder is None or not texts:
        return None
    out: list[list[float]] = []
    try:
        async with asyncio.timeout(EMBED_TIMEOUT):
            for start in range(0, len(texts), EMBED_BATCH):
                out += await embedder.embed(texts[start:start + EMBED_BATCH])
    except (AiError, TimeoutError) as exc:
        log.warning("knowledge-base embeddings failed", model=embedder.model, error=str(exc))
        return None
    return out if len(out) == len(texts) else None


def _unit(vector: Sequence[float]) -> list[float]:
    """*vector* scaled to length 1 (six decimals: a sixth of the JSON, the same ranking),
    so cosine similarity is a plain dot product."""
    norm = math.sqrt(sum(map(operator.mul, vector, vector))) or 1.0
    return [round(x / norm, 6) for x in vector]


_VECTOR = msgspec.json.Decoder(list[float])


def _stored_vector(value: Any) -> list[float]:
    try:
        return _VECTOR.decode(value) if isinstance(value, str | bytes) else list(value or [])
    except msgspec.DecodeError:
        return []


# -- indexing ---------------------------------------------------------------------------


async def passages_for(organization_id: str, article_id: str, title: str, content: str,
                       fmt: str, embedder: Embedder | None = None) -> list[AiKnowledgeChunk]:
    """The article's passage rows, with vectors when *embedder* gives them. Network
    first, so the caller can write them in a short transaction (replace_passages)."""
    texts = chunk(title, content, fmt)
    vectors = await _vectors(embedder, texts)
    return [AiKnowledgeChunk(
        id=new_id(), organization=organization_id, article=article_id, ordinal=i, content=text,
        embedding=_unit(vectors[i]) if vectors else None,
        embedding_model=embedder.model if vectors and embedder else None,
    ) for i, text in enumerate(texts)]


async def replace_passages(article_id: str, rows: list[AiKnowledgeChunk]) -> None:
    """Swap the article's passages for *rows*; call inside the article's transaction."""
    await AiKnowledgeChunk.delete().where(AiKnowledgeChunk.article == article_id)
    if rows:
        await AiKnowledgeChunk.insert(*rows)


# -- retrieval --------------------------------------------------------------------------


def fold(word: str) -> str:
    """Lower case without accents, as both databases' indexes compare words."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def question_words(question: str) -> list[str]:
    """The distinct words of a question worth looking for (at most MAX_QUESTION_WORDS,
    longest first; single letters only when they are digits)."""
    text = unicodedata.normalize("NFC", question[:MAX_QUESTION_CHARS])
    words = dict.fromkeys(w.lower() for w in WORD.findall(text) if len(w) > 1 or w.isdigit())
    return sorted(words, key=len, reverse=True)[:MAX_QUESTION_WORDS]


_CANDIDATE_COLUMNS = "c.id, c.article, c.ordinal, c.content, a.title, a.priority"


def _candidate_sql(organization_id: str, words: list[str]) -> QueryString:
    """Passages containing any of *words*, the engine's best first."""
    if is_sqlite():
        match = " OR ".join(f'"{w}"' for w in words)
        return QueryString(
            f"SELECT {_CANDIDATE_COLUMNS} FROM ai_knowledge_chunk_fts "
            "JOIN ai_knowledge_chunk c ON c.rowid = ai_knowledge_chunk_fts.rowid "
            "JOIN ai_knowledge_base a ON a.id = c.article "
            "WHERE ai_knowledge_chunk_fts MATCH {} AND c.organization = {} "
            "ORDER BY bm25(ai_knowledge_chunk_fts) LIMIT {}",
            match, organization_id, MAX_CANDIDATES)
    # Words hold only letters and digits, so quoting them is safe; the document
    # expression is the one the migration indexes.
    document = fulltext.pg_document('coalesce(c."content", \'\')')
    tsquery = " | ".join(f"'{w}'" for w in words)
    return QueryString(
        f"SELECT {_CANDIDATE_COLUMNS} FROM ai_knowledge_chunk c "
        "JOIN ai_knowledge_base a ON a.id = c.article "
        f"CROSS JOIN to_tsquery('{fulltext.PG_CONFIG}', {{}}) AS tsq "
        f"WHERE c.organization = {{}} AND {document} @@ tsq "
        f"ORDER BY ts_rank({document}, tsq) DESC LIMIT {{}}",
        tsquery, organization_id, MAX_CANDIDATES)


def _bm25(rows: list[dict[str, Any]], words: list[str], total: int) -> dict[str, float]:
    """BM25 of each candidate; document frequencies are counted over the candidates,
    which hold every passage containing a question word (up to MAX_CANDIDATES)."""
    terms = {fold(w) for w in words}
    counts = {r["id"]: Counter(fold(w) for w in WORD.findall(r["content"])) for r in rows}
    lengths = {rid: sum(c.values()) for rid, c in counts.items()}
    average = (sum(lengths.values()) / len(lengths)) if lengths else 1.0
    frequency = {t: sum(1 for c in counts.values() if c[t]) for t in terms}
    total = max(total, len(rows))
    scores: dict[str, float] = {}
    for rid, found in counts.items():
        score = 0.0
        for term in terms:
            tf = found[term]
            if not tf:
                continue
            idf = math.log(1 + (total - frequency[term] + 0.5) / (frequency[term] + 0.5))
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[rid] / (average or 1.0))
            score += idf * tf * (BM25_K1 + 1) / (tf + norm)
        scores[rid] = score
    return scores


async def _similar(organization_id: str, embedder: Embedder, question: str,
                   ) -> dict[str, float]:
    """Cosine similarity of the question with every passage embedded in the same space."""
    vectors = await _vectors(embedder, [question[:MAX_QUESTION_CHARS]])
    if not vectors:
        return {}
    rows = await AiKnowledgeChunk.select(AiKnowledgeChunk.id, AiKnowledgeChunk.embedding).where(
        (AiKnowledgeChunk.organization == organization_id)
        & (AiKnowledgeChunk.embedding_model == embedder.model))
    question_vector = _unit(vectors[0])
    similarity = {}
    for row in rows:
        stored = _stored_vector(row["embedding"])
        if len(stored) == len(question_vector):
            similarity[row["id"]] = sum(map(operator.mul, question_vector, stored))
    return similarity


async def _rows(ids: list[str]) -> list[dict[str, Any]]:
    """Passages by id, shaped like the candidates."""
    if not ids:
        return []
    rows = await AiKnowledgeChunk.select(
        AiKnowledgeChunk.id, AiKnowledgeChunk.article, AiKnowledgeChunk.ordinal,
        AiKnowledgeChunk.content, AiKnowledgeChunk.article.title.as_alias("title"),
        AiKnowledgeChunk.article.priority.as_alias("priority"),
    ).where(AiKnowledgeChunk.id.is_in(ids))
    return list(rows)


async def retrieve(organization_id: str, question: str, limit: int = 4, *,
                   embedder: Embedder | None = None) -> list[Passage]:
    """The organization's passages that best answer *question*, best first; empty when
    nothing matches. ``score`` is a relevance from 0 to 1. With an *embedder*, vector
    similarity is blended in."""
    limit = max(1, min(limit, 20))
    words = question_words(question)
    rows: list[dict[str, Any]] = []
    if words:
        rows = list(await AiKnowledgeChunk.raw("{}", _candidate_sql(organization_id, words)))
    scores = _bm25(rows, words, await AiKnowledgeChunk.count().where(
        AiKnowledgeChunk.organization == organization_id)) if rows else {}
    relevance = {rid: s / (s + SATURATION) for rid, s in scores.items() if s > 0}
    if embedder is not None:
        similarity = await _similar(organization_id, embedder, question)
        if similarity:
            near = sorted((rid for rid, s in similarity.items() if s >= MIN_SIMILARITY),
                          key=lambda rid: similarity[rid], reverse=True)[:limit * 2]
            known = {r["id"] for r in rows}
            rows += await _rows([rid for rid in near if rid not in known])
            relevance = {r["id"]: (1 - EMBEDDING_WEIGHT) * relevance.get(r["id"], 0.0)
                         + EMBEDDING_WEIGHT * max(similarity.get(r["id"], 0.0), 0.0)
                         for r in rows}
    if not relevance:
        return []
    top = max(relevance.values())
    kept = [r for r in rows if relevance.get(r["id"], 0.0) >= top * KEEP_RATIO and top > 0]
    kept.sort(key=lambda r: (-relevance[r["id"]], -(r["priority"] or 0), r["title"], r["ordinal"]))
    return [Passage(article_id=r["article"], chunk_id=r["id"], title=r["title"],
                    content=r["content"], score=round(relevance[r["id"]], 4))
            for r in kept[:limit]]
