"""A boundary that includes or excludes one value too many."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "grade",
        """\
def grade(score):
    if score > 90:
        return "A"
    if score >= 75:
        return "B"
    return "C"
""",
        """\
from app.prog import grade


def test_b():
    assert grade(80) == "B"


def test_top():
    assert grade(90) == "A"
""",
        """\
from app.prog import grade


def test_c():
    assert grade(10) == "C"


def test_high():
    assert grade(99) == "A"


def test_just_below():
    assert grade(89) == "B"
""",
    ),
    Program(
        "shipping",
        """\
def shipping(total):
    if total > 50:
        return 0
    return 5
""",
        """\
from app.prog import shipping


def test_small_order():
    assert shipping(10) == 5


def test_threshold_is_free():
    assert shipping(50) == 0
""",
        """\
from app.prog import shipping


def test_large_order():
    assert shipping(300) == 0


def test_just_under():
    assert shipping(49) == 5
""",
    ),
    Program(
        "in_window",
        """\
def in_window(value, low, high):
    return low < value <= high
""",
        """\
from app.prog import in_window


def test_inside():
    assert in_window(5, 1, 9)


def test_low_end_included():
    assert in_window(1, 1, 9)
""",
        """\
from app.prog import in_window


def test_high_end_included():
    assert in_window(9, 1, 9)


def test_outside():
    assert not in_window(0, 1, 9)
""",
    ),
    Program(
        "retry_allowed",
        """\
def retry_allowed(attempt, limit):
    return attempt <= limit
""",
        """\
from app.prog import retry_allowed


def test_first_attempt():
    assert retry_allowed(0, 3)


def test_limit_reached():
    assert not retry_allowed(3, 3)
""",
        """\
from app.prog import retry_allowed


def test_below_limit():
    assert retry_allowed(2, 3)


def test_far_beyond():
    assert not retry_allowed(7, 2)
""",
    ),
]
