"""AI settings pages: providers and guardrails (/settings/ai), the knowledge base
(/settings/knowledge-base) and a session's auto-responder (an htmx partial on the
session page).

Pages only read, through wacc.ai's services as the signed-in principal; every change
goes from the browser to /api/v1/ai/... and /api/v1/whatsapp/sessions/{id}/ai-responder
(app.js data-api forms, static/js/ai-settings.js for the steps that need more)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from wacc.ai import guardrails
from wacc.ai import services as ai
from wacc.ai.knowledge import services as knowledge
from wacc.ai.knowledge.schemas import ArticleId
from wacc.ai.providers.router import router_of
from wacc.ai.responder import services as responder
from wacc.http.deps import PrincipalDep, RuntimeDep
from wacc.http.params import SessionId
from wacc.lib.errors import ValidationError
from wacc.orgs import services as orgs
from wacc.runtime import Runtime
from wacc.sessions import services as sessions
from wacc.ui.render import page
from wacc.ui.settings_pages import _settings_page, timezones

READ = {"permission": "read:ai"}
BUILT_IN = ("openai", "anthropic", "gemini", "custom")
# How each type is offered in the "Type" select; plugin types are shown by their name.
TYPE_LABELS = {
    "openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Google Gemini",
    "custom": "Custom (OpenAI-compatible, by base URL)",
}
# The Model field starts with the type's everyday model (a first-time user does not know
# the names); Custom servers name their own, so it only gets an example.
SUGGESTED_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest",
                    "gemini": "gemini-2.5-flash"}
MODEL_HINTS = {
    "openai": "OpenAI's small, cheap model; gpt-4o or gpt-4.1 answer better for more.",
    "anthropic": "Anthropic's fastest model; claude-sonnet-4-5 answers better for more.",
    "gemini": "Google's everyday model; gemini-2.5-pro answers better for more.",
    "custom": "The name your server gives the model, e.g. llama3.2 for Ollama.",
}
# The provider list names the type under the provider's name, in fewer words.
SHORT_LABELS = {"custom": "OpenAI-compatible"}
DAYS = (("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"),
        ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday"))
KB_PAGE = 50
UPLOAD_MAX_BYTES = knowledge.UPLOAD_MAX_BYTES


@dataclass(frozen=True)
class ProviderType:
    """One choice of the "Type" select, with what the Model field starts as."""

    value: str
    label: str
    model: str = ""
    hint: str = ""


def _provider_types(rt: Runtime) -> list[ProviderType]:
    """The installed types: wacc's own first, then any plugin's."""
    installed = set(router_of(rt).factories)
    names = [t for t in BUILT_IN if t in installed] + sorted(installed - set(BUILT_IN))
    return [ProviderType(t, TYPE_LABELS.get(t, t), SUGGESTED_MODELS.get(t, ""),
                         MODEL_HINTS.get(t, "The model's name as the provider spells it."))
            for t in names]


def _hours_text(hours: dict[str, Any] | None) -> dict[str, str]:
    """{"mon": "09:00-12:30, 13:30-17:00"}: the spans as the form's text fields show them."""
    days = (hours or {}).get("days") or {}
    return {day: ", ".join(f"{a}-{b}" for a, b in days.get(day, [])) for day, _ in DAYS}


class AiPages(Controller):
    include_in_schema = False

    @get("/settings/ai", opt=READ)
    async def ai_settings(self, request: Request, principal: PrincipalDep, rt: RuntimeDep) -> Template:
        providers = await ai.list_providers(rt, principal)
        settings = await ai.settings_out(principal.organization_id)
        usage = await guardrails.usage_summary(principal.organization_id, None, None)
        types = _provider_types(rt)
        return _settings_page(request, "ai", "ai.html", providers=providers,
                              settings=settings, usage=usage,
                              provider_types=types,
                              type_labels={t.value: SHORT_LABELS.get(t.value, t.label) for t in types},
                              model_hints={t.value: t.hint for t in types})

    @get("/settings/knowledge-base", opt=READ)
    async def knowledge_base(
        self, request: Request, principal: PrincipalDep,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Template:
        notice = ""
        try:
            result = await knowledge.list_articles(principal, None, cursor, KB_PAGE)
        except ValidationError:
            notice = "That page link is no longer valid; showing the newest articles."
            result = await knowledge.list_articles(principal, None, None, KB_PAGE)
            cursor = None
        total = await knowledge.count_articles(principal)
        return _settings_page(request, "knowledge-base", "knowledge_base.html",
                              articles=result.items, next_cursor=result.next_cursor,
                              paged=cursor is not None, total=total, notice=notice,
                              max_bytes=UPLOAD_MAX_BYTES)

    @get("/settings/knowledge-base/{articleId:str}", opt=READ)
    async def knowledge_article(self, request: Request, principal: PrincipalDep,
                                article_id: ArticleId) -> Template:
        article = await knowledge.get_article(principal, article_id)
        return _settings_page(request, "knowledge-base", "knowledge_article.html",
                              article=article)

    @get("/ui/ai/responder/{sessionId:str}", opt=READ)
    async def responder_panel(self, request: Request, principal: PrincipalDep,
                              session_id: SessionId) -> Template:
        """The session page's auto-responder form (loaded by htmx from the page)."""
        session = await sessions.get(principal, session_id)  # 404 for another org's
        config = await responder.get_config(principal, session_id)
        # New hours start in the organization's time zone.
        org = await orgs.get(principal, principal.organization_id)
        current_tz = ((config.business_hours or {}).get("timezone")
                      or (org.settings or {}).get("timezone") or "UTC")
        return page(request, "sessions/_ai_responder.html", session=session,
                    responder=config, hours=_hours_text(config.business_hours),
                    days=DAYS, timezones=timezones(), current_tz=current_tz)
