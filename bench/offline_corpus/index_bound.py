"""An index or loop bound one past the end (IndexError)."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "reverse",
        """\
def reverse(items):
    result = []
    for index in range(len(items), 0, -1):
        result.append(items[index])
    return result
""",
        """\
from app.prog import reverse


def test_reverse():
    assert reverse([1, 2, 3]) == [3, 2, 1]
""",
        """\
from app.prog import reverse


def test_empty():
    assert reverse([]) == []


def test_one():
    assert reverse(["a"]) == ["a"]
""",
    ),
    Program(
        "differences",
        """\
def differences(values):
    result = []
    for index in range(len(values)):
        result.append(values[index + 1] - values[index])
    return result
""",
        """\
from app.prog import differences


def test_differences():
    assert differences([1, 4, 9]) == [3, 5]
""",
        """\
from app.prog import differences


def test_single():
    assert differences([7]) == []


def test_flat():
    assert differences([2, 2, 2, 2]) == [0, 0, 0]
""",
    ),
    Program(
        "last_char",
        """\
def last_char(text):
    return text[len(text)]
""",
        """\
from app.prog import last_char


def test_last():
    assert last_char("abc") == "c"
""",
        """\
from app.prog import last_char


def test_one():
    assert last_char("z") == "z"
""",
    ),
    Program(
        "neighbour_max",
        """\
def neighbour_max(values):
    result = []
    index = 0
    while index <= len(values) - 1:
        result.append(max(values[index], values[index + 1]))
        index += 1
    return result
""",
        """\
from app.prog import neighbour_max


def test_three():
    assert neighbour_max([1, 5, 2]) == [5, 5]
""",
        """\
from app.prog import neighbour_max


def test_one():
    assert neighbour_max([4]) == []


def test_rising():
    assert neighbour_max([1, 2, 3, 4]) == [2, 3, 4]
""",
    ),
]
