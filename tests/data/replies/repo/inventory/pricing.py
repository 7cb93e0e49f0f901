"""Prices, discounts and taxes."""

TAX_RATE = 0.2


def discount(price: float, rate: float) -> float:
    """Return ``price`` reduced by ``rate`` (0.1 is ten percent)."""
    assert 0 <= rate <= 1, f"rate must be between 0 and 1, not {rate}"
    return price * rate


def with_tax(price: float) -> float:
    return price + price * TAX_RATE


def bulk_price(unit: float, quantity: int) -> float:
    if quantity >= 10:
        return unit * quantity * 0.9
    return unit * quantity


def parse_price(text: str) -> float:
    text = text.strip()
    if text.startswith("$"):
        text = text[1:]
    return float(text.replace(",", ""))
