"""The code a prompt shows for one fault, chosen to fit an estimated token budget.

Sections, in the order they are kept when the budget is short:

0. the function that encloses each faulty line, whole (or a window of lines
   around a line at module level);
1. the failing test's function, marked read only;
2. the definitions of the names the faulty function uses: functions,
   classes and constants of its file, methods of its class, and names it
   imports from other repository modules;
3. a skeleton of each file: imports, assignments and the signatures of its
   classes and functions, bodies left out.

Tokens are estimated as characters divided by four, a rough average for
code with common tokenizers. The files shown are the files a reply may edit.
"""

from __future__ import annotations

import ast
import logging
import textwrap
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from patches.context import enclosing_symbol, symbol_source, symbol_span
from patches.errors import EditError
from patches.guards import is_test_path
from patches.types import RepairRequest

logger = logging.getLogger(__name__)

MAX_SOURCE_FILES = 3  # repository files shown to the model besides the failing test
WINDOW_LINES = 30  # lines on each side of a faulty line outside any function
CHARS_PER_TOKEN = 4  # estimate, see the module docstring
MAX_DEFINITION_LINES = 60  # a longer definition is shown as its skeleton


@dataclass(frozen=True)
class Section:
    """One titled piece of code for the prompt; a lower rank is kept first."""

    rank: int
    title: str
    code: str
    language: str = "python"

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.title) + estimate_tokens(self.code)


@dataclass(frozen=True)
class CodeContext:
    """The sections that fit the budget, the paths a reply may edit, and what was left out."""

    sections: tuple[Section, ...]
    editable: frozenset[str]
    tokens: int
    left_out: tuple[str, ...]


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def build_context(request: RepairRequest, root: Path, token_budget: int) -> CodeContext:
    """Collect the code sections for ``request`` and keep those that fit ``token_budget``."""
    sections: list[Section] = []
    editable: set[str] = set()
    for path, line in _places(request, root):
        source = read_shareable(root, path)
        if source is None:
            continue
        editable.add(path)
        sections += _file_sections(path, source, line, root)
    test = _test_section(request, root)
    if test is not None:
        sections.append(test)
        # An assertion that fails in the test itself points at no source line, so the
        # code under test is found through what the test imports and calls.
        for section in _tested_code(request, root):
            editable.add(section.title.split(":", 1)[0])
            sections.append(section)

    kept: list[Section] = []
    left_out: list[str] = []
    used = 0
    for section in sorted(sections, key=lambda item: item.rank):
        # The faulty code itself is always shown, even when it alone exceeds the budget.
        if section.rank > 0 and used + section.tokens > token_budget:
            left_out.append(section.title)
            continue
        kept.append(section)
        used += section.tokens
    logger.info(
        "code context for fault %s: %d section(s), about %d tokens of %d; %d left out",
        request.fault_id,
        len(kept),
        used,
        token_budget,
        len(left_out),
    )
    return CodeContext(tuple(kept), frozenset(editable), used, tuple(left_out))


def read_shareable(root: Path, path: str) -> str | None:
    """Read a repository file that may be shown to a model, or return None (for .env files too)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or pure.name.startswith(".env"):
        return None
    file = root / path
    try:
        return file.read_text(encoding="utf-8") if file.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        logger.debug("not showing %s to the model: %s", path, error)
        return None


def skeleton(source: str) -> str:
    """Return the outline of a module: imports, assignments and signatures, bodies as ``...``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    lines = source.splitlines()
    outline: list[str] = []
    _outline(tree.body, lines, outline)
    return "\n".join(outline)


def _places(request: RepairRequest, root: Path) -> list[tuple[str, int]]:
    """Return the faulty places: the location, then repository frames, innermost first."""
    places: list[tuple[str, int]] = []
    if request.location is not None and not is_test_path(request.location.path):
        places.append((request.location.path, request.location.line))
    for frame in reversed(request.frames):
        if frame.in_repository and not is_test_path(frame.path):
            places.append((frame.path, frame.line))
    chosen: list[tuple[str, int]] = []
    for path, line in places:
        if path not in {known for known, _ in chosen} and len(chosen) < MAX_SOURCE_FILES:
            chosen.append((path, line))
    return chosen


def _file_sections(path: str, source: str, line: int, root: Path) -> list[Section]:
    lines = source.splitlines()
    sections: list[Section] = []
    symbol = _symbol_at(source, line, path)
    span = _span(source, symbol, path) if symbol else None
    if symbol and span:
        start, end = span
        code = "\n".join(lines[start - 1 : end])
        sections.append(Section(0, f"{path}: `{symbol}`, lines {start}-{end}", code))
        sections += _definitions_used(path, source, symbol, root)
    else:
        first = max(1, line - WINDOW_LINES)
        last = min(len(lines), line + WINDOW_LINES)
        window = "\n".join(lines[first - 1 : last])
        sections.append(Section(0, f"{path}, lines {first}-{last} of {len(lines)}", window))
    if 0 < line <= len(lines):
        sections.append(
            Section(0, f"line {line} of {path}, where the fault points", lines[line - 1], "text")
        )
    outline = skeleton(source)
    if outline:
        sections.append(Section(3, f"{path} (outline: signatures only, bodies left out)", outline))
    return sections


