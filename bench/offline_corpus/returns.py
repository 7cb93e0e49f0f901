"""A missing return, or a return inside the loop it should follow."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "sum_positive",
        """\
def sum_positive(values):
    total = 0
    for value in values:
        if value > 0:
            total += value
        return total
""",
        """\
from app.prog import sum_positive


def test_mixed():
    assert sum_positive([1, -2, 3]) == 4
""",
        """\
from app.prog import sum_positive


def test_empty():
    assert sum_positive([]) == 0


def test_negative_first():
    assert sum_positive([-1, 5, 6]) == 11
""",
    ),
    Program(
        "normalise",
        """\
def normalise(name):
    cleaned = name.strip().lower()
""",
        """\
from app.prog import normalise


def test_spaces():
    assert normalise("  Ada ") == "ada"
""",
        """\
from app.prog import normalise


def test_upper():
    assert normalise("GRACE") == "grace"


def test_empty():
    assert normalise("") == ""
""",
    ),
    Program(
        "factorial",
        """\
def factorial(n):
    if n <= 1:
        return 1
    n * factorial(n - 1)
""",
        """\
from app.prog import factorial


def test_one():
    assert factorial(1) == 1


def test_four():
    assert factorial(4) == 24
""",
        """\
from app.prog import factorial


def test_zero():
    assert factorial(0) == 1


def test_six():
    assert factorial(6) == 720
""",
    ),
    Program(
        "all_valid",
        """\
def all_valid(codes):
    for code in codes:
        if len(code) != 3:
            return False
        return True
    return True
""",
        """\
from app.prog import all_valid


def test_second_bad():
    assert not all_valid(["abc", "toolong"])


def test_good():
    assert all_valid(["abc", "xyz"])
""",
        """\
from app.prog import all_valid


def test_empty():
    assert all_valid([])


def test_last_bad():
    assert not all_valid(["abc", "def", "g"])
""",
    ),
]
