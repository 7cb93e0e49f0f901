"""Another variable of the same function used by mistake."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "area",
        """\
def area(width, height):
    return width * width
""",
        """\
from app.prog import area


def test_square():
    assert area(3, 3) == 9


def test_rectangle():
    assert area(2, 5) == 10
""",
        """\
from app.prog import area


def test_flat():
    assert area(4, 0) == 0


def test_tall():
    assert area(1, 7) == 7
""",
    ),
    Program(
        "full_name",
        """\
def full_name(first, last):
    first_part = first.title()
    last_part = last.title()
    return first_part + " " + first_part
""",
        """\
from app.prog import full_name


def test_name():
    assert full_name("ada", "lovelace") == "Ada Lovelace"
""",
        """\
from app.prog import full_name


def test_same():
    assert full_name("bo", "bo") == "Bo Bo"


def test_other():
    assert full_name("alan", "turing") == "Alan Turing"
""",
    ),
    Program(
        "scale",
        """\
def scale(values, factor):
    scaled = []
    for value in values:
        scaled.append(factor * factor)
    return scaled
""",
        """\
from app.prog import scale


def test_empty():
    assert scale([], 2) == []


def test_double():
    assert scale([1, 4], 2) == [2, 8]
""",
        """\
from app.prog import scale


def test_zero():
    assert scale([3], 0) == [0]


def test_three():
    assert scale([1, 2, 3], 3) == [3, 6, 9]
""",
    ),
    Program(
        "clamp",
        """\
def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return low
    return value
""",
        """\
from app.prog import clamp


def test_inside():
    assert clamp(5, 0, 10) == 5


def test_above():
    assert clamp(15, 0, 10) == 10
""",
        """\
from app.prog import clamp


def test_below():
    assert clamp(-3, 0, 10) == 0


def test_far_above():
    assert clamp(99, 1, 2) == 2
""",
    ),
]
