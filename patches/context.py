"""Code context read with libcst: enclosing symbols, their source and the names a module binds.

Qualified names are the dotted path of the enclosing classes and functions,
such as ``"Cart.total"`` for a method or ``"outer.inner"`` for a nested
function. Unlike ``__qualname__`` they leave out ``<locals>``.
Every function raises :class:`~patches.errors.EditError` on source that libcst
cannot parse, and ``path`` only labels that error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from patches.errors import EditError

_Definition = cst.FunctionDef | cst.ClassDef


@dataclass(frozen=True)
class ClassInfo:
    """The attribute names a class defines in its own source, and the names of its bases."""

    name: str
    bases: tuple[str, ...]  # base classes written as plain or dotted names, last part only
    class_names: frozenset[str]  # methods, nested classes and class-level assignments
    instance_names: frozenset[str]  # names assigned as ``self.name`` inside its methods


def parse_source(source: str, path: str = "<source>") -> cst.Module:
    """Parse ``source`` with libcst, raising EditError that names the file and line on failure."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        line, detail = _syntax_error_place(source, path, error)
        raise EditError(f"{path} does not parse at line {line}: {detail}") from error


def _syntax_error_place(source: str, path: str, error: cst.ParserSyntaxError) -> tuple[int, str]:
    """Return the line and description of a syntax error, from CPython's compiler when it agrees.

    libcst's native parser sometimes reports the line after the faulty one
    (after an unclosed bracket, for example), while ``compile()`` points at it.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as syntax_error:
        if syntax_error.lineno is not None:
            return syntax_error.lineno, syntax_error.msg
    except ValueError:
        pass  # null bytes, which libcst's own report covers
    detail = error.message.splitlines()[0] if error.message else "invalid syntax"
    detail = re.sub(r"^parser error: error at \d+:\d+: ", "", detail)
    if len(detail) > 120:
        detail = detail[:117] + "..."
    return error.raw_line, detail


def enclosing_symbol(source: str, line: int, path: str = "<source>") -> str | None:
    """Return the qualified name of the innermost function or class containing ``line``.

    A definition spans from its first decorator to the end of its body.
    Returns None when the line is at module level or outside the file.
    """
    best: str | None = None
    for qualified_name, _node, span in _definitions(source, path):
        start, end = span
        # Definitions come outermost first, so a later match is nested deeper.
        if start <= line <= end:
            best = qualified_name
    return best


def symbol_source(source: str, qualified_name: str, path: str = "<source>") -> str | None:
    """Return the text of the def or class named ``qualified_name``, decorators included.

    The text is sliced from the file, so it keeps its original indentation and
    can be quoted exactly. When the name is defined more than once (a property
    setter, a redefinition), the last definition is returned, because it is the
    one Python binds. Returns None when nothing has that name.
    """
    found: tuple[int, int] | None = None
    for name, _node, span in _definitions(source, path):
        if name == qualified_name:
            found = span
    if found is None:
        return None
    lines = source.splitlines(keepends=True)
    start, end = found
    return "".join(lines[start - 1 : end])


def symbol_span(source: str, qualified_name: str, path: str = "<source>") -> tuple[int, int] | None:
    """Return the first and last line (1-based) of the last definition named ``qualified_name``."""
    found: tuple[int, int] | None = None
    for name, _node, span in _definitions(source, path):
        if name == qualified_name:
            found = span
    return found


def defined_names(source: str, path: str = "<source>") -> set[str]:
    """Return every name the module binds at any depth.

    That covers defs, classes, parameters, type parameters, assignment,
    loop, ``with``, ``except`` and ``match`` targets, walrus targets, imports
    (the first part of ``import a.b``) and ``global``/``nonlocal`` names.
    """
    collector = _NameCollector(top_level_only=False)
    parse_source(source, path).visit(collector)
    return collector.names


def module_names(source: str, path: str = "<source>") -> set[str]:
    """Return the names a module binds at its top level, which become its attributes."""
    collector = _NameCollector(top_level_only=True)
    parse_source(source, path).visit(collector)
    return collector.names


def find_class(source: str, class_name: str, path: str = "<source>") -> ClassInfo | None:
    """Return what the class ``class_name`` defines, or None when the module has no such class.

    A top-level class wins over a nested class of the same name.
    """
    matches = [
        node
        for name, node, _span in _definitions(source, path)
        if isinstance(node, cst.ClassDef) and name.split(".")[-1] == class_name
    ]
    if not matches:
        return None
    node = matches[0]

    class_level = _NameCollector(top_level_only=True)
    for statement in node.body.body:
        statement.visit(class_level)
    instance = _SelfAttributeCollector()
    node.body.visit(instance)
    bases = tuple(_last_name_part(base.value) for base in node.bases if base.keyword is None)
    return ClassInfo(
        name=class_name,
        bases=tuple(base for base in bases if base),
        class_names=frozenset(class_level.names),
        instance_names=frozenset(instance.names),
    )


def _definitions(source: str, path: str) -> list[tuple[str, _Definition, tuple[int, int]]]:
    """List every def and class, outermost first, with qualified name and line span."""
    wrapper = MetadataWrapper(parse_source(source, path), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    collector = _DefinitionCollector(positions)
    wrapper.module.visit(collector)
    return collector.definitions


class _DefinitionCollector(cst.CSTVisitor):
    def __init__(self, positions: object) -> None:
        self._positions = positions
        self._stack: list[str] = []
        self.definitions: list[tuple[str, _Definition, tuple[int, int]]] = []

    def _enter(self, node: _Definition) -> None:
        self._stack.append(node.name.value)
        code_range: CodeRange = self._positions[node]  # type: ignore[index]
        start = code_range.start.line
        for decorator in node.decorators:
            start = min(start, self._positions[decorator].start.line)  # type: ignore[index]
        self.definitions.append((".".join(self._stack), node, (start, code_range.end.line)))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._enter(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._stack.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._enter(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._stack.pop()


class _AssignmentVisitor(cst.CSTVisitor):
    """Hand every assignment target to ``_add_target``; subclasses decide what it binds."""

    def _add_target(self, target: cst.BaseExpression) -> None:
        raise NotImplementedError

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._add_target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._add_target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._add_target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._add_target(node.target)


class _NameCollector(_AssignmentVisitor):
    """Collect bound names, staying out of function and class bodies with ``top_level_only``."""

    def __init__(self, top_level_only: bool) -> None:
        self._top_level_only = top_level_only
        self.names: set[str] = set()

    def _add_target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.names.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._add_target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._add_target(target.value)
        # Attributes and subscripts bind no new name.

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return not self._top_level_only

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return not self._top_level_only

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return not self._top_level_only

    def visit_CompFor(self, node: cst.CompFor) -> bool:
        # Comprehension targets are local to the comprehension since Python 3.
        if self._top_level_only:
            return False
        self._add_target(node.target)
        return True

    def visit_Param(self, node: cst.Param) -> None:
        self.names.add(node.name.value)

    def visit_TypeVar(self, node: cst.TypeVar) -> None:
        self.names.add(node.name.value)

    def visit_TypeVarTuple(self, node: cst.TypeVarTuple) -> None:
        self.names.add(node.name.value)

    def visit_ParamSpec(self, node: cst.ParamSpec) -> None:
        self.names.add(node.name.value)

    def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
        self.names.add(node.name.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add_target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        # Covers ``with ... as x``, ``except E as x`` and ``import a as x``.
        self._add_target(node.name)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            if alias.asname is None:
                # ``import a.b`` binds ``a``.
                self.names.add(_dotted_name(alias.name).split(".")[0])

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            if alias.asname is None:
                self.names.add(_dotted_name(alias.name))

    def visit_Global(self, node: cst.Global) -> None:
        self.names.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.names.update(item.name.value for item in node.names)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self.names.add(node.name.value)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self.names.add(node.name.value)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self.names.add(node.rest.value)


class _SelfAttributeCollector(_AssignmentVisitor):
    """Collect ``self.name`` assignment targets, where ``self`` is each method's first parameter."""

    def __init__(self) -> None:
        self._receivers: list[str | None] = []
        self.names: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params: Sequence[cst.Param] = [*node.params.posonly_params, *node.params.params]
        self._receivers.append(params[0].name.value if params else None)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._receivers.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False  # a nested class has its own instances

    def _add_target(self, target: cst.BaseExpression) -> None:
        receiver = self._receivers[-1] if self._receivers else None
        if (
            receiver is not None
            and isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == receiver
        ):
            self.names.add(target.attr.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._add_target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._add_target(target.value)


def _dotted_name(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr.value}"
    return ""


def _last_name_part(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Subscript):  # Generic[T], Base[int]
        node = node.value
    return _dotted_name(node).split(".")[-1]
