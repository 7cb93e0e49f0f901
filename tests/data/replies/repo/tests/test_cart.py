from inventory.cart import Cart


def test_total_counts_quantity():
    cart = Cart()
    cart.add("pen", 2.5, quantity=4)
    assert cart.total == 10.0


def test_count_counts_quantity():
    cart = Cart()
    cart.add("pen", 2.5, quantity=4)
    cart.add("ink", 7.0)
    assert cart.count() == 5
