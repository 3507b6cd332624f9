"""What a completion cost, from its token counts and a price table.

Prices are US dollars per million tokens, input and output apart, by model. The
defaults are the providers' published list prices when this table was written: they
drift, so an organization's own table (``overrides``) takes precedence, and a model
found in neither is priced at zero and flagged rather than guessed. Money is Decimal:
daily spend caps add thousands of tiny amounts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from wacc.ai.contract import Completion

MILLION = Decimal(1_000_000)


class Price(msgspec.Struct, frozen=True):
    input: Decimal  # per million prompt tokens
    output: Decimal  # per million completion tokens


def _p(input: str, output: str) -> Price:
    return Price(Decimal(input), Decimal(output))


DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-4.1": _p("2.00", "8.00"),
    "gpt-4.1-mini": _p("0.40", "1.60"),
    "gpt-4.1-nano": _p("0.10", "0.40"),
    "gpt-4o": _p("2.50", "10.00"),
    "gpt-4o-mini": _p("0.15", "0.60"),
    "o4-mini": _p("1.10", "4.40"),
    "text-embedding-3-small": _p("0.02", "0"),
    "text-embedding-3-large": _p("0.13", "0"),
    # Anthropic
    "claude-opus-4": _p("15.00", "75.00"),
    "claude-opus-4-1": _p("15.00", "75.00"),
    "claude-sonnet-4": _p("3.00", "15.00"),
    "claude-sonnet-4-5": _p("3.00", "15.00"),
    "claude-3-7-sonnet": _p("3.00", "15.00"),
    "claude-3-5-sonnet": _p("3.00", "15.00"),
    "claude-3-5-haiku": _p("0.80", "4.00"),
    "claude-haiku-4-5": _p("1.00", "5.00"),
    # Google
    "gemini-2.5-pro": _p("1.25", "10.00"),
    "gemini-2.5-flash": _p("0.30", "2.50"),
    "gemini-2.5-flash-lite": _p("0.10", "0.40"),
    "gemini-2.0-flash": _p("0.10", "0.40"),
    "gemini-2.0-flash-lite": _p("0.075", "0.30"),
}


class Cost(msgspec.Struct, frozen=True, kw_only=True):
    usd: Decimal
    priced: bool  # False: the model is in no table, usd is 0 and should be looked at
    price_key: str | None = None  # the table entry used


# What may follow a table entry in the name of one of its releases: a date
# (gpt-4o-2024-08-06, claude-3-5-haiku-20241022), a version (gemini-2.0-flash-001),
# "-latest", or Vertex's "@date". Anything else is another model, unpriced and flagged.
RELEASE = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{3}|-latest|@[\w.-]+)")


class PriceTable:
    """Looks a model up exactly, then as a release of a table entry, so a dated release
    ("gpt-4o-mini-2024-07-18") finds its family; "models/" prefixes (Gemini) are ignored."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float | str]] | None = None,
                 defaults: Mapping[str, Price] = DEFAULT_PRICES) -> None:
        self.prices = dict(defaults)
        for model, price in (overrides or {}).items():
            self.prices[model.lower()] = Price(_decimal(price, "input"), _decimal(price, "output"))

    def find(self, model: str) -> tuple[str, Price] | None:
        name = model.lower().removeprefix("models/")
        if name in self.prices:
            return name, self.prices[name]
        for key, price in self.prices.items():
            if name.startswith(key) and RELEASE.fullmatch(name[len(key):]):
                return key, price
        return None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> Cost:
        found = self.find(model)
        if found is None:
            return Cost(usd=Decimal(0), priced=False)
        key, price = found
        usd = (price.input * prompt_tokens + price.output * completion_tokens) / MILLION
        return Cost(usd=usd, priced=True, price_key=key)

    def of(self, completion: Completion) -> Cost:
        return self.cost(completion.model, completion.prompt_tokens, completion.completion_tokens)


def _decimal(price: Mapping[str, float | str], field: str) -> Decimal:
    """A price from JSON configuration; str() first so 0.15 stays 0.15, not its float."""
    try:
        value = Decimal(str(price.get(field, 0)))
    except ArithmeticError:  # decimal.InvalidOperation: not a number at all
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise ValueError(f"price {field} must be a number of dollars ≥ 0, got {value}")
    return value
