import pytest

from inventory.pricing import discount, parse_price


def test_discount_takes_rate_off():
    assert discount(80.0, 0.25) == 60.0


def test_parse_price_with_thousands():
    assert parse_price(" $1,299.50 ") == 1299.5


def test_discount_rejects_rate_above_one():
    with pytest.raises(AssertionError):
        discount(10.0, 1.5)
