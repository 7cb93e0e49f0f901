"""An accumulator that starts from the wrong value."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "product",
        """\
def product(values):
    result = 0
    for value in values:
        result *= value
    return result
""",
        """\
from app.prog import product


def test_two():
    assert product([2, 3]) == 6
""",
        """\
from app.prog import product


def test_empty():
    assert product([]) == 1


def test_with_zero():
    assert product([5, 0]) == 0
""",
    ),
    Program(
        "smallest",
        """\
def smallest(values):
    best = 0
    for value in values:
        if value < best:
            best = value
    return best
""",
        """\
from app.prog import smallest


def test_negative():
    assert smallest([3, -4, 1]) == -4


def test_positive():
    assert smallest([5, 2, 8]) == 2
""",
        """\
from app.prog import smallest


def test_single():
    assert smallest([9]) == 9


def test_large():
    assert smallest([100, 200]) == 100
""",
    ),
    Program(
        "count_words",
        """\
def count_words(text):
    count = 1
    for word in text.split():
        count += 1
    return count
""",
        """\
from app.prog import count_words


def test_two_words():
    assert count_words("hello world") == 2
""",
        """\
from app.prog import count_words


def test_empty():
    assert count_words("") == 0


def test_spaces():
    assert count_words("  a  b  c ") == 3
""",
    ),
    Program(
        "found_flag",
        """\
def contains(values, wanted):
    found = True
    for value in values:
        if value == wanted:
            found = True
    return found
""",
        """\
from app.prog import contains


def test_present():
    assert contains([1, 2], 2)


def test_absent():
    assert not contains([1, 2], 5)
""",
        """\
from app.prog import contains


def test_empty():
    assert not contains([], 1)


def test_first():
    assert contains(["a"], "a")
""",
    ),
]
