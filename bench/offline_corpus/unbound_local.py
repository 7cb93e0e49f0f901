"""A local variable read before any assignment reaches it (UnboundLocalError)."""

from bench.offline_corpus import Program

PROGRAMS = [
    Program(
        "counter",
        """\
calls = 0


def record():
    calls += 1
    return calls
""",
        """\
from app.prog import record


def test_counts():
    first = record()
    assert record() == first + 1
""",
        """\
import app.prog


def test_global_updated():
    before = app.prog.calls
    app.prog.record()
    assert app.prog.calls == before + 1
""",
    ),
    Program(
        "branch_only",
        """\
def first_even(values):
    for value in values:
        if value % 2 == 0:
            found = value
            break
    return found
""",
        """\
from app.prog import first_even


def test_found():
    assert first_even([1, 4, 6]) == 4


def test_none():
    assert first_even([1, 3]) is None
""",
        """\
from app.prog import first_even


def test_empty():
    assert first_even([]) is None


def test_first():
    assert first_even([2]) == 2
""",
    ),
    Program(
        "running_total",
        """\
def running_totals(values):
    result = []
    for value in values:
        subtotal += value
        result.append(subtotal)
    return result
""",
        """\
from app.prog import running_totals


def test_totals():
    assert running_totals([1, 2, 3]) == [1, 3, 6]
""",
        """\
from app.prog import running_totals


def test_empty():
    assert running_totals([]) == []


def test_negative():
    assert running_totals([5, -5]) == [5, 0]
""",
    ),
]