def _test_section(request: RepairRequest, root: Path) -> Section | None:
    if not request.test_ids:
        return None
    path, _, rest = request.test_ids[0].partition("::")
    if not rest:
        return None
    symbol = ".".join(part.split("[")[0] for part in rest.split("::"))
    source = read_shareable(root, path)
    if source is None:
        return None
    try:
        code = symbol_source(source, symbol, path)
    except EditError:
        return None  # a test file that does not parse is in the traceback already
    if not code:
        return None
    return Section(1, f"{path}: test `{symbol}` (read only, do not edit)", code.rstrip())


def _tested_code(request: RepairRequest, root: Path) -> list[Section]:
    """Show the repository functions and classes that the failing test imports and uses."""
    path, _, rest = request.test_ids[0].partition("::")
    symbol = ".".join(part.split("[")[0] for part in rest.split("::"))
    source = read_shareable(root, path)
    if source is None:
        return []
    try:
        tree = ast.parse(source)
        used = _used_names(ast.parse(textwrap.dedent(symbol_source(source, symbol, path) or "")))
    except (SyntaxError, EditError):
        return []
    sections = []
    for module_path, name in _imports(tree, root):
        if name not in used or is_test_path(module_path):
            continue
        other = read_shareable(root, module_path)
        code = _definition(other, name, module_path) if other else None
        if code:
            sections.append(Section(0, f"{module_path}: `{name}` (called by the test)", code))
    return sections


def _definitions_used(path: str, source: str, symbol: str, root: Path) -> list[Section]:
    """Show the definitions of the names that the function ``symbol`` uses."""
    try:
        tree = ast.parse(source)
        function_source = symbol_source(source, symbol, path) or ""
        used = _used_names(ast.parse(textwrap.dedent(function_source)))
    except (SyntaxError, EditError):
        return []
    sections: list[Section] = []
    owner = symbol.rpartition(".")[0]
    for name in sorted(used):
        for qualified in (f"{owner}.{name}" if owner else "", name):
            if not qualified or qualified == symbol:
                continue
            code = _definition(source, qualified, path)
            if code:
                sections.append(Section(2, f"{path}: `{qualified}` (used by `{symbol}`)", code))
                break
    for module_path, name in _imports(tree, root):
        if name in used:
            other = read_shareable(root, module_path)
            code = _definition(other, name, module_path) if other else None
            if code:
                sections.append(Section(2, f"{module_path}: `{name}` (imported by {path})", code))
    return sections


def _definition(source: str, qualified: str, path: str) -> str | None:
    try:
        code = symbol_source(source, qualified, path)
    except EditError:
        return None
    if code is None:
        return _constant(source, qualified)
    if code.count("\n") > MAX_DEFINITION_LINES:
        return skeleton(textwrap.dedent(code)) or None
    return code.rstrip()


def _constant(source: str, name: str) -> str | None:
    """Return the top-level assignment of ``name``, if the module has one."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return "\n".join(lines[node.lineno - 1 : node.end_lineno])
    return None


def _used_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            names.add(node.attr)
    return names


def _imports(tree: ast.Module, root: Path) -> list[tuple[str, str]]:
    """List ``(module file, name)`` for each name imported from a module of the repository."""
    found = []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        base = node.module.replace(".", "/")
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if (root / candidate).is_file():
                found += [(candidate, alias.name) for alias in node.names]
                break
    return found


def _outline(body: list[ast.stmt], lines: list[str], outline: list[str]) -> None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno] + [item.lineno for item in node.decorator_list])
            body_start = node.body[0].lineno
            header_end = body_start - 1 if body_start > node.lineno else node.lineno
            outline += lines[first - 1 : header_end]
            if isinstance(node, ast.ClassDef):
                _outline(node.body, lines, outline)
            else:
                indent = lines[node.lineno - 1][: node.col_offset] + "    "
                outline.append(f"{indent}...")
        elif isinstance(node, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign):
            statement = lines[node.lineno - 1 : node.end_lineno]
            outline += statement[:3] + (["    ..."] if len(statement) > 3 else [])


def _symbol_at(source: str, line: int, path: str) -> str | None:
    try:
        return enclosing_symbol(source, line, path)
    except EditError:
        return None  # a file that does not parse is still shown as a window


def _span(source: str, symbol: str, path: str) -> tuple[int, int] | None:
    try:
        return symbol_span(source, symbol, path)
    except EditError:
        return None
