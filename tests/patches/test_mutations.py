"""Mutation operators: each rewrites the bug of its kind and leaves other lines alone."""

from __future__ import annotations

import pytest

from patches.repair.mutations import Operator, mutate_line

CASES = [
    # (source, line, operator, expected line after the fix)
    ("def f(a, b):\n    return a < b\n", 2, Operator.BOUNDARY, "    return a <= b\n"),
    ("def f(a, b):\n    return a < b\n", 2, Operator.COMPARISON, "    return a > b\n"),
    ("def f(a):\n    return a is None\n", 2, Operator.COMPARISON, "    return a == None\n"),
    ("def f(a, b):\n    return a + b\n", 2, Operator.ARITHMETIC, "    return a - b\n"),
    ("def f(a, b):\n    return a and b\n", 2, Operator.BOOLEAN, "    return a or b\n"),
    ("def f(a):\n    if not a:\n        return 1\n", 2, Operator.BOOLEAN, "    if a:\n"),
    ("def f(a):\n    if a < 2:\n        return 1\n", 2, Operator.BOOLEAN, "    if a >= 2:\n"),
    ("def f(a):\n    return a + 1\n", 2, Operator.CONSTANT, "    return a + 2\n"),
    (
        "def f(xs):\n    return xs[: len(xs)]\n",
        2,
        Operator.BOUNDARY,
        "    return xs[: len(xs) - 1]\n",
    ),
    (
        "def f(xs):\n    return [x for x in range(len(xs) + 1)]\n",
        2,
        Operator.BOUNDARY,
        "    return [x for x in range(len(xs))]\n",
    ),
    ("def f(a, b):\n    return g(a, b)\n", 2, Operator.ARGUMENTS, "    return g(b, a)\n"),
    ("def f(a, b):\n    return a - b\n", 2, Operator.ARGUMENTS, "    return b - a\n"),
    ("def f(a, b):\n    return a * a\n", 2, Operator.VARIABLE, "    return a * b\n"),
    ("def f(xs):\n    return max(xs)\n", 2, Operator.BUILTIN, "    return min(xs)\n"),
    ("def f(xs):\n    total = 0\n    return total\n", 2, Operator.INITIAL, "    total = None\n"),
    ("def f(n):\n    n * 2\n", 2, Operator.RETURN, "    return n * 2\n"),
    (
        "def f(xs):\n    return range(len(xs) - 2)\n",
        2,
        Operator.BOUNDARY,
        "    return range(len(xs) - 1)\n",
    ),
    ("def f(xs):\n    seen = True\n    return seen\n", 2, Operator.INITIAL, "    seen = False\n"),
]


@pytest.mark.parametrize(("source", "line", "operator", "expected"), CASES)
def test_operator_fixes_its_bug(source: str, line: int, operator: Operator, expected: str) -> None:
    mutants = [m for m in mutate_line(source, line) if m.operator is operator]

    rewritten = [m.source.splitlines(keepends=True)[line - 1] for m in mutants]
    assert expected in rewritten


@pytest.mark.parametrize(("source", "line", "operator", "expected"), CASES)
def test_operator_touches_only_its_line(
    source: str, line: int, operator: Operator, expected: str
) -> None:
    for mutant in mutate_line(source, line):
        before = source.splitlines()
        after = mutant.source.splitlines()
        if len(before) == len(after):
            changed = [i + 1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
            assert changed == [line], mutant.change


def test_early_return_moves_out_of_loop() -> None:
    source = (
        "def total(xs):\n"
        "    result = 0\n"
        "    for x in xs:\n"
        "        result += x\n"
        "        return result\n"
    )
    fixed = (
        "def total(xs):\n    result = 0\n    for x in xs:\n        result += x\n    return result\n"
    )

    sources = [m.source for m in mutate_line(source, 5) if m.operator is Operator.RETURN]

    assert fixed in sources


def test_missing_final_return_added() -> None:
    source = "def clean(name):\n    cleaned = name.strip()\n"

    sources = [m.source for m in mutate_line(source, 2) if m.operator is Operator.RETURN]

    assert "def clean(name):\n    cleaned = name.strip()\n    return cleaned\n" in sources


def test_strings_not_mutated_arithmetically() -> None:
    source = 'def f(name):\n    return "Hello " + name\n'

    operators = {m.operator for m in mutate_line(source, 2)}

    assert Operator.ARITHMETIC not in operators


def test_attribute_names_not_swapped() -> None:
    source = "def f(self, size):\n    return self.size + size\n"

    changes = [m.change for m in mutate_line(source, 2) if m.operator is Operator.VARIABLE]

    assert all("self.size" not in change for change in changes)


def test_comments_kept() -> None:
    source = "def f(a, b):\n    # keep me\n    return a < b  # and me\n"

    for mutant in mutate_line(source, 3):
        assert "# keep me" in mutant.source
        assert "# and me" in mutant.source


def test_line_without_code_has_no_mutants() -> None:
    assert mutate_line("def f():\n\n    return 1\n", 2) == []
