"""Mutation operators: small rewrites of one line that fix common logic bugs.

Every operator works on the libcst nodes that start on the target line, so
formatting and comments elsewhere stay as they are. An operator only
rearranges what the code already contains or uses a value derived from it
(a constant plus or minus one) or a neutral value (0, 1, None, an empty
collection, infinity). It never takes a value from a test.

    operator      rewrites                                      priority
    boundary      < <=, > >=, and a bound plus or minus one      0
    boolean       and / or, a negated or un-negated condition    1
    arithmetic    + -, * /, / //, // %, += -=                    1
    constant      an integer plus or minus one                   1
    comparison    < >=, < >, == !=, in / not in, is ==           2
    return        a missing return, an extra or early return     3
    initial       another neutral initial value                  3
    arguments     two adjacent arguments or operands swapped     3
    builtin       min / max, any / all                           3
    variable      another local variable of the function         4

A lower priority is tried first at lines of equal suspiciousness. A flipped
comparison comes after and/or and a negated condition because it passes weak
tests more often without being the fix; among flips, the negation (< to >=)
comes before the mirror (< to >).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import libcst as cst
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    MetadataWrapper,
    PositionProvider,
)

from patches.context import parse_source
from patches.errors import EditError


class Operator(enum.Enum):
    BOUNDARY = ("boundary", 0)
    BOOLEAN = ("boolean", 1)
    ARITHMETIC = ("arithmetic", 1)
    CONSTANT = ("constant", 1)
    COMPARISON = ("comparison", 2)
    RETURN = ("return", 3)
    INITIAL = ("initial", 3)
    ARGUMENTS = ("arguments", 3)
    BUILTIN = ("builtin", 3)
    VARIABLE = ("variable", 4)

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def priority(self) -> int:
        return self.value[1]


@dataclass(frozen=True)
class Mutant:
    """One rewrite of a file at one line."""

    operator: Operator
    line: int
    change: str  # what changed, for a person: "change `a < b` to `a <= b`"
    source: str  # the whole new file


class _Rewrite(NamedTuple):
    operator: Operator
    old: cst.CSTNode
    new: cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel
    change: str = ""  # set when ``new`` is a sentinel, which has no code to show


_COMPARISONS: dict[type[cst.BaseCompOp], str] = {
    cst.LessThan: "<",
    cst.LessThanEqual: "<=",
    cst.GreaterThan: ">",
    cst.GreaterThanEqual: ">=",
    cst.Equal: "==",
    cst.NotEqual: "!=",
    cst.Is: "is",
    cst.IsNot: "is not",
    cst.In: "in",
    cst.NotIn: "not in",
}
_COMPARISON_BY_TEXT = {text: kind for kind, text in _COMPARISONS.items()}
# The first replacement of each operator moves a boundary, the second negates
# it and the third mirrors it.
_COMPARISON_SWAPS = {
    "<": ("<=", ">=", ">"),
    "<=": ("<", ">", ">="),
    ">": (">=", "<=", "<"),
    ">=": (">", "<", "<="),
    "==": ("!=", "is"),
    "!=": ("==", "is not"),
    "is": ("==", "is not"),
    "is not": ("!=", "is"),
    "in": ("not in",),
    "not in": ("in",),
}
_ARITHMETIC_SWAPS: dict[type[cst.BaseBinaryOp], tuple[type[cst.BaseBinaryOp], ...]] = {
    cst.Add: (cst.Subtract,),
    cst.Subtract: (cst.Add,),
    cst.Multiply: (cst.Divide, cst.FloorDivide),
    cst.Divide: (cst.FloorDivide, cst.Multiply),
    cst.FloorDivide: (cst.Divide, cst.Modulo),
    cst.Modulo: (cst.FloorDivide,),
    cst.Power: (cst.Multiply,),
}
_AUGMENTED_SWAPS: dict[type[cst.BaseAugOp], tuple[type[cst.BaseAugOp], ...]] = {
    cst.AddAssign: (cst.SubtractAssign,),
    cst.SubtractAssign: (cst.AddAssign,),
    cst.MultiplyAssign: (cst.DivideAssign, cst.FloorDivideAssign),
    cst.DivideAssign: (cst.FloorDivideAssign, cst.MultiplyAssign),
    cst.FloorDivideAssign: (cst.DivideAssign,),
}
_NON_COMMUTATIVE = (cst.Subtract, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power)
_BUILTIN_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}
_NEUTRAL_VALUES = ("0", "1", "None", "[]", '""', 'float("inf")', 'float("-inf")')
_SKIPPED_NAMES = frozenset({"self", "cls", "True", "False", "None"})


def mutate_line(source: str, line: int, path: str = "<source>") -> list[Mutant]:
    """Return the mutants of ``source`` at ``line``, cheapest operators first.

    Raises EditError when the source does not parse.
    """
    wrapper = MetadataWrapper(parse_source(source, path), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    contexts = wrapper.resolve(ExpressionContextProvider)
    module = wrapper.module
    on_line = [node for node, span in positions.items() if span.start.line == line]
    function = _enclosing_function(positions, line)

    # Two operators can make the same text, as a bound and a constant do;
    # the one that ranks first names it.
    by_text: dict[str, Mutant] = {}
    for rewrite in _rewrites(on_line, function, contexts, positions, line):
        text = module.deep_replace(rewrite.old, rewrite.new).code  # type: ignore[arg-type]
        known = by_text.get(text)
        if text == source or (known and known.operator.priority <= rewrite.operator.priority):
            continue
        old, new = _code(rewrite.old).strip(), _code(rewrite.new).strip()
        change = rewrite.change or f"change `{old}` to `{new}`"
        by_text[text] = Mutant(rewrite.operator, line, change, text)
    return sorted(by_text.values(), key=lambda mutant: mutant.operator.priority)


def _rewrites(
    on_line: list[cst.CSTNode],
    function: cst.FunctionDef | None,
    contexts: object,
    positions: object,
    line: int,
) -> Iterator[_Rewrite]:
    for node in on_line:
        yield from _comparison(node)
        yield from _arithmetic(node)
        yield from _boolean(node)
        yield from _bounds(node)
        yield from _constant(node)
        yield from _initial_value(node)
        yield from _swapped(node)
        yield from _builtin(node)
    if function is not None:
        yield from _returns(function, on_line, positions, line)
        yield from _variables(function, on_line, contexts)


def _comparison(node: cst.CSTNode) -> Iterator[_Rewrite]:
    if not isinstance(node, cst.ComparisonTarget):
        return
    text = _COMPARISONS.get(type(node.operator))
    for index, replacement in enumerate(_COMPARISON_SWAPS.get(text or "", ())):
        kind = _COMPARISON_BY_TEXT[replacement]
        operator = kind(
            whitespace_before=node.operator.whitespace_before,
            whitespace_after=node.operator.whitespace_after,
        )
        is_boundary = index == 0 and text in ("<", "<=", ">", ">=")
        yield _Rewrite(
            Operator.BOUNDARY if is_boundary else Operator.COMPARISON,
            node,
            node.with_changes(operator=operator),
        )


def _arithmetic(node: cst.CSTNode) -> Iterator[_Rewrite]:
    if isinstance(node, cst.BinaryOperation):
        if _is_string(node.left) or _is_string(node.right):
            return  # string concatenation and formatting have no arithmetic twin
        for kind in _ARITHMETIC_SWAPS.get(type(node.operator), ()):
            operator = kind(
                whitespace_before=node.operator.whitespace_before,
                whitespace_after=node.operator.whitespace_after,
            )
            yield _Rewrite(Operator.ARITHMETIC, node, node.with_changes(operator=operator))
    if isinstance(node, cst.AugAssign):
        for kind in _AUGMENTED_SWAPS.get(type(node.operator), ()):
            operator = kind(
                whitespace_before=node.operator.whitespace_before,
                whitespace_after=node.operator.whitespace_after,
            )
            yield _Rewrite(Operator.ARITHMETIC, node, node.with_changes(operator=operator))


def _boolean(node: cst.CSTNode) -> Iterator[_Rewrite]:
    if isinstance(node, cst.BooleanOperation):
        swapped = cst.Or if isinstance(node.operator, cst.And) else cst.And
        operator = swapped(
            whitespace_before=node.operator.whitespace_before,
            whitespace_after=node.operator.whitespace_after,
        )
        yield _Rewrite(Operator.BOOLEAN, node, node.with_changes(operator=operator))
    if isinstance(node, (cst.If, cst.While, cst.IfExp)):
        yield _Rewrite(Operator.BOOLEAN, node.test, _negated(node.test))


_COMPLEMENTS = {
    "<": ">=",
    ">=": "<",
    ">": "<=",
    "<=": ">",
    "==": "!=",
    "!=": "==",
    "is": "is not",
    "is not": "is",
    "in": "not in",
    "not in": "in",
}


def _negated(test: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return test.expression.with_changes(lpar=(), rpar=())
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        # "a >= b" reads better than "not a < b" and means the same.
        target = test.comparisons[0]
        kind = _COMPARISON_BY_TEXT[_COMPLEMENTS[_COMPARISONS[type(target.operator)]]]
        operator = kind(
            whitespace_before=target.operator.whitespace_before,
            whitespace_after=target.operator.whitespace_after,
        )
        return test.with_changes(comparisons=[target.with_changes(operator=operator)])
    if isinstance(test, (cst.BooleanOperation, cst.IfExp, cst.NamedExpr)) and not test.lpar:
        test = test.with_changes(lpar=(cst.LeftParen(),), rpar=(cst.RightParen(),))
    return cst.UnaryOperation(operator=cst.Not(), expression=test)


def _bounds(node: cst.CSTNode) -> Iterator[_Rewrite]:
    """Move the ends of ranges, slices and indexes by one."""
    ends: list[cst.BaseExpression] = []
    if isinstance(node, cst.Call) and _called_name(node) == "range":
        ends = [arg.value for arg in node.args if arg.keyword is None]
    elif isinstance(node, cst.Slice):
        ends = [end for end in (node.lower, node.upper) if end is not None]
    elif isinstance(node, cst.Index):
        ends = [node.value]
    for end in ends:
        if isinstance(end, cst.Integer):
            continue  # the constant operator moves literal bounds
        if _is_plus_minus_one(end):
            yield _Rewrite(Operator.BOUNDARY, end, end.left.with_changes(lpar=(), rpar=()))
            continue
        if _is_plus_minus_constant(end):
            # len(x) - 2 becomes len(x) - 1 and len(x) - 3, not (len(x) - 2) + 1.
            value = int(end.right.value)
            for shifted_value in (value - 1, value + 1):
                shifted = end.with_changes(right=cst.Integer(str(shifted_value)))
                yield _Rewrite(Operator.BOUNDARY, end, shifted)
            continue
        for kind in (cst.Subtract, cst.Add):
            shifted = cst.BinaryOperation(
                left=_parenthesised(end),
                operator=kind(
                    whitespace_before=cst.SimpleWhitespace(" "),
                    whitespace_after=cst.SimpleWhitespace(" "),
                ),
                right=cst.Integer("1"),
            )
            yield _Rewrite(Operator.BOUNDARY, end, shifted)


def _constant(node: cst.CSTNode) -> Iterator[_Rewrite]:
    if not isinstance(node, cst.Integer):
        return
    try:
        value = int(node.value.replace("_", ""), 0)
    except ValueError:
        return
    for shifted in (value + 1, value - 1):
        if shifted >= 0:
            yield _Rewrite(Operator.CONSTANT, node, node.with_changes(value=str(shifted)))


def _initial_value(node: cst.CSTNode) -> Iterator[_Rewrite]:
    """Replace a literal assigned to a plain name with another neutral value."""
    if not isinstance(node, (cst.Assign, cst.AnnAssign)) or node.value is None:
        return
    value = node.value
    literal = _code(value).strip()
    if not _is_literal(value):
        return
    if literal in ("True", "False"):
        yield _Rewrite(Operator.INITIAL, value, cst.Name("False" if literal == "True" else "True"))
        return  # a flag starts as one of the two
    for text in _NEUTRAL_VALUES:
        if text != literal and not (literal.isdigit() and text.isdigit()):
            yield _Rewrite(Operator.INITIAL, value, cst.parse_expression(text))


def _swapped(node: cst.CSTNode) -> Iterator[_Rewrite]:
    if isinstance(node, cst.Call):
        positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
        for first, second in zip(positional, positional[1:], strict=False):
            args = [
                arg.with_changes(value=second.value)
                if arg is first
                else arg.with_changes(value=first.value)
                if arg is second
                else arg
                for arg in node.args
            ]
            yield _Rewrite(Operator.ARGUMENTS, node, node.with_changes(args=args))
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _NON_COMMUTATIVE):
        yield _Rewrite(
            Operator.ARGUMENTS, node, node.with_changes(left=node.right, right=node.left)
        )


def _builtin(node: cst.CSTNode) -> Iterator[_Rewrite]:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
        other = _BUILTIN_SWAPS.get(node.func.value)
        if other is not None:
            yield _Rewrite(Operator.BUILTIN, node.func, node.func.with_changes(value=other))


def _returns(
    function: cst.FunctionDef, on_line: list[cst.CSTNode], positions: object, line: int
) -> Iterator[_Rewrite]:
    """Add a missing return, or remove or move out of its loop an early one."""
    for node in on_line:
        if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
            statement = node.body[0]
            if isinstance(statement, cst.Expr) and not _is_string(statement.value):
                returned = node.with_changes(body=[cst.Return(value=statement.value)])
                yield _Rewrite(Operator.RETURN, node, returned)
            if isinstance(statement, cst.Return) and not _is_last(function, node):
                yield _Rewrite(
                    Operator.RETURN, node, cst.RemoveFromParent(), "remove the early return"
                )
    yield from _move_return_out_of_loop(function, on_line)
    yield from _return_last_assignment(function, line, positions)


def _move_return_out_of_loop(
    function: cst.FunctionDef, on_line: list[cst.CSTNode]
) -> Iterator[_Rewrite]:
    returns = [
        node
        for node in on_line
        if isinstance(node, cst.SimpleStatementLine) and isinstance(node.body[0], cst.Return)
    ]
    if not returns:
        return
    for loop in _loops_of(function):
        body = list(loop.body.body)
        if body and body[-1] in returns and len(body) > 1:
            moved = loop.with_changes(body=loop.body.with_changes(body=body[:-1]))
            change = "move the return out of its loop"
            yield _Rewrite(Operator.RETURN, loop, cst.FlattenSentinel([moved, body[-1]]), change)


def _return_last_assignment(
    function: cst.FunctionDef, line: int, positions: object
) -> Iterator[_Rewrite]:
    """Return the last assigned name when the function ends without a return."""
    body = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []
    if not body or _contains_return(body[-1]):
        return
    span = positions[body[-1]]  # type: ignore[index]
    if not span.start.line <= line <= span.end.line and not _contains_line(body, line, positions):
        return
    name = _last_assigned_name(body)
    if name is None:
        return
    statement = cst.SimpleStatementLine(body=[cst.Return(value=cst.Name(name))])
    change = f"add `return {name}` at the end of the function"
    yield _Rewrite(Operator.RETURN, body[-1], cst.FlattenSentinel([body[-1], statement]), change)


def _variables(
    function: cst.FunctionDef, on_line: list[cst.CSTNode], contexts: object
) -> Iterator[_Rewrite]:
    """Replace a local variable read on the line with another local of the same function."""
    local_names = _local_names(function)
    excluded = {id(node.attr) for node in on_line if isinstance(node, cst.Attribute)}
    excluded |= {id(node.keyword) for node in on_line if isinstance(node, cst.Arg) and node.keyword}
    for node in on_line:
        if not isinstance(node, cst.Name) or id(node) in excluded:
            continue
        if contexts.get(node) is not ExpressionContext.LOAD:  # type: ignore[attr-defined]
            continue
        if node.value not in local_names:
            continue
        for other in sorted(local_names - {node.value}):
            yield _Rewrite(Operator.VARIABLE, node, node.with_changes(value=other))


def _local_names(function: cst.FunctionDef) -> set[str]:
    names = {param.name.value for param in function.params.params}
    names |= {param.name.value for param in function.params.kwonly_params}

    class Collector(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            if isinstance(node.target, cst.Name):
                names.add(node.target.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if isinstance(node.target, cst.Name):
                names.add(node.target.value)

        def visit_For(self, node: cst.For) -> None:
            if isinstance(node.target, cst.Name):
                names.add(node.target.value)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function  # a nested function has its own locals

    function.visit(Collector())
    return names - _SKIPPED_NAMES


def _enclosing_function(positions: object, line: int) -> cst.FunctionDef | None:
    best: tuple[int, cst.FunctionDef] | None = None
    for node, span in positions.items():  # type: ignore[attr-defined]
        if isinstance(node, cst.FunctionDef) and span.start.line <= line <= span.end.line:
            if best is None or span.start.line > best[0]:
                best = (span.start.line, node)
    return best[1] if best else None


def _loops_of(function: cst.FunctionDef) -> list[cst.For | cst.While]:
    loops: list[cst.For | cst.While] = []

    class Collector(cst.CSTVisitor):
        def visit_For(self, node: cst.For) -> None:
            loops.append(node)

        def visit_While(self, node: cst.While) -> None:
            loops.append(node)

    function.visit(Collector())
    return loops


def _is_last(function: cst.FunctionDef, statement: cst.CSTNode) -> bool:
    body = function.body.body if isinstance(function.body, cst.IndentedBlock) else ()
    return bool(body) and body[-1] is statement


def _contains_return(node: cst.CSTNode) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Return(self, node: cst.Return) -> None:
            nonlocal found
            found = True

        def visit_Raise(self, node: cst.Raise) -> None:
            nonlocal found
            found = True

    node.visit(Finder())
    return found


def _contains_line(body: list[cst.CSTNode], line: int, positions: object) -> bool:
    return any(
        positions[node].start.line <= line <= positions[node].end.line  # type: ignore[index]
        for node in body
    )


def _last_assigned_name(body: list[cst.BaseStatement]) -> str | None:
    for statement in reversed(body):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
                    return small.targets[0].target.value
                if isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(
                    small.target, cst.Name
                ):
                    return small.target.value
        if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name):
            continue
    return None


def _is_plus_minus_constant(node: cst.BaseExpression) -> bool:
    return (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, (cst.Add, cst.Subtract))
        and isinstance(node.right, cst.Integer)
        and node.right.value.isdigit()
    )


def _is_plus_minus_one(node: cst.BaseExpression) -> bool:
    return (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, (cst.Add, cst.Subtract))
        and isinstance(node.right, cst.Integer)
        and node.right.value == "1"
    )


def _parenthesised(node: cst.BaseExpression) -> cst.BaseExpression:
    simple = (cst.Name, cst.Integer, cst.Call, cst.Attribute, cst.Subscript)
    if isinstance(node, simple) or node.lpar:
        return node
    return node.with_changes(lpar=(cst.LeftParen(),), rpar=(cst.RightParen(),))


def _called_name(node: cst.Call) -> str | None:
    return node.func.value if isinstance(node.func, cst.Name) else None


def _is_string(node: cst.CSTNode) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


def _is_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    if isinstance(node, (cst.List, cst.Dict, cst.Tuple, cst.Set)):
        return not node.elements
    return False


def _code(node: cst.CSTNode) -> str:
    if isinstance(node, (cst.RemovalSentinel, cst.FlattenSentinel)):
        return ""
    return cst.Module(body=[]).code_for_node(node)


def parse_or_none(source: str, path: str) -> cst.Module | None:
    """Parse ``source``; return None when it does not parse."""
    try:
        return parse_source(source, path)
    except EditError:
        return None
