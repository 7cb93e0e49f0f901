"""Identity (is) confused with equality (==), or a builtin with its twin."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "same_list",
        """\
def same_items(a, b):
    return sorted(a) is sorted(b)
""",
        """\
from app.prog import same_items


def test_same():
    assert same_items([2, 1], [1, 2])
""",
        """\
from app.prog import same_items


def test_different():
    assert not same_items([1], [2])


def test_empty():
    assert same_items([], [])
""",
    ),
    Program(
        "is_missing",
        """\
def describe(value):
    if value == None:
        return "missing"
    return "present"
""",
        """\
from app.prog import describe


class AlwaysEqual:
    def __eq__(self, other):
        return True


def test_none():
    assert describe(None) == "missing"


def test_equal_to_everything():
    assert describe(AlwaysEqual()) == "present"
""",
        """\
from app.prog import describe


def test_zero():
    assert describe(0) == "present"


def test_text():
    assert describe("x") == "present"
""",
    ),
    Program(
        "cheapest",
        """\
def cheapest(prices):
    return max(prices)
""",
        """\
from app.prog import cheapest


def test_cheapest():
    assert cheapest([4, 1, 7]) == 1
""",
        """\
from app.prog import cheapest


def test_single():
    assert cheapest([3]) == 3


def test_negative():
    assert cheapest([-1, -9, 0]) == -9
""",
    ),
    Program(
        "any_negative",
        """\
def any_negative(values):
    return all(value < 0 for value in values)
""",
        """\
from app.prog import any_negative


def test_one_negative():
    assert any_negative([1, -2, 3])
""",
        """\
from app.prog import any_negative


def test_none():
    assert not any_negative([1, 2])


def test_empty():
    assert not any_negative([])
""",
    ),
]
