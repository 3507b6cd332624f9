from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter

from wacc.http.schemas import Input, Output

ProviderId = Annotated[str, PathParameter(name="providerId", min_length=1, max_length=64)]

ProviderName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
# A registered type's name ("openai", "OPENAI", a plugin's "hello-echo"); the service
# checks it is installed.
ProviderType = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z][\w-]*$")]
ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
# A key travels in an HTTP header: printable ASCII only (a pasted key with a stray
# non-ASCII character would be stored and then fail every call).
ApiKey = Annotated[str, msgspec.Meta(max_length=512, pattern=r"^[\x21-\x7e]*$")]
BaseUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
MaxTokens = Annotated[int, msgspec.Meta(ge=1, le=200_000)]
TimeoutSeconds = Annotated[int, msgspec.Meta(ge=1, le=300)]
Priority = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
# Provider options (docs/ai.md): a few scalars such as embedding_model or organization.
Options = Annotated[dict[Annotated[str, msgspec.Meta(max_length=64)], str | int | float | bool | None],
                    msgspec.Meta(max_length=20)]
Prompt = Annotated[str, msgspec.Meta(max_length=8000)]
Message = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class AiProviderCreate(Input):
    provider: ProviderType
    model: ModelName
    name: ProviderName | None = None  # default: the type in lower case
    api_key: ApiKey = ""
    base_url: BaseUrl | None = None
    enabled: bool = True
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    timeout_seconds: TimeoutSeconds = 30
    config: Options | None = None
    priority: Priority | None = None  # default: after the others


class AiProviderUpdate(Input):
    """Each field optional; ``apiKey: ""`` removes the key, ``null`` clears the others."""

    name: ProviderName | msgspec.UnsetType = msgspec.UNSET
    model: ModelName | msgspec.UnsetType = msgspec.UNSET
    api_key: ApiKey | msgspec.UnsetType = msgspec.UNSET
    base_url: BaseUrl | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    temperature: Temperature | msgspec.UnsetType | None = msgspec.UNSET
    max_tokens: MaxTokens | msgspec.UnsetType | None = msgspec.UNSET
    timeout_seconds: TimeoutSeconds | msgspec.UnsetType = msgspec.UNSET
    config: Options | msgspec.UnsetType | None = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET


class AiProviderOut(Output):
    id: str
    name: str
    provider: str
    enabled: bool
    has_api_key: bool  # the key itself is write-only
    api_key_last4: str | None  # only for keys long enough that 4 characters reveal nothing
    model: str
    base_url: str | None
    temperature: float | None
    max_tokens: int | None
    timeout_seconds: int
    config: dict[str, Any] | None
    priority: int
    last_check_at: datetime | None
    last_check_error: str | None
    created_at: datetime
    updated_at: datetime


class AiTestIn(Input):
    """Test a stored provider (``providerId``) or an unsaved configuration (``provider``).
    Without ``prompt`` the provider's free check runs (key and model); with it, a real
    completion of that prompt (it costs tokens and counts as usage)."""

    provider_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    provider: AiProviderCreate | None = None
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None


class AiTestOut(Output):
    ok: bool
    latency_ms: int
    kind: str | None = None  # the error kind (docs/ai.md): auth, timeout, bad_response…
    error: str | None = None
    model: str | None = None
    text: str | None = None  # the completion, with ``prompt``


class PriceIn(Input):
    input: Annotated[float, msgspec.Meta(ge=0, le=10_000)]  # USD per million prompt tokens
    output: Annotated[float, msgspec.Meta(ge=0, le=10_000)]  # USD per million completion tokens


Prices = Annotated[dict[ModelName, PriceIn], msgspec.Meta(max_length=200)]
RequestsPerMinute = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
SpendCap = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
TokenBudget = Annotated[int, msgspec.Meta(ge=100, le=1_000_000)]
CacheTtl = Annotated[int, msgspec.Meta(ge=0, le=7 * 86_400)]


class AiSettings(Input):
    """An organization's AI guardrails, stored under ``settings.ai`` of the organization."""

    requests_per_minute: RequestsPerMinute = 20
    daily_spend_cap_usd: SpendCap | None = None  # null: no cap
    prices: Prices = msgspec.field(default_factory=dict)
    timeout_fallback_message: Message | None = None
    context_token_budget: TokenBudget = 4000
    cache_ttl_seconds: CacheTtl = 3600  # 0: no cache
    system_prompt: Prompt = ""  # the default template (docs/ai.md)


class AiSettingsPatch(Input):
    requests_per_minute: RequestsPerMinute | msgspec.UnsetType = msgspec.UNSET
    daily_spend_cap_usd: SpendCap | msgspec.UnsetType | None = msgspec.UNSET
    prices: Prices | msgspec.UnsetType = msgspec.UNSET
    timeout_fallback_message: Message | msgspec.UnsetType | None = msgspec.UNSET
    context_token_budget: TokenBudget | msgspec.UnsetType = msgspec.UNSET
    cache_ttl_seconds: CacheTtl | msgspec.UnsetType = msgspec.UNSET
    system_prompt: Prompt | msgspec.UnsetType = msgspec.UNSET


class AiSettingsOut(Output):
    requests_per_minute: int
    daily_spend_cap_usd: float | None
    prices: dict[str, dict[str, float]]
    timeout_fallback_message: str | None
    context_token_budget: int
    cache_ttl_seconds: int
    system_prompt: str
    spent_today_usd: float  # since 00:00 UTC


class UsageRow(Output):
    day: date
    provider: str
    model: str
    calls: int  # provider calls and cache hits; refusals by a guardrail are apart
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    failovers: int
    failures: int
    cache_hits: int
    refused: int  # rate limit or spend cap
    avg_latency_ms: int


class UsageOut(Output):
    items: list[UsageRow]
    total_cost_usd: float
    total_calls: int
