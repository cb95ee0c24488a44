"""The cost of one model request in micro-dollars, from genai-prices' maintained price tables."""

from dataclasses import dataclass
from decimal import Decimal

from genai_prices import calc_price
from pydantic_ai.usage import RequestUsage

from agentruns.agent.models import ModelRef

# Our provider names as genai-prices knows them; `openai-compatible` servers are priced as OpenAI's
# model of the same name when there is one (a local Llama has no price and costs 0).
_PRICE_PROVIDERS = {"anthropic": "anthropic", "openai": "openai", "google": "google", "openai-compatible": "openai"}


@dataclass(frozen=True, slots=True)
class Cost:
    """A price in micro-dollars, and why it is 0 when no price is known."""

    micros: int
    note: str | None = None


def cost_of(model_id: str, usage: RequestUsage) -> Cost:
    """Price one request's usage; 0 with a note when genai-prices knows no price for the model."""
    ref = ModelRef.parse(model_id)
    provider = _PRICE_PROVIDERS.get(ref.provider)
    if provider is None:
        return Cost(0, f"no price for {model_id}: the {ref.provider} provider is free")
    try:
        price = calc_price(usage, ref.name, provider_id=provider).total_price
    except LookupError:
        return Cost(0, f"no price known for {model_id}")
    return Cost(int((price * Decimal(1_000_000)).to_integral_value()))
