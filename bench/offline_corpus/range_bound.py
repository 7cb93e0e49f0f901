"""A range or slice that stops one step early or late."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "total",
        """\
def total(values):
    result = 0
    for index in range(len(values) - 1):
        result += values[index]
    return result
""",
        """\
from app.prog import total


def test_empty():
    assert total([]) == 0


def test_three():
    assert total([1, 2, 3]) == 6
""",
        """\
from app.prog import total


def test_one():
    assert total([7]) == 7


def test_negative():
    assert total([-1, -2]) == -3
""",
    ),
    Program(
        "first_n",
        """\
def first_n(items, n):
    return items[: n - 1]
""",
        """\
from app.prog import first_n


def test_two():
    assert first_n([5, 6, 7], 2) == [5, 6]
""",
        """\
from app.prog import first_n


def test_zero():
    assert first_n([5, 6], 0) == []


def test_all():
    assert first_n([1, 2, 3], 3) == [1, 2, 3]
""",
    ),
    Program(
        "squares",
        """\
def squares(n):
    return [i * i for i in range(1, n)]
""",
        """\
from app.prog import squares


def test_three():
    assert squares(3) == [1, 4, 9]
""",
        """\
from app.prog import squares


def test_none():
    assert squares(0) == []


def test_five():
    assert squares(5) == [1, 4, 9, 16, 25]
""",
    ),
    Program(
        "pairs",
        """\
def pairs(items):
    return [(items[i], items[i + 1]) for i in range(len(items) - 2)]
""",
        """\
from app.prog import pairs


def test_three():
    assert pairs(["a", "b", "c"]) == [("a", "b"), ("b", "c")]
""",
        """\
from app.prog import pairs


def test_two():
    assert pairs([1, 2]) == [(1, 2)]


def test_one():
    assert pairs([1]) == []
""",
    ),
]
