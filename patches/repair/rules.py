"""Exception-driven rules: fixes derived from a traceback and the code it points at.

    exception                   rule
    NameError                   import the name from the one repository module defining it
    ImportError, ModuleNotFound a close module name (repository or standard library), or a
                                close name that the imported module defines
    TypeError from a call       match the call to the definition: extra positional arguments
                                become keyword-only ones or are dropped, a missing one is
                                passed from a same-named variable, a misspelled keyword is
                                renamed to a close parameter
    UnboundLocalError           ``global`` for a module-level name, else an initialisation
                                before the first block that assigns it
    IndexError, KeyError        the bound of the index or of its loop moved one step in

A rule reads only the traceback, the message and the code, never what the
test expects. The place is the innermost repository frame outside test code.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from patches.context import parse_source
from patches.diff import make_candidate
from patches.errors import EditError
from patches.guards import is_test_path
from patches.repair import calls
from patches.repair.messages import CANNOT_IMPORT, NAME_ERROR, NO_MODULE
from patches.repair.mutations import Operator, mutate_line
from patches.repair.sources import Repository
from patches.types import Candidate, RepairRequest

MIN_SIMILARITY = 0.8  # difflib ratio a replacement name must reach

_UNBOUND = re.compile(
    r"(?:local variable '(?P<old>\w+)' referenced before assignment)"
    r"|(?:cannot access local variable '(?P<new>\w+)')"
)


@dataclass(frozen=True)
class Site:
    """A line that a traceback frame points at, with the file's text."""

    path: str
    line: int
    function: str
    source: str


@dataclass(frozen=True)
class RuleOutcome:
    candidates: tuple[Candidate, ...] = ()
    reasons: tuple[str, ...] = ()  # why a matching rule made no candidate


def apply_rules(request: RepairRequest, root: Path, provider: str) -> RuleOutcome:
    """Run every rule that matches the request's exception; return candidates and reasons."""
    repository = Repository(root)
    sites = list(fault_sites(request, repository))
    candidates: list[Candidate] = []
    reasons: list[str] = []
    exc_type = request.exc_type or ""
    for rule in _RULES.get(exc_type, ()):
        found, why_not = rule(request, sites, repository, provider)
        candidates.extend(found)
        reasons.extend(why_not)
    return RuleOutcome(tuple(candidates), tuple(reasons))


_Found = tuple[list[Candidate], list[str]]


