"""Guards on what a candidate patch may touch and what its result must look like.

A candidate is rejected when an edit breaks one of these checks:

- location: the path is empty or absolute, has a ``..`` part, resolves
  (symbolic links included) outside the repository, or lies inside ``.git``
  or ``.agentos``;
- tests, unless ``allow_test_edits``: the path is a test file (``test_*.py``,
  ``*_test.py``, anything under ``tests/`` or ``test/``), ``conftest.py``,
  ``pytest.ini``, ``tox.ini`` or ``setup.cfg``, or the edit changes lines of a
  ``[tool.pytest...]`` table in ``pyproject.toml``;
- syntax: a ``.py`` result that libcst cannot parse or ``compile()`` rejects;
- silencing: a ``.py`` result with more broad handlers that swallow errors
  (bare ``except``, ``except Exception`` or ``except BaseException``, alone
  or in a tuple, without ``raise``, and ``suppress(Exception)``) than before,
  or more skip and xfail markers than before;
- assertions: a test file (when tests may be edited) left with fewer
  assertions than before, or code under test with fewer ``assert`` statements;
- special-casing: code under test that gains an ``if`` returning early for a
  literal value of the failing test (:mod:`patches.cheats`).

``setup.cfg`` and ``tox.ini`` are rejected whole because either may hold
pytest's settings and neither is usually part of a bug fix. ``pyproject.toml``
is only checked line by line because it also contains the project's code
settings and dependencies.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from patches.cheats import removed_asserts, special_cases
from patches.context import parse_source
from patches.errors import EditError
from patches.types import Candidate, FileEdit

_PRIVATE_FOLDERS = (".git", ".agentos")
_TEST_FOLDERS = ("tests", "test")
_PYTEST_CONFIG_FILES = ("pytest.ini", "tox.ini", "setup.cfg")
_BROAD_EXCEPTIONS = ("Exception", "BaseException")
# ``skip`` alone is too common a word to count as a plain name, so it counts only as an attribute
# (pytest.skip, pytest.mark.skip, unittest.skip).
_SKIP_ATTRIBUTES = ("skip", "skipif", "xfail", "skipTest", "SkipTest", "importorskip", "skipUnless")
_SKIP_NAMES = ("skipif", "xfail", "skipTest", "SkipTest", "importorskip", "skipUnless")
_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]*?)\s*\]\]?\s*(#.*)?$")


@dataclass(frozen=True)
class GuardPolicy:
    """Exceptions to the default guards."""

    allow_test_edits: bool = False  # let a candidate edit tests and pytest configuration
    # Repository-relative files and folders no candidate may write, each with the reason,
    # such as Git LFS files and submodules.
    protected: tuple[tuple[str, str], ...] = ()


def is_test_path(path: str) -> bool:
    """Tell whether a repository-relative path is test code (a test module, conftest or folder)."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if not parts:
        return False
    name = parts[-1]
    if name == "conftest.py":
        return True
    if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
        return True
    return any(part in _TEST_FOLDERS for part in parts[:-1])


def check_candidate(
    candidate: Candidate,
    root: Path,
    policy: GuardPolicy | None = None,
    test_literals: frozenset[object] = frozenset(),
) -> list[str]:
    """Return the reasons to reject ``candidate`` in the repository at ``root``, if any.

    ``test_literals`` are the literal values of the failing tests
    (:func:`patches.cheats.failing_test_literals`), used to spot special-casing.
    """
    policy = policy or GuardPolicy()
    reasons: list[str] = []
    for edit in candidate.edits:
        reasons.extend(_check_edit(edit, root, policy, test_literals))
    return reasons


def _check_edit(
    edit: FileEdit, root: Path, policy: GuardPolicy, test_literals: frozenset[object]
) -> list[str]:
    location_reasons, resolved = _check_location(edit.path, root)
    if location_reasons or resolved is None:
        return location_reasons

    reasons: list[str] = []
    # A symbolic link inside the repository may point at a test file, so both names count.
    names = dict.fromkeys((edit.path, resolved))
    for name in names:
        reasons.extend(_check_protected(name, edit, policy))
    if reasons:
        return reasons
    if not policy.allow_test_edits:
        for name in names:
            reasons.extend(_check_test_scope(name, edit))
    if edit.path.endswith(".py"):
        is_test = any(is_test_path(name) for name in names)
        reasons.extend(_check_python(edit, policy, is_test))
        if not is_test and not reasons:
            reasons.extend(_check_cheats(edit, test_literals))
    return reasons


