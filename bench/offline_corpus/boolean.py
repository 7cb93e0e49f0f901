"""A boolean operator swapped, or a condition negated."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "can_vote",
        """\
def can_vote(age, registered):
    return age >= 18 or registered
""",
        """\
from app.prog import can_vote


def test_registered_adult():
    assert can_vote(30, True)


def test_unregistered_adult():
    assert not can_vote(30, False)
""",
        """\
from app.prog import can_vote


def test_registered_child():
    assert not can_vote(12, True)


def test_unregistered_child():
    assert not can_vote(12, False)
""",
    ),
    Program(
        "evens",
        """\
def evens(values):
    kept = []
    for value in values:
        if not value % 2 == 0:
            kept.append(value)
    return kept
""",
        """\
from app.prog import evens


def test_empty():
    assert evens([]) == []


def test_mixed():
    assert evens([1, 2, 3, 4]) == [2, 4]
""",
        """\
from app.prog import evens


def test_only_odd():
    assert evens([3, 5]) == []


def test_zero():
    assert evens([0, 7]) == [0]
""",
    ),
    Program(
        "is_weekend",
        """\
def is_weekend(day):
    return day == "sat" and day == "sun"
""",
        """\
from app.prog import is_weekend


def test_monday():
    assert not is_weekend("mon")


def test_saturday():
    assert is_weekend("sat")
""",
        """\
from app.prog import is_weekend


def test_sunday():
    assert is_weekend("sun")


def test_friday():
    assert not is_weekend("fri")
""",
    ),
    Program(
        "strip_blank",
        """\
def strip_blank(lines):
    result = []
    for line in lines:
        if line.strip() == "":
            result.append(line)
    return result
""",
        """\
from app.prog import strip_blank


def test_keeps_text():
    assert strip_blank(["a", "", "b"]) == ["a", "b"]
""",
        """\
from app.prog import strip_blank


def test_spaces_only():
    assert strip_blank(["  ", "x"]) == ["x"]


def test_nothing():
    assert strip_blank([]) == []
""",
    ),
]