def import_from_repository(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> _Found:
    """Import an undefined name from the one repository module that defines it."""
    match = NAME_ERROR.search(request.message)
    if match is None or not sites:
        return [], []
    name, site = match.group("name"), sites[0]
    modules = [m for m in repository.modules_defining(name) if repository.path_of(m) != site.path]
    if len(modules) != 1:
        if len(modules) > 1:
            return [], [f"'{name}' is defined in several modules: {', '.join(modules)}"]
        return [], []
    statement = f"from {modules[0]} import {name}"
    after = insert_import_line(site.source, statement, set(repository.modules))
    summary = f"Add `{statement}` to {site.path} for its use at line {site.line}"
    return [make_candidate(provider, None, summary, {site.path: (site.source, after)})], []


def import_sites(sites: list[Site]) -> list[Site]:
    """Return the sites whose failing line is an import statement."""
    found = []
    for site in sites:
        text = site.source.splitlines()[site.line - 1] if site.line else ""
        if re.match(r"\s*(from|import)\b", text):
            found.append(site)
    return found


def misspelled_import(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> _Found:
    """Fix a misspelled module in an import, or a misspelled name imported from a module."""
    missing_name = CANNOT_IMPORT.search(request.message)
    missing_module = NO_MODULE.search(request.message)
    for site in import_sites(sites):
        if missing_name is not None:
            wrong = missing_name.group("name")
            choices = repository.names_of(missing_name.group("module"))
        elif missing_module is not None:
            wrong = missing_module.group("module")
            choices = repository.module_choices(wrong)
        else:
            return [], []
        best = closest(wrong.split(".")[-1] if missing_module else wrong, choices)
        if best is None:
            return [], [
                f"no module or name is close to '{wrong}' in the import at line {site.line}"
            ]
        fixed_name = best if missing_name else ".".join([*wrong.split(".")[:-1], best])
        after = replace_on_line(site.source, site.line, wrong, fixed_name)
        if after is None:
            continue
        if "." not in wrong:
            # The file uses the name it imports; the uses carry the same typo.
            after = rename_names(after, wrong, fixed_name)
        summary = f"Import `{fixed_name}` instead of `{wrong}` at {site.path}:{site.line}"
        return [make_candidate(provider, None, summary, {site.path: (site.source, after)})], []
    return [], []


def call_arity(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> _Found:
    """Match a call to its definition after a TypeError about its arguments."""
    problem = calls.parse_call_error(request.message)
    if problem is None:
        return [], []
    definition = repository.find_function(problem.function)
    if definition is None:
        return [], [f"the definition of {problem.function}() is not in the repository"]
    for site in sites:
        try:
            fixes = calls.fix_call(site.source, site.line, problem, definition)
        except EditError:
            continue
        if fixes:
            return [
                make_candidate(
                    provider,
                    None,
                    f"{change} at {site.path}:{site.line}",
                    {site.path: (site.source, after)},
                )
                for change, after in fixes
            ], []
    return [], [f"no call to {problem.function}() at a reported line can be matched to it"]


def unbound_local(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> _Found:
    """Declare a module-level name ``global``, or initialise a local before its first block."""
    match = _UNBOUND.search(request.message)
    if match is None or not sites:
        return [], []
    name = match.group("old") or match.group("new")
    site = sites[0]
    tree = _parse(site.source)
    function = _function_at(tree, site.line) if tree else None
    if tree is None or function is None:
        return [], []

    if name in _module_level_names(tree):
        after = _insert_statement(site.source, _first_body_statement(function), f"global {name}")
        summary = f"Declare `global {name}` in {function.name}() at {site.path}"
    else:
        first = _first_assigning_statement(function, name)
        if first is None:
            return [], [f"'{name}' is never assigned in {function.name}()"]
        value = "0" if _is_augmented(function, name) else "None"
        after = _insert_statement(site.source, first, f"{name} = {value}")
        summary = f"Initialise `{name} = {value}` before line {first.lineno} of {site.path}"
    return [make_candidate(provider, None, summary, {site.path: (site.source, after)})], []


def off_by_one_index(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> _Found:
    """Move an index, or the bound of the loop that produces it, one step in."""
    if request.exc_type == "KeyError" and not re.fullmatch(r"-?\d+", request.message.strip()):
        return [], []  # only integer keys have an off-by-one bound
    if not sites:
        return [], []
    site = sites[0]
    tree = _parse(site.source)
    function = _function_at(tree, site.line) if tree else None
    lines = [site.line]
    if function is not None:
        lines += _loop_headers_for(function, site.source, site.line)
    candidates = []
    for line in lines:
        try:
            mutants = mutate_line(site.source, line, site.path)
        except EditError:
            continue
        for mutant in mutants:
            if mutant.operator is Operator.BOUNDARY and _shrinks(mutant.change):
                change = mutant.change[:1].upper() + mutant.change[1:]
                summary = f"{change} at {site.path}:{line} (off-by-one bound)"
                changes = {site.path: (site.source, mutant.source)}
                candidates.append(make_candidate(provider, None, summary, changes))
    return candidates, [] if candidates else [f"no index bound to move at {site.path}:{site.line}"]


_RULES = {
    "NameError": (import_from_repository,),
    "ImportError": (misspelled_import,),
    "ModuleNotFoundError": (misspelled_import,),
    "TypeError": (call_arity,),
    "UnboundLocalError": (unbound_local,),
    "IndexError": (off_by_one_index,),
    "KeyError": (off_by_one_index,),
}


def closest(wrong: str, choices: set[str]) -> str | None:
    """Return the one name closest to ``wrong`` (difflib ratio of at least 0.8), else None."""
    scores = {
        name: difflib.SequenceMatcher(None, wrong, name).ratio()
        for name in choices
        if name != wrong
    }
    best = max(scores.values(), default=0.0)
    winners = [name for name, score in scores.items() if score == best]
    return winners[0] if best >= MIN_SIMILARITY and len(winners) == 1 else None


def insert_import_line(source: str, statement: str, first_party: set[str]) -> str:
    """Insert a first-party ``statement`` where an import sorter would accept it.

    It goes after the leading imports, in a section of its own unless the last
    of them is first-party too (a module of ``first_party``). Without imports
    it goes after the docstring or at the top, followed by the blank lines
    that the next statement needs.
    """
    tree = _parse(source)
    lines = source.splitlines(keepends=True)
    position, last_import, index = 0, None, 0
    body = tree.body if tree is not None else []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        position, index = body[0].end_lineno or 0, 1
    while index < len(body) and isinstance(body[index], (ast.Import, ast.ImportFrom)):
        position, last_import = body[index].end_lineno or position, body[index]
        index += 1

    head = lines[:position]
    if head and not head[-1].endswith("\n"):
        head[-1] += "\n"
    new = [statement + "\n"]
    if last_import is not None and _top_module(last_import) not in first_party:
        new.insert(0, "\n")
    elif last_import is None:
        if head:
            new.insert(0, "\n")
        rest = lines[position:]
        while rest and not rest[0].strip():
            rest = rest[1:]
        is_definition = index < len(body) and isinstance(
            body[index], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        )
        new += ["\n"] * (2 if is_definition else 1)
        return "".join([*head, *new, *rest])
    return "".join([*head, *new, *lines[position:]])


def rename_names(source: str, old: str, new: str) -> str:
    """Rename every name token ``old`` to ``new`` (not attributes, strings or comments)."""

    class Renamer(cst.CSTTransformer):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            return False  # the attribute's own name is not a use; its object is, below

        def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
            return updated.with_changes(value=original.value.visit(self))

        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
            return updated.with_changes(value=new) if updated.value == old else updated

    try:
        return parse_source(source).visit(Renamer()).code
    except EditError:
        return source


def _top_module(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.ImportFrom):
        return "" if node.level else (node.module or "").split(".")[0]
    return node.names[0].name.split(".")[0]


def fault_sites(request: RepairRequest, repository: Repository) -> Iterator[Site]:
    """Yield the lines to change, innermost repository frame outside test code first."""
    places = [
        (frame.path, frame.line, frame.function)
        for frame in reversed(request.frames)
        if frame.in_repository and not is_test_path(frame.path)
    ]
    if request.location is not None and not is_test_path(request.location.path):
        places.append((request.location.path, request.location.line, ""))
    seen = set()
    for path, line, function in places:
        if (path, line) in seen:
            continue
        seen.add((path, line))
        source = repository.read(path)
        if source is not None:
            yield Site(path, line, function, source)


def replace_on_line(source: str, line: int, old: str, new: str) -> str | None:
    """Replace the first whole ``old`` on ``line``; None when it is not there."""
    lines = source.splitlines(keepends=True)
    pattern = re.compile(rf"(?<![\w.]){re.escape(old)}(?![\w])")
    text, count = pattern.subn(new, lines[line - 1], count=1)
    if not count:
        return None
    lines[line - 1] = text
    return "".join(lines)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _function_at(tree: ast.Module, line: int) -> ast.FunctionDef | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.lineno <= line <= (node.end_lineno or 0):
            if best is None or node.lineno > best.lineno:
                best = node
    return best


def _module_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def _first_body_statement(function: ast.FunctionDef) -> ast.stmt:
    body = function.body
    docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    return body[1] if docstring and len(body) > 1 else body[0]


def _first_assigning_statement(function: ast.FunctionDef, name: str) -> ast.stmt | None:
    """Return the top-level statement of the function holding the first assignment to ``name``."""
    for statement in function.body:
        for node in ast.walk(statement):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For)):
                targets = [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return statement
    return None


def _is_augmented(function: ast.FunctionDef, name: str) -> bool:
    return any(
        isinstance(node, ast.AugAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == name
        for node in ast.walk(function)
    )


def _insert_statement(source: str, before: ast.stmt, statement: str) -> str:
    lines = source.splitlines(keepends=True)
    index = before.lineno - 1
    indent = re.match(r"\s*", lines[index]).group(0)  # type: ignore[union-attr]
    return "".join([*lines[:index], f"{indent}{statement}\n", *lines[index:]])


def _loop_headers_for(function: ast.FunctionDef, source: str, line: int) -> list[int]:
    """Return the header lines of loops whose variable is used on ``line``."""
    text = source.splitlines()[line - 1]
    headers = []
    for node in ast.walk(function):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            if re.search(rf"\b{node.target.id}\b", text) and node.lineno != line:
                headers.append(node.lineno)
        if isinstance(node, ast.While) and node.lineno != line:
            names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
            if any(re.search(rf"\b{name}\b", text) for name in names):
                headers.append(node.lineno)
    return sorted(set(headers))


def _shrinks(change: str) -> bool:
    """Tell whether a boundary mutant's change moves its bound one step in."""
    old, _, new = change.removeprefix("change ").partition(" to ")
    return (
        _offset(new) < _offset(old)
        or (old.startswith("`<=") and new.startswith("`<") and not new.startswith("`<="))
        or (old.startswith("`>=") and new.startswith("`>") and not new.startswith("`>="))
    )


def _offset(code: str) -> int:
    """Return the constant added at the end of a bound, as in "`len(x) - 1`" (-1)."""
    match = re.search(r"([+-]) (\d+)\)?`$", code)
    if match is None:
        return 0
    return int(match.group(2)) * (1 if match.group(1) == "+" else -1)
