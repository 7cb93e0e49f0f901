"""Name search: names that exist, in place of one a NameError, AttributeError or import misses.

The rules rename only to the one name that is close to the missing one
(a difflib ratio of at least 0.8). When none is, this search offers every
name of the same kind that exists where the missing one is used, the most
similar first, and validation decides:

    exception        replacements at the failing line
    NameError        called: the functions and classes that the module defines
                     or imports and the enclosing function's nested ones;
                     read as a value: the enclosing functions' parameters and
                     locals and the module's assigned and imported names
    AttributeError   called: the methods of the class, or the functions and
                     classes of the module; read as a value: the other
                     attributes of the class or module
    ImportError      ``cannot import name``: the other names of the module,
                     renamed at the import and at each use in the file;
                     ``No module named``: the sibling modules

Every replacement is a name the code already has, so no value from a test
can enter a patch. The function or method that contains the failing line
is never offered for a call inside it, because that call would recurse.

NOTE: the kernel validates a candidate against the fault's one test. When
several tests fail on the same missing name, a replacement that makes only
that test pass can be accepted, and the others become faults of their own.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import importlib
import io
import logging
import re
from dataclasses import dataclass

from patches.diff import make_candidate
from patches.errors import EditError
from patches.name_sites import find_name_sites
from patches.repair.messages import CANNOT_IMPORT, NAME_ERROR, NO_MODULE, parse_attribute_error
from patches.repair.rules import Site, fault_sites, import_sites, rename_names, replace_on_line
from patches.repair.sources import Repository
from patches.types import Candidate, RepairRequest

logger = logging.getLogger(__name__)

SEARCHED = frozenset({"NameError", "AttributeError", "ImportError", "ModuleNotFoundError"})


@dataclass(frozen=True)
class Kinds:
    """The names that can stand where a missing one is used, split by use."""

    callables: frozenset[str]  # for a call: ``name(...)``
    values: frozenset[str]  # for any other read


def search_names(
    request: RepairRequest, repository: Repository, provider: str, max_candidates: int
) -> tuple[list[Candidate], list[str]]:
    """Return up to ``max_candidates`` renames of the missing name, most similar first."""
    if request.exc_type not in SEARCHED or max_candidates <= 0:
        return [], []
    sites = list(fault_sites(request, repository))
    if request.exc_type == "NameError":
        found = _name_error(request, sites, provider)
    elif request.exc_type == "AttributeError":
        found = _attribute_error(request, sites, repository, provider)
    else:
        found = _import_error(request, sites, repository, provider)
    if found is None:
        return [], [f"the name search has no line to change for {request.exc_type}"]
    if not found:
        return [], [f"the name search found no other name of the same kind for {request.exc_type}"]
    return found[:max_candidates], []


def _name_error(request: RepairRequest, sites: list[Site], provider: str) -> list[Candidate] | None:
    match = NAME_ERROR.search(request.message)
    if match is None:
        return None
    wrong = match.group("name")
    for site in sites:
        columns = find_name_sites(site.source, site.line, wrong).plain
        if not columns:
            continue
        tree = _parse(site.source)
        if tree is None:
            return None
        kinds = _scope_names(tree, site.line)
        choices = kinds.callables if _is_called(site.source, site.line, columns) else kinds.values
        return _renames(site, columns, wrong, choices, provider, "name in scope")
    return None


def _attribute_error(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> list[Candidate] | None:
    parsed = parse_attribute_error(request.message)
    if parsed is None:
        return None
    kind, owner, wrong = parsed
    for site in sites:
        columns = find_name_sites(site.source, site.line, wrong).attribute
        if not columns:
            continue
        kinds = _owner_names(kind, owner, repository)
        if kinds is None:
            return []
        called = _is_called(site.source, site.line, columns)
        choices = kinds.callables if called else kinds.values
        tree = _parse(site.source)
        enclosing = _enclosing_functions(tree, site.line) if tree is not None else []
        if called and enclosing:
            choices = choices - {enclosing[-1].name}  # ``self.method()`` inside it recurses
        return _renames(site, columns, wrong, choices, provider, f"attribute of {owner}")
    return None


def _import_error(
    request: RepairRequest, sites: list[Site], repository: Repository, provider: str
) -> list[Candidate] | None:
    missing_name = CANNOT_IMPORT.search(request.message)
    missing_module = NO_MODULE.search(request.message)
    for site in import_sites(sites):
        if missing_name is not None:
            wrong = missing_name.group("name")
            module = missing_name.group("module")
            choices = {n for n in repository.names_of(module) if not n.startswith("_")}
            return _import_renames(site, wrong, choices, provider, f"another name of {module}")
        if missing_module is not None:
            wrong = missing_module.group("module")
            choices = repository.module_choices(wrong)
            return _import_renames(site, wrong, choices, provider, "another module")
        return None
    return None


def _renames(
    site: Site, columns: list[int], wrong: str, choices: frozenset[str], provider: str, what: str
) -> list[Candidate]:
    candidates = []
    for name in _by_similarity(wrong, choices):
        after = _replace_columns(site.source, site.line, columns, wrong, name)
        summary = f"Use `{name}` instead of `{wrong}` at {site.path}:{site.line} (another {what})"
        candidates.append(
            make_candidate(provider, None, summary, {site.path: (site.source, after)})
        )
    return candidates


def _import_renames(
    site: Site, wrong: str, choices: set[str], provider: str, what: str
) -> list[Candidate]:
    head, _, last = wrong.rpartition(".")
    candidates = []
    for name in _by_similarity(last, frozenset(choices)):
        fixed = f"{head}.{name}" if head else name
        after = replace_on_line(site.source, site.line, wrong, fixed)
        if after is None:
            continue
        if not head:
            after = rename_names(after, wrong, fixed)  # the file's uses carry the same name
        summary = (
            f"Import `{fixed}` instead of `{wrong}` at {site.path}:{site.line} (another {what})"
        )
        try:
            candidates.append(
                make_candidate(provider, None, summary, {site.path: (site.source, after)})
            )
        except EditError:
            continue
    return candidates


def _by_similarity(wrong: str, choices: frozenset[str]) -> list[str]:
    def score(name: str) -> float:
        return difflib.SequenceMatcher(None, wrong, name).ratio()

    return sorted((name for name in choices if name != wrong), key=lambda n: (-score(n), n))


def _scope_names(tree: ast.Module, line: int) -> Kinds:
    """Collect the names visible at ``line``: enclosing functions' and the module's."""
    callables: set[str] = set()
    values: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            callables.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imported = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            callables |= imported - {"*"}
            values |= imported - {"*"}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            values |= _stored_names(node)

    enclosing = _enclosing_functions(tree, line)
    for function in enclosing:
        arguments = function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
        values |= {argument.arg for argument in every}
        values |= _stored_names(function)
        callables |= {
            node.name
            for node in ast.walk(function)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not function
        }
    if enclosing:
        callables.discard(enclosing[-1].name)  # a call inside a function to itself recurses
    return Kinds(frozenset(callables - {"self", "cls"}), frozenset(values - {"self", "cls"}))


def _stored_names(node: ast.AST) -> set[str]:
    return {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
    }


def _enclosing_functions(
    tree: ast.Module, line: int
) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Return the functions that contain ``line``, outermost first."""
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    return sorted(found, key=lambda node: node.lineno)


