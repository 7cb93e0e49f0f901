"""Spotting patches that make a failing test pass without fixing the code it tests.

Two patterns are found here, on top of the counts kept by
:mod:`patches.guards` (skips, broad handlers, assertions):

- special-casing: the patch adds an ``if`` that compares a value with a
  literal taken from the failing test (``if price == 19.99:``) and returns
  from its body, so the test's own input gets a hard-coded answer;
- removed assertions: the patch deletes ``assert`` statements from code
  under test, so a failing check stops failing.

Small literals that base cases use everywhere (0, 1, -1, "", None, True,
False) never count as the test's values.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path, PurePosixPath

_COMMON_LITERALS = frozenset({0, 1, -1, "", None})
_COMPARISONS = (ast.Eq, ast.Is, ast.In)


def failing_test_literals(root: Path, test_ids: tuple[str, ...]) -> frozenset[object]:
    """Collect the literal values in the failing tests' functions (whole files as a fallback)."""
    values: set[object] = set()
    for test_id in test_ids:
        path, _, rest = test_id.partition("::")
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts:
            continue
        try:
            tree = ast.parse((root / path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        names = [part.split("[")[0] for part in rest.split("::") if part]
        scope = _find_function(tree, names) or tree
        values |= _constants(scope)
    return frozenset(values)


def special_cases(before: str, after: str, literals: frozenset[object]) -> list[str]:
    """Describe each added ``if`` that returns early for one of the test's literal values."""
    if not literals:
        return []
    try:
        after_tree = ast.parse(after)
    except SyntaxError:
        return []
    try:
        old_ifs = [node for node in ast.walk(ast.parse(before)) if isinstance(node, ast.If)]
        known = Counter(_if_key(node) for node in old_ifs)
    except SyntaxError:
        known = Counter()

    found = []
    for node in ast.walk(after_tree):
        if not isinstance(node, ast.If):
            continue
        key = _if_key(node)
        if known[key]:
            known[key] -= 1
            continue
        matched = _compared_literals(node.test) & literals
        returns = any(isinstance(child, ast.Return) for child in node.body)
        if matched and returns:
            shown = ", ".join(repr(value) for value in sorted(matched, key=repr))
            found.append(
                f"line {node.lineno} adds `if {ast.unparse(node.test)}`, which returns early for "
                f"the failing test's own input ({shown}). Fix the general computation instead."
            )
    return found


def removed_asserts(before: str, after: str) -> int:
    """Count the ``assert`` statements that ``after`` has fewer of than ``before``."""
    try:
        old = sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(before)))
        new = sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(after)))
    except SyntaxError:
        return 0
    return max(0, old - new)


def _find_function(tree: ast.AST, names: list[str]) -> ast.AST | None:
    scope: ast.AST = tree
    for name in names:
        children = getattr(scope, "body", [])
        match = next(
            (
                child
                for child in children
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and child.name == name
            ),
            None,
        )
        if match is None:
            return None
        scope = match
    return scope


def _constants(node: ast.AST) -> set[object]:
    values = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and _hashable(child.value):
            values.add(child.value)
        elif isinstance(child, ast.UnaryOp) and isinstance(child.op, ast.USub):
            operand = child.operand
            if isinstance(operand, ast.Constant) and isinstance(operand.value, int | float):
                values.add(-operand.value)
    return {value for value in values if value not in _COMMON_LITERALS}


def _compared_literals(test: ast.expr) -> set[object]:
    values: set[object] = set()
    for node in ast.walk(test):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, _COMPARISONS) for op in node.ops):
            continue
        for operand in [node.left, *node.comparators]:
            values |= _constants(operand)
    return values


def _if_key(node: ast.If) -> str:
    return ast.unparse(node.test) + "\n" + "\n".join(ast.unparse(child) for child in node.body)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
