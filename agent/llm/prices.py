"""What a call costs: a built-in table of list prices (USD per million tokens), overridable in settings.

Prices change; the table is a convenience, not a bill. Unknown models (a local vLLM or Ollama server)
report tokens and no cost. Override or add with LIT2CODE_PRICES (see LLMSettings).
"""

from __future__ import annotations

from agent.settings import Price

BUILTIN: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
    "o4-mini": Price(input=1.10, output=4.40),
    "gpt-5": Price(input=1.25, output=10.00),
    "gpt-5-mini": Price(input=0.25, output=2.00),
    "gpt-5-nano": Price(input=0.05, output=0.40),
}


def price_for(model: str, overrides: dict[str, Price] | None = None) -> Price | None:
    """The price of `model`; a dated snapshot ('gpt-4o-mini-2024-07-18') uses its base model's price."""
    table = {**BUILTIN, **(overrides or {})}
    if model in table:
        return table[model]
    candidates = [name for name in table if model.startswith(name + "-")]
    return table[max(candidates, key=len)] if candidates else None


def cost_usd(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    if price is None:
        return None
    return round((prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000, 8)