def _owner_names(kind: str, owner: str, repository: Repository) -> Kinds | None:
    """Split the attributes of a module or class into callables and values; None if unknown."""
    if kind == "module":
        path = repository.path_of(owner)
        if path is not None:
            tree = _parse(repository.read(path) or "")
            return _module_kinds(tree) if tree is not None else None
        return _imported_kinds(owner)
    short_name = owner.split(".")[-1]
    return _class_kinds(short_name, repository, instance=kind == "instance", seen=set())


def _module_kinds(tree: ast.Module) -> Kinds:
    callables = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    values: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            values |= _stored_names(node)
    return Kinds(frozenset(callables), frozenset(values))


def _imported_kinds(module: str) -> Kinds | None:
    """Split a standard-library module's public names; None for any other module."""
    names = Repository.stdlib_names(module)
    if not names:
        return None
    loaded = importlib.import_module(module)
    callables = {name for name in names if callable(getattr(loaded, name, None))}
    return Kinds(frozenset(callables), frozenset(names - callables))


def _class_kinds(
    class_name: str, repository: Repository, instance: bool, seen: set[str]
) -> Kinds | None:
    """Split a class's attributes, its bases' included, into methods and other attributes."""
    if class_name in seen:
        return Kinds(frozenset(), frozenset())
    seen.add(class_name)
    node = repository.find_class(class_name)
    if node is None:
        return _builtin_kinds(class_name)

    callables: set[str] = set()
    values: set[str] = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = {d.id for d in item.decorator_list if isinstance(d, ast.Name)}
            (values if "property" in decorators else callables).add(item.name)
            if instance:
                values |= _self_attributes(item)
        elif isinstance(item, ast.ClassDef):
            callables.add(item.name)
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            values |= _stored_names(item)
    for base in node.bases:
        base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        inherited = _class_kinds(base_name, repository, instance, seen) if base_name else None
        if inherited is not None:
            callables |= inherited.callables
            values |= inherited.values
    return Kinds(frozenset(_public(callables)), frozenset(_public(values - callables)))


def _builtin_kinds(class_name: str) -> Kinds | None:
    builtin = getattr(builtins, class_name, None)
    if not isinstance(builtin, type) or class_name == "object":
        return None
    names = _public(set(dir(builtin)))
    callables = {name for name in names if callable(getattr(builtin, name, None))}
    return Kinds(frozenset(callables), frozenset(names - callables))


def _self_attributes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {
        node.attr
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def _public(names: set[str]) -> set[str]:
    return {name for name in names if not name.startswith("__")}


def _is_called(source: str, line: int, columns: list[int]) -> bool:
    """Tell whether the first use on ``line`` is followed by ``(``, as a call is."""
    text = io.StringIO(source).readlines()[line - 1]
    match = re.match(r"\w*\s*\(", text[columns[0] :])
    return match is not None


def _replace_columns(source: str, line: int, columns: list[int], old: str, new: str) -> str:
    lines = io.StringIO(source).readlines()
    text = lines[line - 1]
    for column in sorted(columns, reverse=True):
        text = text[:column] + new + text[column + len(old) :]
    lines[line - 1] = text
    return "".join(lines)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError as error:
        logger.debug("the name search cannot parse a file: %s", error)
        return None
