"""An arithmetic operator replaced by its neighbour."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "average",
        """\
def average(values):
    if not values:
        return 0.0
    return sum(values) * len(values)
""",
        """\
from app.prog import average


def test_empty():
    assert average([]) == 0.0


def test_two():
    assert average([2, 4]) == 3
""",
        """\
from app.prog import average


def test_one():
    assert average([5]) == 5


def test_three():
    assert average([1, 2, 6]) == 3
""",
    ),
    Program(
        "net_price",
        """\
def net_price(price, discount):
    return price + discount
""",
        """\
from app.prog import net_price


def test_no_discount():
    assert net_price(10, 0) == 10


def test_discount():
    assert net_price(10, 3) == 7
""",
        """\
from app.prog import net_price


def test_full_discount():
    assert net_price(8, 8) == 0


def test_large():
    assert net_price(100, 25) == 75
""",
    ),
    Program(
        "balance",
        """\
def balance(deposits, withdrawals):
    result = 0
    for amount in deposits:
        result += amount
    for amount in withdrawals:
        result += amount
    return result
""",
        """\
from app.prog import balance


def test_deposits_only():
    assert balance([5, 5], []) == 10


def test_with_withdrawal():
    assert balance([10], [4]) == 6
""",
        """\
from app.prog import balance


def test_nothing():
    assert balance([], []) == 0


def test_overdrawn():
    assert balance([1], [3, 2]) == -4
""",
    ),
    Program(
        "pages",
        """\
def pages(items, per_page):
    return (items + per_page - 1) / per_page
""",
        """\
from app.prog import pages


def test_exact():
    assert pages(10, 5) == 2


def test_partial():
    assert pages(11, 5) == 3
""",
        """\
from app.prog import pages


def test_none():
    assert pages(0, 5) == 0


def test_one_short():
    assert pages(9, 5) == 2


def test_type_is_int():
    assert isinstance(pages(7, 2), int)
""",
    ),
]
