"""A misspelled or unimported name, attribute or module (NameError, AttributeError, ImportError)."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "import_helper",
        """\
def describe(price):
    return "costs " + money(price)
""",
        """\
from app.prog import describe


def test_describe():
    assert describe(3) == "costs 3.00 EUR"
""",
        """\
from app.prog import describe


def test_fraction():
    assert describe(2.5) == "costs 2.50 EUR"
""",
        other_files=(("app/formatting.py", 'def money(value):\n    return f"{value:.2f} EUR"\n'),),
    ),
    Program(
        "misspelled_local",
        """\
def mean(values):
    total = sum(values)
    return totl / len(values)
""",
        """\
from app.prog import mean


def test_mean():
    assert mean([1, 3]) == 2
""",
        """\
from app.prog import mean


def test_single():
    assert mean([5]) == 5
""",
    ),
    Program(
        "misspelled_method",
        """\
class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def peek(self):
        return self.items[-1]

    def top_two(self):
        return [self.peak(), self.items[-2]]
""",
        """\
from app.prog import Stack


def test_top_two():
    stack = Stack()
    stack.push(1)
    stack.push(2)
    assert stack.top_two() == [2, 1]
""",
        """\
from app.prog import Stack


def test_peek():
    stack = Stack()
    stack.push("a")
    assert stack.peek() == "a"
""",
    ),
    Program(
        "misspelled_module",
        """\
import colections


def tally(words):
    return dict(colections.Counter(words))
""",
        """\
from app.prog import tally


def test_tally():
    assert tally(["a", "b", "a"]) == {"a": 2, "b": 1}
""",
        """\
from app.prog import tally


def test_empty():
    assert tally([]) == {}
""",
    ),
    Program(
        "misspelled_import_name",
        """\
from app.units import to_metres


def height(feet):
    return round(to_metres(feet), 2)
""",
        """\
from app.prog import height


def test_height():
    assert height(10) == 3.05
""",
        """\
from app.prog import height


def test_zero():
    assert height(0) == 0
""",
        other_files=(("app/units.py", "def to_meters(feet):\n    return feet * 0.3048\n"),),
    ),
]
