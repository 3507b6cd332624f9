"""An organization's AI providers and AI settings, scoped to the caller's organization.

API keys are sealed with the keyring (context ``ai_provider.api_key``, the one `wacc
keys rotate` uses) before they are written, an empty key too (rotation expects every
value sealed), and are never returned: responses say
whether there is a key and, for a long key, its last four characters. A provider's
type must be installed (built in or a plugin's) when it is saved.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec

from wacc.ai.contract import AiError, ChatMessage, CompletionRequest, ProviderConfig
from wacc.ai.guardrails import MICROS, allow_request, cost_micros, spent_today
from wacc.ai.prompts import validate as validate_template
from wacc.ai.providers.pricing import PriceTable
from wacc.ai.providers.router import router_of
from wacc.ai.schemas import (
    AiProviderCreate,
    AiProviderOut,
    AiProviderUpdate,
    AiSettings,
    AiSettingsOut,
    AiSettingsPatch,
    AiTestIn,
    AiTestOut,
)
from wacc.ai.tables import AiProvider
from wacc.ai.usage import record_usage
from wacc.db.errors import UNIQUE_VIOLATIONS
from wacc.lib.clock import utcnow
from wacc.lib.errors import ConflictError, NotFoundError, RateLimitError, ValidationError
from wacc.lib.ids import new_id
from wacc.orgs.services import settings_of
from wacc.orgs.tables import Organization
from wacc.runtime import Runtime
from wacc.security.principal import Principal

KEY_CONTEXT = "ai_provider.api_key"
SETTINGS_KEY = "ai"  # the section of Organization.settings
OPTIONS_MAX_BYTES = 4096
# Fewer characters than this and showing the last four would give too much away.
HINT_MIN_LENGTH = 16


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _key(rt: Runtime, sealed: str) -> str:
    return rt.keyring.decrypt(sealed, KEY_CONTEXT) if sealed else ""


def provider_out(rt: Runtime, row: dict[str, Any]) -> AiProviderOut:
    key = _key(rt, row["api_key"])
    return AiProviderOut(
        id=row["id"], name=row["name"], provider=row["provider"], enabled=row["enabled"],
        has_api_key=bool(key), api_key_last4=key[-4:] if len(key) >= HINT_MIN_LENGTH else None,
        model=row["model"], base_url=row["base_url"], temperature=row["temperature"],
        max_tokens=row["max_tokens"], timeout_seconds=row["timeout_seconds"],
        config=_json(row["config"]), priority=row["priority"], last_check_at=row["last_check_at"],
        last_check_error=row["last_check_error"], created_at=row["created_at"],
        updated_at=row["updated_at"])


def provider_type(rt: Runtime, value: str) -> str:
    """The registry's name for *value* (any case); a 400 listing the installed ones."""
    name, factories = value.lower(), router_of(rt).factories
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ValidationError.field("provider", f"{value!r} is not an installed provider type "
                                    f"(installed: {known})")
    return name


