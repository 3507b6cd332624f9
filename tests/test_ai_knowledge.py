"""The knowledge base: articles saved, cut into passages (re-cut when they change), found
by the words of a question on both databases, and by vectors when a provider embeds;
uploads of text and markdown files; bad input refused with nothing stored."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import API, add_member, assert_error, bearer, register
from tests.support.polling import until
from tests.support.tenancy import second_org
from wacc.ai.knowledge import passages as knowledge
from wacc.ai.tables import AiKnowledgeBase, AiKnowledgeChunk

SHIPPING = """# Shipping

We ship to every country in the European Union. Orders leave our warehouse within two
business days.

## Germany

Delivery to Germany takes three to five business days with DHL. Tracking numbers are
sent by e-mail.

# Returns

Unused bikes can be returned within 30 days for a full refund.
"""
REFUNDS = ("Refunds are paid to the original card within 10 days. How long a refund "
           "takes to show on your statement depends on your bank.")


@pytest.fixture
async def owner(client):
    data = await register(client)
    return {"head": bearer(data["accessToken"]), "token": data["accessToken"],
            "org": data["user"]["organizationId"]}


async def create(client, head, **body):
    r = await client.post(f"{API}/ai/knowledge-base", headers=head, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def chunks_of(article_id: str) -> list[dict]:
    return await AiKnowledgeChunk.select().where(
        AiKnowledgeChunk.article == article_id).order_by(AiKnowledgeChunk.ordinal)


# -- chunking ---------------------------------------------------------------------------


def test_markdown_is_cut_at_headings_and_passages_carry_their_place():
    passages = knowledge.chunk("Help centre", SHIPPING, "markdown")
    assert [p.split("\n", 1)[0] for p in passages] == [
        "Help centre > Shipping", "Help centre > Shipping > Germany", "Help centre > Returns"]
    assert "three to five business days" in passages[1]
    assert "Returns" not in passages[0] and "DHL" not in passages[2]


def test_long_text_is_cut_near_the_size_with_overlap_and_code_fences_are_not_headings():
    sentences = [f"Sentence number {i} talks about item {i}." for i in range(120)]
    text = "\n\n".join(" ".join(sentences[i:i + 6]) for i in range(0, 120, 6))
    text += "\n\n```\n# a comment in code, not a heading\n```"
    passages = knowledge.chunk("Long", text, "markdown", size=400, overlap=80)
    assert len(passages) > 5
    bodies = [p.split("\n\n", 1)[1] for p in passages]
    assert all(len(b) <= 400 for b in bodies)
    assert all(p.startswith("Long\n\n") for p in passages)  # no heading split the fence
    for before, after in itertools.pairwise(bodies):
        # The next passage repeats the last sentences of the one before it (up to 80 chars).
        last = before.replace("\n\n", " ").rsplit(". ", 1)[-1]
        assert last in after[:80] and not after.startswith(before[:40])
    joined = " ".join(bodies)
    assert all(s[:-1] in joined for s in sentences)  # nothing lost
    # One word longer than a passage is still cut, not dropped.
    assert len(knowledge.chunk("T", "x" * 1000, size=400)) == 3


def test_question_words_are_the_longest_distinct_words():
    words = knowledge.question_words("How long does DELIVERY to Germany take? Germany!! a " * 3)
    assert words[:2] == ["delivery", "germany"] and "a" not in words
    assert len(words) == len(set(words))
    many = " ".join(f"word{i}" for i in range(50))
    assert len(knowledge.question_words(many)) == knowledge.MAX_QUESTION_WORDS


# -- the API ----------------------------------------------------------------------------


async def test_article_crud_chunks_and_rechunks(client, owner):
    head = owner["head"]
    article = await create(client, head, title="Shipping and returns", content=SHIPPING,
                           format="markdown", category="policies", tags=["shipping", "shipping"],
                           priority=2)
    assert article["chunkCount"] == 3 and article["embeddedCount"] == 0
    assert article["tags"] == ["shipping"] and article["content"] == SHIPPING.strip()
    first = await chunks_of(article["id"])
    assert [c["ordinal"] for c in first] == [0, 1, 2]
    assert first[0]["content"].startswith("Shipping and returns > Shipping")

    other = await create(client, head, title="Refunds", content=REFUNDS)
    page = (await client.get(f"{API}/ai/knowledge-base", headers=head)).json()
    assert [a["id"] for a in page["items"]] == [other["id"], article["id"]]
    assert "content" not in page["items"][0] and page["nextCursor"] is None
    page = (await client.get(f"{API}/ai/knowledge-base", headers=head,
                             params={"limit": 1})).json()
    assert [a["id"] for a in page["items"]] == [other["id"]]
    rest = (await client.get(f"{API}/ai/knowledge-base", headers=head,
                             params={"cursor": page["nextCursor"]})).json()
    assert [a["id"] for a in rest["items"]] == [article["id"]]
    filtered = (await client.get(f"{API}/ai/knowledge-base", headers=head,
                                 params={"category": "policies"})).json()
    assert [a["id"] for a in filtered["items"]] == [article["id"]]

    # Metadata only: the passages stay as they are.
    r = await client.patch(f"{API}/ai/knowledge-base/{article['id']}", headers=head,
                           json={"category": None, "priority": 5})
    assert r.status_code == 200, r.text
    assert r.json()["category"] is None and r.json()["priority"] == 5
    assert [c["id"] for c in await chunks_of(article["id"])] == [c["id"] for c in first]
    # New text: cut again.
    r = await client.patch(f"{API}/ai/knowledge-base/{article['id']}", headers=head,
                           json={"content": "# Shipping\n\nWe now ship by bike courier."})
    assert r.status_code == 200 and r.json()["chunkCount"] == 1
    again = await chunks_of(article["id"])
    assert len(again) == 1 and "bike courier" in again[0]["content"]
    got = (await client.get(f"{API}/ai/knowledge-base/{article['id']}", headers=head)).json()
    assert got["content"] == "# Shipping\n\nWe now ship by bike courier."

    r = await client.delete(f"{API}/ai/knowledge-base/{article['id']}", headers=head)
    assert r.status_code == 204
    assert await chunks_of(article["id"]) == []
    r = await client.get(f"{API}/ai/knowledge-base/{article['id']}", headers=head)
    assert_error(r, 404, "NOT_FOUND")


async def test_retrieval_ranks_the_passage_that_answers(client, owner, server):
    head, org = owner["head"], owner["org"]
    shipping = await create(client, head, title="Shipping and returns", content=SHIPPING,
                            format="markdown")
    refunds = await create(client, head, title="Refunds", content=REFUNDS)
    await create(client, head, title="Opening hours", content="The shop opens at 9.")

    found = await knowledge.retrieve(org, "How long does delivery to Germany take?")
    assert found[0].article_id == shipping["id"] and "DHL" in found[0].content
    assert found[0].title == "Shipping and returns" and 0 < found[0].score < 1
    assert all(p.score <= found[0].score for p in found)

    found = await knowledge.retrieve(org, "When do I get my refund on my card?")
    assert found[0].article_id == refunds["id"]
    # Accents and case do not matter; words found nowhere find nothing.
    assert (await knowledge.retrieve(org, "GERMÁNY"))[0].article_id == shipping["id"]
    assert await knowledge.retrieve(org, "parrot xylophone") == []
    assert await knowledge.retrieve(org, "?! ...") == []

    r = await client.get(f"{API}/ai/knowledge-base/search", headers=head,
                         params={"q": "refund card", "limit": 1})
    assert r.status_code == 200, r.text
    assert [p["articleId"] for p in r.json()] == [refunds["id"]]
    assert_error(await client.get(f"{API}/ai/knowledge-base/search", headers=head,
                                  params={"q": "?!"}), 400, "VALIDATION_ERROR")

    # Another organization's knowledge is never found.
    other = await second_org(client, server)
    assert (await client.get(f"{API}/ai/knowledge-base/search", headers=bearer(other),
                             params={"q": "refund card"})).json() == []


async def test_upload_text_and_markdown_files(client, owner):
    head = owner["head"]
    r = await client.post(f"{API}/ai/knowledge-base/upload", headers=head, files={
        "file": ("faq.md", SHIPPING.encode(), "text/markdown")}, data={"tags": "faq, shipping"})
    assert r.status_code == 201, r.text
    article = r.json()
    assert (article["title"], article["format"], article["sourceName"]) == (
        "Shipping", "markdown", "faq.md")
    assert article["tags"] == ["faq", "shipping"] and article["chunkCount"] == 3

    r = await client.post(f"{API}/ai/knowledge-base/upload", headers=head, files={
        "file": ("Opening hours.txt", "\ufeffWe open at 9.".encode(), "text/plain")},
        data={"title": "Hours", "priority": "3"})
    assert r.status_code == 201, r.text
    assert (r.json()["title"], r.json()["format"], r.json()["priority"]) == ("Hours", "text", 3)
    assert r.json()["content"] == "We open at 9."

    before = await AiKnowledgeBase.count()
    bad = [
        ({"file": ("bike.pdf", b"%PDF-1.7 binary", "application/pdf")}, {}),
        ({"file": ("latin1.txt", "caf\xe9".encode("latin-1"), "text/plain")}, {}),
        ({"file": ("empty.txt", b"   \n", "text/plain")}, {}),
        ({"file": ("nul.txt", b"a\x00b", "text/plain")}, {}),
        ({"file": ("ok.txt", b"fine", "text/plain")}, {"priority": "high"}),
        ({"other": ("ok.txt", b"fine", "text/plain")}, {}),
        ({"file": ("big.txt", b"a " * (1024 * 1024), "text/plain")}, {}),
    ]
    for files, data in bad:
        r = await client.post(f"{API}/ai/knowledge-base/upload", headers=head, files=files,
                              data=data)
        assert_error(r, 400, "VALIDATION_ERROR")
    assert await AiKnowledgeBase.count() == before


async def test_bad_input_is_refused_and_changes_nothing(client, owner):
    head = owner["head"]
    article = await create(client, head, title="Refunds", content=REFUNDS)
    bodies = [
        {"title": "", "content": "x"}, {"title": "   ", "content": "x"},
        {"title": "t", "content": "  \n "}, {"title": "t"}, {"title": "t", "content": "x",
                                                            "format": "pdf"},
        {"title": "t", "content": "x", "priority": 1000}, {"title": "t", "content": "x",
                                                           "tags": ["a"] * 21},
        {"title": "t", "content": "x" * 200_001}, {"title": "t", "content": "x", "bogus": 1},
    ]
    for body in bodies:
        r = await client.post(f"{API}/ai/knowledge-base", headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    for body in ({"title": " "}, {"content": ""}, {"format": "html"}):
        r = await client.patch(f"{API}/ai/knowledge-base/{article['id']}", headers=head, json=body)
        assert_error(r, 400, "VALIDATION_ERROR")
    assert_error(await client.get(f"{API}/ai/knowledge-base", headers=head,
                                  params={"cursor": "garbage"}), 400, "VALIDATION_ERROR")
    assert await AiKnowledgeBase.count() == 1
    assert (await client.get(f"{API}/ai/knowledge-base/{article['id']}", headers=head)
            ).json()["content"] == REFUNDS
    assert len(await chunks_of(article["id"])) == 1


async def test_roles_and_other_organizations(client, owner, server):
    head = owner["head"]
    article = await create(client, head, title="Refunds", content=REFUNDS)
    manager = await add_member(client, owner["token"], owner["org"], "MANAGER")
    agent = await add_member(client, owner["token"], owner["org"], "AGENT",
                             email="agent@example.com")
    m_head, a_head = bearer(manager["accessToken"]), bearer(agent["accessToken"])
    assert (await client.get(f"{API}/ai/knowledge-base", headers=m_head)).status_code == 200
    r = await client.post(f"{API}/ai/knowledge-base", headers=m_head,
                          json={"title": "t", "content": "x"})
    assert_error(r, 403, "AUTHORIZATION_ERROR")
    assert_error(await client.get(f"{API}/ai/knowledge-base", headers=a_head), 403,
                 "AUTHORIZATION_ERROR")
    other = bearer(await second_org(client, server))
    assert (await client.get(f"{API}/ai/knowledge-base", headers=other)).json()["items"] == []
    for method in ("GET", "PATCH", "DELETE"):
        r = await client.request(method, f"{API}/ai/knowledge-base/{article['id']}",
                                 headers=other, json={"title": "mine"} if method == "PATCH" else None)
        assert_error(r, 404, "NOT_FOUND")
    assert (await client.get(f"{API}/ai/knowledge-base/{article['id']}", headers=head)
            ).json()["title"] == "Refunds"


async def test_embeddings_are_stored_and_blended_in(client, owner, fakes):
    head = owner["head"]
    r = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "openai", "model": "gpt-4o-mini", "apiKey": fakes.openai.key,
        "baseUrl": fakes.openai.url + "/v1"})
    assert r.status_code == 201, r.text
    article = await create(client, head, title="Shipping", content=SHIPPING, format="markdown")
    assert article["embeddedCount"] == article["chunkCount"] == 3
    calls = fakes.openai.calls("/embeddings")
    assert len(calls) == 1 and len(calls[0].json["input"]) == 3
    assert calls[0].json["model"] == "text-embedding-3-small"
    rows = await chunks_of(article["id"])
    assert all(r["embedding_model"].startswith("openai:default@127.0.0.1") for r in rows)

    # A question that is, word for word, a passage has that passage's vector.
    target = rows[2]["content"]
    r = await client.get(f"{API}/ai/knowledge-base/search", headers=head, params={"q": target})
    assert r.json()[0]["chunkId"] == rows[2]["id"]
    assert len(fakes.openai.calls("/embeddings")) == 2

    # The provider failing costs the vectors, not the article.
    fakes.openai.fail_next(5)
    later = await create(client, head, title="Refunds", content=REFUNDS)
    assert later["chunkCount"] == 1 and later["embeddedCount"] == 0
    r = await client.get(f"{API}/ai/knowledge-base/search", headers=head,
                         params={"q": "refund statement"})
    assert r.json()[0]["articleId"] == later["id"]


async def test_reindex_embeds_articles_written_before_the_provider(client, owner, fakes, worker):
    head = owner["head"]
    article = await create(client, head, title="Shipping", content=SHIPPING, format="markdown")
    assert article["embeddedCount"] == 0
    before = {c["id"] for c in await chunks_of(article["id"])}
    r = await client.post(f"{API}/ai/providers", headers=head, json={
        "provider": "openai", "model": "gpt-4o-mini", "apiKey": fakes.openai.key,
        "baseUrl": fakes.openai.url + "/v1"})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/ai/knowledge-base/reindex", headers=head)
    assert r.status_code == 202 and r.json() == {"articles": 1}

    async def embedded():
        got = (await client.get(f"{API}/ai/knowledge-base/{article['id']}", headers=head)).json()
        return got["embeddedCount"] == got["chunkCount"] == 3

    await until(embedded)
    assert before.isdisjoint(c["id"] for c in await chunks_of(article["id"]))
    manager = await add_member(client, owner["token"], owner["org"], "MANAGER")
    assert_error(await client.post(f"{API}/ai/knowledge-base/reindex",
                                   headers=bearer(manager["accessToken"])), 403, "AUTHORIZATION_ERROR")
