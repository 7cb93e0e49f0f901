"""Calls whose arguments no longer match the definition, from the TypeError they raise."""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from patches.context import parse_source
from patches.repair.sources import FunctionInfo

MIN_SIMILARITY = 0.8  # difflib ratio a keyword must reach to be renamed

_EXTRA = re.compile(
    r"(?P<function>[\w.]+)\(\) takes (?:from \d+ to )?(?P<expected>\d+) positional "
    r"arguments? but (?P<given>\d+) (?:were|was) given"
)
_MISSING = re.compile(
    r"(?P<function>[\w.]+)\(\) missing \d+ required (?:positional|keyword-only) "
    r"arguments?: (?P<names>.+)"
)
_KEYWORD = re.compile(
    r"(?P<function>[\w.]+)\(\) got an unexpected keyword argument '(?P<keyword>\w+)'"
)


@dataclass(frozen=True)
class CallProblem:
    function: str  # as the message names it: "total" or "Cart.add"
    kind: str  # "extra", "missing" or "keyword"
    missing: tuple[str, ...] = ()
    keyword: str = ""


def parse_call_error(message: str) -> CallProblem | None:
    """Parse a TypeError message about a call's arguments; None for any other TypeError."""
    if match := _EXTRA.search(message):
        return CallProblem(match.group("function"), "extra")
    if match := _MISSING.search(message):
        names = tuple(re.findall(r"'(\w+)'", match.group("names")))
        return CallProblem(match.group("function"), "missing", missing=names)
    if match := _KEYWORD.search(message):
        return CallProblem(match.group("function"), "keyword", keyword=match.group("keyword"))
    return None


def fix_call(
    source: str, line: int, problem: CallProblem, definition: FunctionInfo
) -> list[tuple[str, str]]:
    """Return (change, new source) pairs that fit the call on ``line`` to ``definition``.

    Raises EditError when the source does not parse.
    """
    wrapper = MetadataWrapper(parse_source(source), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    short = problem.function.split(".")[-1]
    found = [
        node
        for node, span in positions.items()
        if isinstance(node, cst.Call) and span.start.line == line and _callee(node) == short
    ]
    if len(found) != 1 or any(arg.star for arg in found[0].args):
        return []
    call = found[0]
    bound = definition.is_method and isinstance(call.func, cst.Attribute)

    if problem.kind == "extra":
        changes = _extra_arguments(call, definition, bound)
    elif problem.kind == "missing":
        changes = _missing_arguments(call, problem.missing, _visible_names(source, line))
    else:
        changes = _misspelled_keyword(call, problem.keyword, definition)
    return [(change, wrapper.module.deep_replace(call, new).code) for change, new in changes]


def _extra_arguments(
    call: cst.Call, definition: FunctionInfo, bound: bool
) -> list[tuple[str, cst.Call]]:
    positional = [arg for arg in call.args if arg.keyword is None]
    allowed = len(definition.positional) - (1 if bound else 0)
    extras = positional[allowed:]
    if not extras or definition.has_varargs:
        return []
    passed = {arg.keyword.value for arg in call.args if arg.keyword is not None}
    free = [name for name in definition.keyword_only if name not in passed]
    if len(free) >= len(extras):
        renamed = {id(arg): name for arg, name in zip(extras, free, strict=False)}
        args = [
            arg.with_changes(
                keyword=cst.Name(renamed[id(arg)]),
                equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""),
                    whitespace_after=cst.SimpleWhitespace(""),
                ),
            )
            if id(arg) in renamed
            else arg
            for arg in call.args
        ]
        names = ", ".join(free[: len(extras)])
        return [(f"Pass {names} by keyword to {_callee(call)}()", call.with_changes(args=args))]
    kept = [arg for arg in call.args if arg not in extras]
    return [(f"Drop {len(extras)} extra argument(s) of {_callee(call)}()", _with_args(call, kept))]


def _missing_arguments(
    call: cst.Call, missing: tuple[str, ...], visible: set[str]
) -> list[tuple[str, cst.Call]]:
    if not missing or not set(missing) <= visible:
        return []
    added = [
        cst.Arg(
            value=cst.Name(name),
            keyword=cst.Name(name),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
        for name in missing
    ]
    names = ", ".join(f"{name}={name}" for name in missing)
    return [(f"Pass {names} to {_callee(call)}()", _with_args(call, [*call.args, *added]))]


def _misspelled_keyword(
    call: cst.Call, keyword: str, definition: FunctionInfo
) -> list[tuple[str, cst.Call]]:
    passed = {arg.keyword.value for arg in call.args if arg.keyword is not None}
    choices = [n for n in (*definition.positional, *definition.keyword_only) if n not in passed]
    scores = {name: difflib.SequenceMatcher(None, keyword, name).ratio() for name in choices}
    best = max(scores.values(), default=0.0)
    winners = [name for name, score in scores.items() if score == best]
    if best < MIN_SIMILARITY or len(winners) != 1:
        return []
    args = [
        arg.with_changes(keyword=cst.Name(winners[0]))
        if arg.keyword is not None and arg.keyword.value == keyword
        else arg
        for arg in call.args
    ]
    change = f"Rename keyword `{keyword}` to `{winners[0]}` in the call to {_callee(call)}()"
    return [(change, call.with_changes(args=args))]


def _with_args(call: cst.Call, args: list[cst.Arg]) -> cst.Call:
    """Return ``call`` with ``args``, commas between them and none after the last."""
    fixed = []
    for index, arg in enumerate(args):
        last = index == len(args) - 1
        comma = (
            cst.MaybeSentinel.DEFAULT
            if last
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
        fixed.append(arg.with_changes(comma=comma))
    return call.with_changes(args=fixed)


def _callee(call: cst.Call) -> str | None:
    if isinstance(call.func, cst.Name):
        return call.func.value
    if isinstance(call.func, cst.Attribute):
        return call.func.attr.value
    return None


def _visible_names(source: str, line: int) -> set[str]:
    """Return the names bound in the function around ``line`` and at module level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    scopes: list[ast.AST] = [tree]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.lineno <= line <= (node.end_lineno or 0):
            scopes.append(node)
            names |= {
                a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            }
    for scope in scopes:
        for node in ast.walk(scope) if scope is not tree else tree.body:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            if isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names
