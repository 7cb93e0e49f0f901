"""Heal budgets: prices, spending and the settings that configure them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.budget import Budget, Price, parse_prices
from kernel.config import load_settings
from kernel.errors import ConfigError
from patches.types import Usage


def test_prices_parse() -> None:
    prices = parse_prices("gpt-4o-mini=0.15/0.60, local=0")
    assert prices["gpt-4o-mini"] == Price(0.15, 0.60)
    assert prices["local"] == Price(0.0, 0.0)


def test_invalid_price_rejected() -> None:
    with pytest.raises(ConfigError, match="MODEL=PROMPT/COMPLETION"):
        parse_prices("gpt-4o-mini=cheap")


def test_tokens_exhaust_budget() -> None:
    budget = Budget(max_tokens=1000)
    budget.charge(Usage(600, 300, 1), "m")
    assert budget.exhausted() is None
    budget.charge(Usage(100, 0, 1), "m")
    message = budget.exhausted()
    assert message is not None
    assert "1000 of 1000 tokens" in message
    assert "max_tokens" in message


def test_cost_uses_model_price() -> None:
    budget = Budget(max_cost=0.5, prices={"m": Price(1.0, 2.0)})
    budget.charge(Usage(100_000, 100_000, 1), "m")
    assert budget.cost == pytest.approx(0.3)
    assert budget.exhausted() is None
    budget.charge(Usage(200_000, 0, 1), "m")
    assert "cost budget is spent" in (budget.exhausted() or "")


def test_unpriced_model_costs_nothing() -> None:
    budget = Budget(max_cost=0.01, prices={"other": Price(5.0, 5.0)})
    budget.charge(Usage(10_000_000, 0, 1), "m")
    assert budget.cost == 0.0
    assert budget.exhausted() is None


def test_time_exhausts_budget() -> None:
    budget = Budget(max_seconds=10, started=0.0)  # monotonic time zero is long past
    assert "time budget is spent" in (budget.exhausted() or "")
    assert "heal_timeout" in (budget.exhausted() or "")


def test_zero_limits_mean_none() -> None:
    budget = Budget(started=0.0)
    budget.charge(Usage(10**9, 10**9, 1), "m")
    assert budget.exhausted() is None


def test_prices_from_toml_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTOS_MODEL_PRICES", raising=False)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.agentos]\nmax_rounds = 2\n\n"
        '[tool.agentos.model_prices]\n"gpt-4o-mini" = [0.15, 0.6]\n'
    )
    settings = load_settings(tmp_path)
    assert settings.max_rounds == 2
    assert parse_prices(settings.model_prices) == {"gpt-4o-mini": Price(0.15, 0.6)}


def test_invalid_rounds_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid max_rounds 0"):
        load_settings(tmp_path, {"max_rounds": 0})


def test_negative_cost_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid max_cost -1.0"):
        load_settings(tmp_path, {"max_cost": -1})
