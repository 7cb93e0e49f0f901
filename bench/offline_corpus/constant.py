"""A numeric constant off by one."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "last_item",
        """\
def last_item(items):
    return items[len(items) - 2]
""",
        """\
from app.prog import last_item


def test_three():
    assert last_item([1, 2, 3]) == 3
""",
        """\
from app.prog import last_item


def test_one():
    assert last_item(["x"]) == "x"


def test_two():
    assert last_item([4, 5]) == 5
""",
    ),
    Program(
        "week_number",
        """\
def week_number(day_of_year):
    return day_of_year // 7 + 2
""",
        """\
from app.prog import week_number


def test_first_day():
    assert week_number(0) == 1
""",
        """\
from app.prog import week_number


def test_second_week():
    assert week_number(8) == 2


def test_late():
    assert week_number(364) == 53
""",
    ),
    Program(
        "chunk",
        """\
def chunk(items):
    size = 4
    return [items[i : i + size] for i in range(0, len(items), size)]
""",
        """\
from app.prog import chunk


def test_pairs_of_three():
    assert chunk([1, 2, 3, 4, 5, 6]) == [[1, 2, 3], [4, 5, 6]]
""",
        """\
from app.prog import chunk


def test_empty():
    assert chunk([]) == []


def test_short_tail():
    assert chunk([1, 2, 3, 4]) == [[1, 2, 3], [4]]
""",
    ),
    Program(
        "digits",
        """\
def digits(number):
    count = 0
    while number > 0:
        number //= 11
        count += 1
    return max(count, 1)
""",
        """\
from app.prog import digits


def test_one_digit():
    assert digits(7) == 1


def test_ten():
    assert digits(10) == 2
""",
        """\
from app.prog import digits


def test_zero():
    assert digits(0) == 1


def test_hundreds():
    assert digits(150) == 3


def test_large():
    assert digits(99999) == 5
""",
    ),
]
