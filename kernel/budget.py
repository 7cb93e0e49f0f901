"""Limits on what one heal may spend: model tokens, estimated cost and wall-clock time.

Usage is counted as the model API reports it, after each request, so a
request that starts under the limit may end above it. The heal checks the
budget before each request and stops asking models once a limit is reached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from kernel.errors import ConfigError
from patches.types import Usage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Price:
    """Dollars per million prompt and completion tokens of one model."""

    prompt: float
    completion: float


def parse_prices(text: str) -> dict[str, Price]:
    """Parse ``"MODEL=PROMPT/COMPLETION, ..."`` (dollars per million tokens) into prices."""
    prices: dict[str, Price] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        model, _, rates = entry.rpartition("=")
        prompt, _, completion = rates.partition("/")
        try:
            prices[model.strip()] = Price(float(prompt), float(completion or prompt))
        except ValueError as error:
            raise ConfigError(
                f"invalid model price {entry!r}; write MODEL=PROMPT/COMPLETION in dollars per "
                "million tokens, for example gpt-4o-mini=0.15/0.60."
            ) from error
        if not model.strip():
            raise ConfigError(f"invalid model price {entry!r}: the model name is missing.")
    return prices


@dataclass
class Budget:
    """The spending of one heal and its limits, where a limit of 0 means no limit."""

    max_tokens: int = 0
    max_cost: float = 0.0  # dollars, estimated from ``prices``
    max_seconds: float = 0.0
    prices: Mapping[str, Price] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def charge(self, usage: Usage, model: str | None) -> None:
        """Add the usage of one provider response, priced by ``model`` when its price is known."""
        self.usage = self.usage + usage
        price = self.prices.get(model or "")
        if price is not None:
            self.cost += (
                usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion
            ) / 1_000_000

    def exhausted(self) -> str | None:
        """Say which limit is reached, with the setting that raises it, or return None."""
        if self.max_tokens and self.usage.total_tokens >= self.max_tokens:
            return (
                f"the heal's token budget is spent ({self.usage.total_tokens} of "
                f"{self.max_tokens} tokens). Raise max_tokens to let the model continue."
            )
        if self.max_cost and self.cost >= self.max_cost:
            return (
                f"the heal's cost budget is spent (an estimated ${self.cost:.4f} of "
                f"${self.max_cost:g}). Raise max_cost to let the model continue."
            )
        elapsed = time.monotonic() - self.started
        if self.max_seconds and elapsed >= self.max_seconds:
            return (
                f"the heal's time budget is spent ({elapsed:.0f} of {self.max_seconds:g} "
                "seconds). Raise heal_timeout to let it continue."
            )
        return None
