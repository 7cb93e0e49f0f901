import pytest

from inventory.cart import Cart


def test_total_prices_every_entry():
    cart = Cart()
    cart.add("apple", 0.5, 4)
    cart.add("pear", 1.25)
    assert cart.total() == 3.25


def test_count_adds_quantities():
    cart = Cart()
    cart.add("apple", 0.5, 4)
    cart.add("pear", 1.25)
    assert cart.count() == 5


def test_add_rejects_zero_quantity():
    with pytest.raises(ValueError):
        Cart().add("apple", 0.5, 0)
