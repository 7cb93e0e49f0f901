"""Whole-function replacement with libcst.

A model often replies with the complete new version of one function. The
function is swapped in as a syntax tree node, so libcst re-indents it for its
place (a method keeps its class indentation), and the original's decorators
and the comments above it stay unless the reply brings decorators of its own.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from patches.context import parse_source
from patches.errors import EditError
from patches.nearest import nearest_window

_MIN_LOCATING_SCORE = 0.75  # similarity a SEARCH quote needs to locate its enclosing function


def parse_function(lines: list[str]) -> cst.FunctionDef | None:
    """Parse quoted lines as exactly one function definition, or return None."""
    text = textwrap.dedent("\n".join(lines)).strip("\n")
    if not text.lstrip().startswith(("def ", "async def ", "@")):
        return None
    try:
        module = cst.parse_module(text + "\n")
    except cst.ParserSyntaxError:
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], cst.FunctionDef):
        return None
    return module.body[0]


def replace_function(
    source: str, function: cst.FunctionDef, path: str, owner: str | None = None
) -> str:
    """Replace the only function of the same name in ``source`` with ``function``.

    ``owner`` restricts the search to the methods of that class. Raises
    EditError when the file has no such function or several (methods of
    different classes, for example), naming them.
    """
    found = _functions(source, path, function.name.value)
    if owner is not None:
        found = [item for item in found if item.qualified_name == f"{owner}.{function.name.value}"]
    if not found:
        raise EditError(
            f"{path} has no function named {function.name.value!r} to replace. Reply with "
            "SEARCH/REPLACE blocks, or with a function that exists in the file."
        )
    if len(found) > 1:
        names = ", ".join(item.qualified_name for item in found)
        raise EditError(
            f"{path} has {len(found)} functions named {function.name.value!r} ({names}), so the "
            "whole-function reply is ambiguous. Reply with SEARCH/REPLACE blocks instead."
        )
    return _swap(source, found[0].def_line, function, path)


def replace_enclosing_function(
    source: str, search: list[str], replace: list[str], path: str
) -> str | None:
    """Replace the function that SEARCH lies in when REPLACE parses as that whole function.

    Returns None when REPLACE is not one function or SEARCH does not lie
    inside exactly one function of that name.
    """
    function = parse_function(replace)
    if function is None:
        return None
    try:
        found = _functions(source, path, function.name.value)
    except EditError:
        return None
    source_lines = source.splitlines()
    window = nearest_window(source_lines, search, _MIN_LOCATING_SCORE)
    if window is None:
        return None
    start, end = window[0] + 1, window[1]
    enclosing = [item for item in found if item.first_line <= start and end <= item.last_line]
    if len(enclosing) != 1:
        return None
    return _swap(source, enclosing[0].def_line, function, path)


def function_names(source: str, path: str = "<source>") -> set[str]:
    """Return the qualified names of every function in ``source``, methods included."""
    return {item.qualified_name for item in _functions(source, path, None)}


@dataclass(frozen=True)
class _Found:
    """A function in the file: qualified name, the line of ``def`` and its span with decorators."""

    qualified_name: str
    def_line: int
    first_line: int
    last_line: int


def _functions(source: str, path: str, name: str | None) -> list[_Found]:
    """List the functions called ``name`` (every function for None), at any depth."""
    module = parse_source(source, path)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    collector = _FunctionCollector(name, positions)
    wrapper.module.visit(collector)
    return collector.found


def _swap(source: str, def_line: int, function: cst.FunctionDef, path: str) -> str:
    wrapper = MetadataWrapper(parse_source(source, path), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    swapper = _Swapper(function, positions, def_line)
    return wrapper.module.visit(swapper).code


class _FunctionCollector(cst.CSTVisitor):
    def __init__(self, name: str | None, positions: object) -> None:
        self._name = name
        self._positions = positions
        self._stack: list[str] = []
        self.found: list[_Found] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._stack.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._stack.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._stack.append(node.name.value)
        if self._name is None or node.name.value == self._name:
            span = self._positions[node]  # type: ignore[index]
            start = min(
                [span.start.line] + [self._positions[d].start.line for d in node.decorators]  # type: ignore[index]
            )
            name = ".".join(self._stack)
            self.found.append(_Found(name, span.start.line, start, span.end.line))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._stack.pop()


class _Swapper(cst.CSTTransformer):
    """Put ``function`` in place of the function whose ``def`` is on ``line``."""

    def __init__(self, function: cst.FunctionDef, positions: object, line: int) -> None:
        super().__init__()
        self._function = function
        self._positions = positions
        self._line = line

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        if self._positions[original_node].start.line != self._line:  # type: ignore[index]
            return updated_node
        decorators = self._function.decorators or original_node.decorators
        return self._function.with_changes(
            leading_lines=original_node.leading_lines, decorators=decorators
        )
