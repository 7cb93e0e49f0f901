"""A relational operator that points the wrong way."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "largest",
        """\
def largest(values):
    best = values[0]
    for value in values[1:]:
        if value < best:
            best = value
    return best
""",
        """\
from app.prog import largest


def test_single():
    assert largest([4]) == 4


def test_several():
    assert largest([3, 9, 2]) == 9
""",
        """\
from app.prog import largest


def test_negative():
    assert largest([-5, -2, -8]) == -2


def test_first_is_largest():
    assert largest([10, 1, 3]) == 10
""",
    ),
    Program(
        "is_adult",
        """\
def is_adult(age):
    return age < 18
""",
        """\
from app.prog import is_adult


def test_child():
    assert not is_adult(7)


def test_adult():
    assert is_adult(40)
""",
        """\
from app.prog import is_adult


def test_eighteen():
    assert is_adult(18)


def test_seventeen():
    assert not is_adult(17)
""",
    ),
    Program(
        "count_above",
        """\
def count_above(values, limit):
    count = 0
    for value in values:
        if value <= limit:
            count += 1
    return count
""",
        """\
from app.prog import count_above


def test_none_above():
    assert count_above([], 3) == 0


def test_some_above():
    assert count_above([1, 5, 7], 4) == 2
""",
        """\
from app.prog import count_above


def test_equal_not_counted():
    assert count_above([4, 4, 9], 4) == 1


def test_all_above():
    assert count_above([10, 11], 0) == 2
""",
    ),
    Program(
        "same_sign",
        """\
def same_sign(a, b):
    return (a >= 0) != (b >= 0)
""",
        """\
from app.prog import same_sign


def test_both_positive():
    assert same_sign(3, 8)
""",
        """\
from app.prog import same_sign


def test_mixed():
    assert not same_sign(-1, 4)


def test_both_negative():
    assert same_sign(-2, -9)
""",
    ),
]
