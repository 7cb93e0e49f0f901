"""Two arguments or operands in the wrong order."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "ratio",
        """\
def percent(part, whole):
    return 100 * part / whole


def share(sold, stock):
    return percent(stock, sold)
""",
        """\
from app.prog import percent, share


def test_percent():
    assert percent(1, 4) == 25


def test_share():
    assert share(5, 20) == 25
""",
        """\
from app.prog import share


def test_all_sold():
    assert share(8, 8) == 100


def test_tenth():
    assert share(3, 30) == 10
""",
    ),
    Program(
        "elapsed",
        """\
def elapsed(start, end):
    return start - end
""",
        """\
from app.prog import elapsed


def test_elapsed():
    assert elapsed(10, 25) == 15
""",
        """\
from app.prog import elapsed


def test_zero():
    assert elapsed(4, 4) == 0


def test_large():
    assert elapsed(100, 1000) == 900
""",
    ),
    Program(
        "pad",
        """\
def pad(text, width):
    return text.rjust(width)


def label(name, width):
    return pad(width, name)
""",
        """\
from app.prog import label, pad


def test_pad():
    assert pad("ab", 4) == "  ab"


def test_label():
    assert label("x", 3) == "  x"
""",
        """\
from app.prog import label


def test_exact():
    assert label("abc", 3) == "abc"


def test_wide():
    assert label("hi", 6) == "    hi"
""",
    ),
    Program(
        "power",
        """\
def power(base, exponent):
    result = 1
    for _ in range(exponent):
        result *= base
    return result


def cube(value):
    return power(3, value)
""",
        """\
from app.prog import cube, power


def test_power():
    assert power(2, 3) == 8


def test_cube():
    assert cube(2) == 8
""",
        """\
from app.prog import cube


def test_cube_of_one():
    assert cube(1) == 1


def test_cube_of_four():
    assert cube(4) == 64
""",
    ),
]