def base_url(value: str | None, field: str = "baseUrl") -> str | None:
    if value is None:
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError.field(field, "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValidationError.field(field, "must not carry credentials: use apiKey")
    return value.rstrip("/")


def _options(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(msgspec.json.encode(value)) > OPTIONS_MAX_BYTES:
        raise ValidationError.field("config", f"must be at most {OPTIONS_MAX_BYTES} bytes of JSON")
    return value


def _needs_url(kind: str, url: str | None) -> None:
    if kind == "custom" and not url:
        raise ValidationError.field("baseUrl", "a custom (OpenAI-compatible) provider needs its URL")


def config_from_input(rt: Runtime, data: AiProviderCreate) -> tuple[ProviderConfig, int]:
    """A ProviderConfig and its timeout from an unsaved configuration (POST /ai/test)."""
    kind = provider_type(rt, data.provider)
    url = base_url(data.base_url)
    _needs_url(kind, url)
    return (ProviderConfig(type=kind, model=data.model, api_key=data.api_key,
                           name=data.name or kind, base_url=url, temperature=data.temperature,
                           max_tokens=data.max_tokens or 1024,
                           options={**(_options(data.config) or {}), "timeout": data.timeout_seconds}),
            data.timeout_seconds)


def config_from_row(rt: Runtime, row: dict[str, Any]) -> ProviderConfig:
    return ProviderConfig(
        type=row["provider"].lower(), model=row["model"], api_key=_key(rt, row["api_key"]),
        name=row["name"], base_url=row["base_url"], temperature=row["temperature"],
        max_tokens=row["max_tokens"] or 1024,
        options={**(_json(row["config"]) or {}), "timeout": row["timeout_seconds"]})


async def enabled_rows(organization_id: str) -> list[dict[str, Any]]:
    """The organization's enabled providers in the order they are tried."""
    return await AiProvider.select().where(
        (AiProvider.organization == organization_id) & (AiProvider.enabled.eq(True))
    ).order_by(AiProvider.priority).order_by(AiProvider.created_at)


async def _row(principal: Principal, provider_id: str) -> dict[str, Any]:
    row = await AiProvider.select().where(
        (AiProvider.id == provider_id) & (AiProvider.organization == principal.organization_id)
    ).first()
    if row is None:
        raise NotFoundError("AI provider not found")
    return row


async def get_row(principal: Principal, provider_id: str) -> dict[str, Any]:
    return await _row(principal, provider_id)


async def list_providers(rt: Runtime, principal: Principal) -> list[AiProviderOut]:
    rows = await AiProvider.select().where(
        AiProvider.organization == principal.organization_id
    ).order_by(AiProvider.priority).order_by(AiProvider.created_at)
    return [provider_out(rt, r) for r in rows]


def _conflict(name: str) -> ConflictError:
    return ConflictError(f"An AI provider named {name!r} already exists",
                         [{"field": "name", "message": "already exists"}])


async def _name_taken(org: str, name: str, but: str | None = None) -> bool:
    where = (AiProvider.organization == org) & (AiProvider.name == name)
    if but is not None:
        where &= AiProvider.id != but
    return await AiProvider.exists().where(where)


async def create_provider(rt: Runtime, principal: Principal, data: AiProviderCreate) -> AiProviderOut:
    org = principal.organization_id
    kind = provider_type(rt, data.provider)
    url = base_url(data.base_url)
    _needs_url(kind, url)
    name = (data.name or kind).strip()
    if not name:
        raise ValidationError.field("name", "must not be empty")
    if await _name_taken(org, name):
        raise _conflict(name)
    priority = data.priority
    if priority is None:
        last = await AiProvider.select(AiProvider.priority).where(
            AiProvider.organization == org).order_by(AiProvider.priority, ascending=False).first()
        priority = last["priority"] + 1 if last else 0
    provider_id = new_id()
    try:
        await AiProvider.insert(AiProvider(
            id=provider_id, organization=org, name=name, provider=kind.upper(), enabled=data.enabled,
            api_key=rt.keyring.encrypt(data.api_key, KEY_CONTEXT),
            model=data.model.strip(), base_url=url, temperature=data.temperature,
            max_tokens=data.max_tokens, timeout_seconds=data.timeout_seconds,
            config=_options(data.config), priority=priority))
    except UNIQUE_VIOLATIONS:
        raise _conflict(name) from None
    return provider_out(rt, await _row(principal, provider_id))


async def update_provider(rt: Runtime, principal: Principal, provider_id: str,
                          data: AiProviderUpdate) -> AiProviderOut:
    row = await _row(principal, provider_id)
    changes: dict[Any, Any] = {}
    for field in ("enabled", "temperature", "max_tokens", "timeout_seconds", "priority"):
        if (value := getattr(data, field)) is not msgspec.UNSET:
            changes[getattr(AiProvider, field)] = value
    if data.model is not msgspec.UNSET:
        changes[AiProvider.model] = data.model.strip()
    if data.config is not msgspec.UNSET:
        changes[AiProvider.config] = _options(data.config)
    if data.api_key is not msgspec.UNSET:
        changes[AiProvider.api_key] = rt.keyring.encrypt(data.api_key, KEY_CONTEXT)
    url = row["base_url"]
    if data.base_url is not msgspec.UNSET:
        changes[AiProvider.base_url] = url = base_url(data.base_url)
    _needs_url(row["provider"].lower(), url)
    if data.name is not msgspec.UNSET:
        name = data.name.strip()
        if not name:
            raise ValidationError.field("name", "must not be empty")
        if await _name_taken(principal.organization_id, name, but=provider_id):
            raise _conflict(name)
        changes[AiProvider.name] = name
    if changes:
        try:
            await AiProvider.update(changes).where(AiProvider.id == provider_id)
        except UNIQUE_VIOLATIONS:
            raise _conflict(changes[AiProvider.name]) from None
    return provider_out(rt, await _row(principal, provider_id))


async def delete_provider(principal: Principal, provider_id: str) -> None:
    await _row(principal, provider_id)
    await AiProvider.delete().where(AiProvider.id == provider_id)


async def record_check(provider_id: str, error: str | None) -> None:
    await AiProvider.update({AiProvider.last_check_at: utcnow(),
                             AiProvider.last_check_error: error}).where(AiProvider.id == provider_id)


# -- settings ---------------------------------------------------------------------------


def _parse(stored: Any) -> AiSettings:
    """Stored settings, keys since removed dropped and new ones defaulted."""
    known = {f.encode_name for f in msgspec.structs.fields(AiSettings)}
    stored = stored if isinstance(stored, dict) else {}
    return msgspec.convert({k: v for k, v in stored.items() if k in known}, AiSettings)


async def ai_settings(organization_id: str) -> AiSettings:
    return _parse((await settings_of(organization_id)).get(SETTINGS_KEY))


async def update_settings(principal: Principal, data: AiSettingsPatch) -> AiSettings:
    org = principal.organization_id
    stored = await settings_of(org)
    current = _parse(stored.get(SETTINGS_KEY))
    changes = {name: value for name in data.__struct_fields__
               if (value := getattr(data, name)) is not msgspec.UNSET}
    merged = msgspec.structs.replace(current, **changes)
    if "system_prompt" in changes:
        await validate_template(org, merged.system_prompt, "systemPrompt")
    # The rest of the organization's settings as read: a concurrent organization PATCH
    # between the read and this write would be lost, as between two of those PATCHes.
    stored[SETTINGS_KEY] = msgspec.to_builtins(merged)
    await Organization.update({Organization.settings: stored}).where(Organization.id == org)
    return merged


async def settings_out(organization_id: str) -> AiSettingsOut:
    s = await ai_settings(organization_id)
    return AiSettingsOut(
        requests_per_minute=s.requests_per_minute, daily_spend_cap_usd=s.daily_spend_cap_usd,
        prices={m: {"input": p.input, "output": p.output} for m, p in s.prices.items()},
        timeout_fallback_message=s.timeout_fallback_message,
        context_token_budget=s.context_token_budget, cache_ttl_seconds=s.cache_ttl_seconds,
        system_prompt=s.system_prompt,
        spent_today_usd=float(await spent_today(organization_id) / MICROS))


# -- POST /ai/test ------------------------------------------------------------------------


async def test_provider(rt: Runtime, principal: Principal, data: AiTestIn) -> AiTestOut:
    """A provider's failure is the test's answer (200, ``ok: false``, the error kind),
    recorded on a stored provider as ``lastCheckError``; only a request that names no
    testable provider is a 400. With a prompt the completion is real usage: it passes
    the organization's rate limit and is recorded with purpose ``test``."""
    if (data.provider_id is None) == (data.provider is None):
        raise ValidationError("Give either providerId (a stored provider) or provider (a configuration)",
                              [{"field": "providerId", "message": "exactly one of providerId, provider"}])
    if data.provider_id is not None:
        row = await _row(principal, data.provider_id)
        config, timeout = config_from_row(rt, row), row["timeout_seconds"]
    else:
        assert data.provider is not None
        config, timeout = config_from_input(rt, data.provider)
    settings = await ai_settings(principal.organization_id)
    if data.prompt and not await allow_request(rt.limiter, principal.organization_id, settings):
        raise RateLimitError("The organization's AI rate limit is reached", 60)
    started = time.perf_counter()
    result = AiTestOut(ok=True, latency_ms=0, model=config.model)
    try:
        async with asyncio.timeout(timeout + 1):
            if data.prompt:
                completion = await (await router_of(rt).provider(config)).complete(CompletionRequest(
                    messages=[ChatMessage(role="user", content=data.prompt)], timeout=float(timeout)))
                result = AiTestOut(ok=True, latency_ms=0, model=completion.model, text=completion.text)
                cost = PriceTable(msgspec.to_builtins(settings.prices)).of(completion)
                await record_usage(principal.organization_id, None, "test", "ok", completion=completion,
                                   config=config, cost=cost_micros(cost),
                                   latency_ms=completion.latency_ms)
            else:
                await router_of(rt).check(config)
    except TimeoutError:
        result = AiTestOut(ok=False, latency_ms=0, kind="timeout", model=config.model,
                           error=f"no answer within {timeout} s")
    except AiError as exc:
        result = AiTestOut(ok=False, latency_ms=0, kind=exc.kind, error=exc.message, model=config.model)
    except Exception as exc:  # a provider plugin's bug is that provider failing the test
        result = AiTestOut(ok=False, latency_ms=0, kind="bad_response", model=config.model,
                           error=f"provider failed unexpectedly: {type(exc).__name__}")
    result.latency_ms = round((time.perf_counter() - started) * 1000)
    if data.provider_id is not None:
        await record_check(data.provider_id, None if result.ok else f"{result.kind}: {result.error}")
    return result