def _check_cheats(edit: FileEdit, test_literals: frozenset[object]) -> list[str]:
    reasons = [
        f"{edit.path}: {problem}"
        for problem in special_cases(edit.before, edit.after, test_literals)
    ]
    removed = removed_asserts(edit.before, edit.after)
    if removed:
        reasons.append(
            f"{edit.path} loses {removed} assert statement(s). A fix must not delete the checks "
            "that fail; fix the values they check."
        )
    return reasons


def _check_location(path: str, root: Path) -> tuple[list[str], str | None]:
    """Return the reasons to reject where an edit writes, and its resolved relative path if safe."""
    if not path.strip():
        return [
            "The patch has an edit with an empty path. Every edit must name a repository file."
        ], None
    if (
        PurePosixPath(path).is_absolute()
        or PureWindowsPath(path).is_absolute()
        or PureWindowsPath(path).drive
    ):
        return [
            f"{path} is an absolute path. Edits must use paths relative to the repository root."
        ], None
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if ".." in parts:
        return [f"{path} contains '..', but edits must stay inside the repository."], None

    repository = root.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(repository):
        return [f"{path} resolves to {target}, outside the repository {repository}."], None
    relative = target.relative_to(repository).as_posix()

    for name in dict.fromkeys((path, relative)):
        folders = {part.lower() for part in PurePosixPath(name).parts}
        for private in _PRIVATE_FOLDERS:
            if private in folders:
                return [f"{path} is inside {private}/, which patches may not touch."], None
    return [], relative


def _check_protected(path: str, edit: FileEdit, policy: GuardPolicy) -> list[str]:
    for protected, reason in policy.protected:
        if path == protected or path.startswith(protected.rstrip("/") + "/"):
            return [f"{edit.path} may not be edited: {reason}."]
    return []


def _check_test_scope(path: str, edit: FileEdit) -> list[str]:
    name = PurePosixPath(path).name
    if name == "conftest.py":
        return [
            f"{edit.path} is pytest configuration (conftest.py). A fix must change the code under "
            "test, or the policy must allow test edits."
        ]
    if is_test_path(path):
        return [
            f"{edit.path} is a test file. A fix must change the code under test, "
            "or the policy must allow test edits."
        ]
    if name in _PYTEST_CONFIG_FILES:
        return [
            f"{edit.path} may contain pytest configuration ({name}). A fix must not change "
            "how tests run, or the policy must allow test edits."
        ]
    if name == "pyproject.toml":
        changed = _changed_pytest_line(edit.before, edit.after)
        if changed is not None:
            return [
                f"{edit.path} changes pytest configuration at line {changed} (a [tool.pytest] "
                "table). A fix must not change how tests run, or the policy must allow test edits."
            ]
    return []


def _changed_pytest_line(before: str, after: str) -> int | None:
    """Return the first line (1-based, of ``after``) of a change to pytest's tables."""
    old_lines = before.splitlines()
    new_lines = after.splitlines()
    old_flags = _pytest_lines(old_lines)
    new_flags = _pytest_lines(new_lines)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for index in range(j1, j2):
            if new_flags[index]:
                return index + 1
        for index in range(i1, i2):
            if old_flags[index]:
                return min(j1 + 1, len(new_lines)) or 1
    return None


def _pytest_lines(lines: list[str]) -> list[bool]:
    """Mark each TOML line that belongs to pytest's settings."""
    flags = []
    table = ""
    for line in lines:
        header = _TOML_HEADER.match(line)
        if header:
            table = re.sub(r"[\s\"']", "", header.group(1))
            flags.append(table == "tool.pytest" or table.startswith("tool.pytest."))
            continue
        key = re.sub(r"[\s\"']", "", line.split("=", 1)[0]) if "=" in line else ""
        in_table = table == "tool.pytest" or table.startswith("tool.pytest.")
        # Dotted keys can reach pytest's table from [tool] or from the root table.
        dotted = (table == "tool" and key.startswith("pytest")) or (
            table == "" and key.startswith("tool.pytest")
        )
        flags.append(in_table or dotted)
    return flags


