"""A call whose arguments no longer match the function's definition (TypeError)."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "keyword_only",
        """\
def greet(name, *, punctuation):
    return "Hello, " + name + punctuation


def welcome(name):
    return greet(name, "!")
""",
        """\
from app.prog import welcome


def test_welcome():
    assert welcome("Ada") == "Hello, Ada!"
""",
        """\
from app.prog import welcome


def test_other():
    assert welcome("Bo") == "Hello, Bo!"
""",
    ),
    Program(
        "missing_argument",
        """\
def convert(amount, rate):
    return round(amount * rate, 2)


def convert_all(amounts, rate):
    return [convert(amount) for amount in amounts]
""",
        """\
from app.prog import convert_all


def test_convert_all():
    assert convert_all([1, 2], 2) == [2, 4]
""",
        """\
from app.prog import convert_all


def test_fraction():
    assert convert_all([10], 0.5) == [5]


def test_empty():
    assert convert_all([], 3) == []
""",
    ),
    Program(
        "renamed_keyword",
        """\
def repeat(text, times=1):
    return text * times


def banner(text):
    return repeat(text, time=3)
""",
        """\
from app.prog import banner


def test_banner():
    assert banner("ab") == "ababab"
""",
        """\
from app.prog import banner


def test_empty():
    assert banner("") == ""
""",
    ),
]