def _check_python(edit: FileEdit, policy: GuardPolicy, is_test: bool) -> list[str]:
    try:
        after_tree = parse_source(edit.after, edit.path)
    except EditError as error:
        return [f"{error}. The patched file must be valid Python."]
    # NOTE: compile() accepts only the running Python's grammar, so newer syntax (PEP 695
    # generics under Python 3.11, for example) is rejected even though libcst parses it.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not a rejection
            compile(edit.after, edit.path, "exec", dont_inherit=True)
    except SyntaxError as error:
        return [f"{edit.path} does not compile at line {error.lineno}: {error.msg}."]
    except ValueError as error:  # source with null bytes
        return [f"{edit.path} does not compile: {error}."]

    try:
        before_tree = parse_source(edit.before, edit.path)
    except EditError:
        before_tree = None  # the fix may be the one that makes the file parse
    before = _Census.of(before_tree)
    after = _Census.of(after_tree)

    reasons = []
    added_handlers = after.broad_handlers - before.broad_handlers
    if added_handlers:
        line = min(line for text, line in after.handler_lines.items() if text in added_handlers)
        reasons.append(
            f"{edit.path} adds a broad except that swallows errors at line {line}. Catch the "
            "specific exception or let it propagate."
        )
    if after.skips > before.skips:
        reasons.append(
            f"{edit.path} adds a skip or xfail marker, but a fix must make the test pass, "
            "not skip it."
        )
    if is_test and policy.allow_test_edits and after.assertions < before.assertions:
        reasons.append(
            f"{edit.path} has {before.assertions - after.assertions} fewer assertions after the "
            "patch. A test may be changed but not weakened."
        )
    return reasons


@dataclass
class _Census:
    """Counts in one module of the constructs a patch may not add or remove."""

    broad_handlers: Counter[str]
    handler_lines: dict[str, int]
    skips: int
    assertions: int

    @classmethod
    def of(cls, module: cst.Module | None) -> _Census:
        census = cls(Counter(), {}, 0, 0)
        if module is None:
            return census
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        wrapper.visit(_CensusVisitor(census, wrapper.module))
        return census


class _CensusVisitor(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, census: _Census, module: cst.Module) -> None:
        super().__init__()
        self._census = census
        self._module = module

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        broad = node.type is None or _is_broad(node.type)
        if not broad or _contains_raise(node.body):
            return
        # Handlers are compared by their text, so an unchanged handler that moved is not new.
        text = " ".join(self._module.code_for_node(node).split())
        self._census.broad_handlers[text] += 1
        line = self.get_metadata(PositionProvider, node).start.line
        self._census.handler_lines.setdefault(text, line)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if node.attr.value in _SKIP_ATTRIBUTES:
            self._census.skips += 1
        # The attribute's own Name node must not be counted a second time.
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in _SKIP_NAMES:
            self._census.skips += 1

    def visit_Assert(self, node: cst.Assert) -> None:
        self._census.assertions += 1

    def visit_Call(self, node: cst.Call) -> None:
        function = node.func
        name = function.attr.value if isinstance(function, cst.Attribute) else None
        if isinstance(function, cst.Name):
            name = function.value
        if name == "suppress" and any(_is_broad(argument.value) for argument in node.args):
            text = " ".join(self._module.code_for_node(node).split())
            self._census.broad_handlers[text] += 1
            line = self.get_metadata(PositionProvider, node).start.line
            self._census.handler_lines.setdefault(text, line)
        # unittest style: self.assertEqual(...), and pytest.raises(...) as a context.
        if isinstance(function, cst.Attribute) and (
            function.attr.value.startswith("assert") or function.attr.value == "raises"
        ):
            self._census.assertions += 1


def _is_broad(node: cst.BaseExpression) -> bool:
    """Tell whether an exception type names Exception or BaseException, alone or in a tuple."""
    if isinstance(node, cst.Name):
        return node.value in _BROAD_EXCEPTIONS
    if isinstance(node, cst.Attribute):  # builtins.Exception
        return node.attr.value in _BROAD_EXCEPTIONS
    if isinstance(node, cst.Tuple):
        return any(_is_broad(element.value) for element in node.elements)
    return False


def _contains_raise(body: cst.BaseSuite) -> bool:
    finder = _RaiseFinder()
    body.visit(finder)
    return finder.found


class _RaiseFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Raise(self, node: cst.Raise) -> None:
        self.found = True
