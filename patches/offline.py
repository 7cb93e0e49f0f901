"""The offline provider: deterministic fixes for common faults, without a model or a network.

- a lint fault with a safe ruff fix: apply exactly the fix's edits;
- a lint fault with a fix that ruff marks unsafe: the same, but as the last
  candidate, marked in ``Candidate.unsafe_fixes`` so the kernel reports it;
- NameError, or ruff's F821, on a top-level standard-library module used as
  ``name.attr``: add ``import name`` beside the file's other imports;
- NameError or F821 with exactly one close defined or builtin name: rename
  the name at the reported line;
- AttributeError with exactly one close attribute of the class or module:
  rename the attribute at the reported line;
- then the rules and the mutation search of :mod:`patches.repair`.

"Close" means a difflib ratio of at least 0.8, with one name alone at the best
score. Renames touch only the reported line, and only whole name tokens, so
text in strings and comments stays as it is. The place comes from the
innermost repository frame outside test code, then from the request's
location. Nothing is derived from the values a test expects.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import io
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from patches.context import ClassInfo, defined_names, find_class, module_names, parse_source
from patches.diff import make_candidate
from patches.errors import EditError
from patches.guards import is_test_path
from patches.name_sites import find_name_sites
from patches.repair.engine import propose_repairs
from patches.repair.messages import NAME_ERROR, parse_attribute_error
from patches.repair.search import Budget
from patches.types import (
    Candidate,
    FaultKind,
    LintFix,
    Proposal,
    Rejection,
    RepairRequest,
    TextEdit,
)

logger = logging.getLogger(__name__)

MIN_SIMILARITY = 0.8  # difflib ratio a replacement name must reach

# Standard-library modules never imported by this provider: importing them has side effects.
_UNSAFE_MODULES = frozenset({"this", "antigravity", "__main__"})
_SKIPPED_FOLDERS = frozenset({".git", ".agentos", ".venv", "venv", "node_modules", "__pycache__"})

_UNDEFINED_NAME = re.compile(r"Undefined name `(?P<name>[^`]+)`")

_Outcome = tuple[list[Candidate], list[str]]  # candidates, and reasons the rule made none


class OfflineProvider:
    """Proposes the fixes listed above, without calling a model."""

    name = "offline"
    accepts_feedback = False

    def __init__(self, max_candidates: int = 40, seconds: float = 20.0) -> None:
        self.max_candidates = max_candidates  # candidates per fault, whatever the limit
        self.seconds = seconds  # seconds the mutation search may spend generating

    def propose(self, request: RepairRequest, root: Path, limit: int) -> Proposal:
        """Return up to ``limit`` candidates, likeliest first, and why each rule gave up."""
        candidates: list[Candidate] = []
        reasons: list[str] = []
        for rule in (self._lint_fix, self._undefined_name, self._missing_attribute):
            found, why_not = rule(request, root)
            candidates.extend(found)
            reasons.extend(why_not)
        # An unsafe ruff fix can change behaviour, so it goes after every other
        # candidate. The kernel accepts the first that passes in this order.
        unsafe, why_not = self._unsafe_lint_fix(request, root)
        reasons.extend(why_not)
        room = min(limit, self.max_candidates) - len(candidates) - len(unsafe)
        budget = Budget(room, self.seconds)
        found, why_not = propose_repairs(
            request, root, self.name, budget, rule_fired=bool(candidates)
        )
        candidates.extend(found + unsafe)
        reasons.extend(why_not)
        if not candidates and not reasons:
            reasons.append(f"no offline rule matches {_describe(request)}")

        # The first candidate with a diff wins, so a duplicate cannot reorder it.
        by_diff: dict[str, Candidate] = {}
        for candidate in candidates:
            by_diff.setdefault(candidate.diff, candidate)
        unique = list(by_diff.values())[: max(limit, 0)]
        logger.info("offline provider: %d candidate(s) for fault %s", len(unique), request.fault_id)
        return Proposal(
            candidates=tuple(unique),
            rejections=tuple(Rejection(self.name, reason) for reason in reasons),
            ranked=True,
        )

    def _lint_fix(self, request: RepairRequest, root: Path) -> _Outcome:
        fix = request.lint_fix
        if request.kind is not FaultKind.LINT or fix is None or request.location is None:
            return [], []
        if fix.applicability == "safe":
            return self._ruff_candidate(request.location.path, request.lint_code, fix, root)
        if fix.applicability == "unsafe":
            return [], []  # offered last, by _unsafe_lint_fix
        return [], [
            f"ruff marks its fix for {request.lint_code or 'lint'} at "
            f"{request.location.path}:{request.location.line} as {fix.applicability}, "
            "and the offline provider applies only safe fixes and, last, unsafe ones"
        ]

    def _unsafe_lint_fix(self, request: RepairRequest, root: Path) -> _Outcome:
        fix = request.lint_fix
        if request.kind is not FaultKind.LINT or fix is None or request.location is None:
            return [], []
        if fix.applicability != "unsafe":
            return [], []
        return self._ruff_candidate(request.location.path, request.lint_code, fix, root)

    def _ruff_candidate(self, path: str, code: str | None, fix: LintFix, root: Path) -> _Outcome:
        """Apply exactly the edits of ruff's fix; an unsafe one is marked on the candidate."""
        code = code or "lint"
        unsafe = fix.applicability == "unsafe"
        source = _read(root, path)
        if source is None:
            return [], [f"{path} cannot be read, so ruff's fix for {code} cannot be applied"]
        try:
            fixed = apply_text_edits(source, fix.edits)
            kind = "unsafe" if unsafe else "safe"
            summary = f"Apply ruff's {kind} fix for {code} in {path}: {fix.message}"
            candidate = make_candidate(self.name, None, summary, {path: (source, fixed)})
        except EditError as error:
            return [], [f"ruff's fix for {code} in {path} cannot be applied: {error}"]
        if unsafe:
            candidate = replace(candidate, unsafe_fixes=(code,))
        return [candidate], []

    def _undefined_name(self, request: RepairRequest, root: Path) -> _Outcome:
        name = _undefined_name_in(request)
        if name is None:
            return [], []
        for path, line, source in _sites(request, root):
            if not _name_tokens(source, line, name, attribute=False):
                continue
            if _is_importable_stdlib(name) and _used_as_module(source, line, name):
                summary = f"Add `import {name}` to {path} for its use at line {line}"
                change = {path: (source, insert_import(source, name, path))}
                return [make_candidate(self.name, None, summary, change)], []
            choices = defined_names(source, path) | set(dir(builtins))
            return self._rename(path, line, source, name, choices, attribute=False)
        return [], [
            f"no offline rule matches NameError on '{name}': it is not at any reported line"
        ]

    def _missing_attribute(self, request: RepairRequest, root: Path) -> _Outcome:
        if request.exc_type != "AttributeError":
            return [], []
        parsed = parse_attribute_error(request.message)
        if parsed is None:
            return [], [f"no offline rule matches the AttributeError message {request.message!r}"]
        kind, owner, attribute = parsed
        for path, line, source in _sites(request, root):
            if not _name_tokens(source, line, attribute, attribute=True):
                continue
            choices = _attributes_of(kind, owner, path, source, root)
            if choices is None:
                return [], [
                    f"no offline rule matches AttributeError on '{attribute}': {owner} is not found"
                ]
            return self._rename(path, line, source, attribute, choices, attribute=True)
        return [], [
            f"no offline rule matches AttributeError on '{attribute}': no reported line accesses it"
        ]

    def _rename(
        self, path: str, line: int, source: str, wrong: str, choices: set[str], attribute: bool
    ) -> _Outcome:
        what = "AttributeError" if attribute else "NameError"
        best = closest_names(wrong, choices)
        if not best:
            return [], [
                f"no offline rule matches {what} on '{wrong}': no defined name is close to it"
            ]
        if len(best) > 1:
            tied = ", ".join(f"'{name}'" for name in best)
            return [], [f"no offline rule matches {what} on '{wrong}': {tied} are equally close"]
        fixed = rename_at_line(source, line, wrong, best[0], attribute=attribute)
        summary = f"Rename `{wrong}` to `{best[0]}` at {path}:{line}"
        return [make_candidate(self.name, None, summary, {path: (source, fixed)})], []


def apply_text_edits(source: str, edits: tuple[TextEdit, ...]) -> str:
    """Apply ruff-style edits: 1-based (line, column) in characters, end exclusive.

    Raises EditError when an edit points outside the file or two edits overlap.
    """
    starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", source)]

    def offset(line: int, column: int) -> int:
        if not 1 <= line <= len(starts) or column < 1:
            raise EditError(f"position {line}:{column} is outside the file ({len(starts)} lines)")
        position = starts[line - 1] + column - 1
        limit = starts[line] if line < len(starts) else len(source)
        if position > limit:
            raise EditError(f"column {column} is past the end of line {line}")
        return position

    spans = sorted(
        (
            offset(edit.start_line, edit.start_column),
            offset(edit.end_line, edit.end_column),
            edit.content,
        )
        for edit in edits
    )
    for (_, end, _), (start, _, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise EditError("two edits of the fix overlap")
    for start, end, content in reversed(spans):
        source = source[:start] + content + source[end:]
    return source


def closest_names(wrong: str, choices: set[str]) -> list[str]:
    """Return the names at the best similarity to ``wrong`` (at least MIN_SIMILARITY), sorted."""
    scores = {
        name: difflib.SequenceMatcher(None, wrong, name).ratio()
        for name in choices
        if name != wrong
    }
    best = max(scores.values(), default=0.0)
    if best < MIN_SIMILARITY:
        return []
    return sorted(name for name, score in scores.items() if score == best)


def rename_at_line(source: str, line: int, old: str, new: str, attribute: bool) -> str:
    """Rename the whole-token occurrences of ``old`` on ``line`` (attributes or plain names)."""
    tokens = _name_tokens(source, line, old, attribute)
    if not tokens:
        raise EditError(f"'{old}' does not occur at line {line}")
    lines = io.StringIO(source).readlines()
    text = lines[line - 1]
    for column in sorted(tokens, reverse=True):
        text = text[:column] + new + text[column + len(old) :]
    lines[line - 1] = text
    return "".join(lines)


def insert_import(source: str, module: str, path: str = "<source>") -> str:
    """Return ``source`` with ``import module`` added where an import sorter would put it.

    The first rule that fits places the line:

    1. among the plain standard-library imports of the leading import block,
       in alphabetical place when they are sorted, else after them;
    2. before the block's standard-library ``from`` imports;
    3. as a new section before the block's other imports;
    4. after the module docstring and ``__future__`` imports.
    """
    wrapper = MetadataWrapper(parse_source(source, path), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    body = list(wrapper.module.body)
    lines = io.StringIO(source).readlines()
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    statement = f"import {module}{newline}"

    def first_line(node: cst.CSTNode) -> int:
        """0-based index of the node's first line, comments directly above it included."""
        start = positions[node].start.line - 1
        above = getattr(node, "leading_lines", ())
        for empty_line in reversed(above):
            if empty_line.comment is None:
                break
            start -= 1
        return start

    def after(node: cst.CSTNode) -> int:
        return positions[node].end.line

    index = 1 if body and _is_docstring(body[0]) else 0
    anchor = after(body[0]) if index else 0
    block = []
    while index < len(body) and _import_module(body[index]) is not None:
        block.append((_import_module(body[index]), body[index]))
        index += 1
    futures = [node for name, node in block if name == "__future__"]
    others = [(name, node) for name, node in block if name != "__future__"]
    plain = [
        (name, node)
        for name, node in others
        if _is_plain_import(node) and name.split(".")[0] in sys.stdlib_module_names
    ]
    from_stdlib = [
        node
        for name, node in others
        if not _is_plain_import(node) and name.split(".")[0] in sys.stdlib_module_names
    ]

    if plain:
        names = [name.lower() for name, _ in plain]
        later = [node for name, node in plain if name.lower() > module.lower()]
        if names == sorted(names) and later:
            return _insert_lines(lines, first_line(later[0]), [statement])
        return _insert_lines(lines, after(plain[-1][1]), [statement])
    if from_stdlib:
        return _insert_lines(lines, first_line(from_stdlib[0]), [statement])
    if others:
        return _insert_lines(lines, first_line(others[0][1]), [statement, newline])

    # No import to join: the line goes after the docstring and __future__ imports.
    if futures:
        anchor = after(futures[-1])
    rest = body[index:]
    gap_after = 2 if rest and isinstance(rest[0], (cst.FunctionDef, cst.ClassDef)) else 1
    if anchor == 0:
        position = first_line(rest[0]) if rest else len(lines)
        return _insert_lines(lines, position, [statement] + [newline] * (gap_after if rest else 0))
    # The blank lines after the docstring become: one blank, the import, then the gap.
    blanks = 0
    while anchor + blanks < len(lines) and not lines[anchor + blanks].strip():
        blanks += 1
    new_lines = [newline, statement] + ([newline] * gap_after if rest else [])
    return _insert_lines(lines[:anchor] + lines[anchor + blanks :], anchor, new_lines)


def _insert_lines(lines: list[str], position: int, new_lines: list[str]) -> str:
    head = lines[:position]
    if head and not head[-1].endswith(("\n", "\r")):
        head[-1] += "\r\n" if new_lines[0].endswith("\r\n") else "\n"
    return "".join(head + new_lines + lines[position:])


def _is_docstring(node: cst.BaseStatement) -> bool:
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and isinstance(node.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _import_module(node: cst.BaseStatement) -> str | None:
    """Return the module a one-import statement line imports ("" for a relative import)."""
    if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
        return None
    statement = node.body[0]
    if isinstance(statement, cst.Import):
        return _dotted(statement.names[0].name)
    if isinstance(statement, cst.ImportFrom):
        if statement.relative or statement.module is None:
            return ""
        return _dotted(statement.module)
    return None


def _is_plain_import(node: cst.BaseStatement) -> bool:
    return isinstance(node, cst.SimpleStatementLine) and isinstance(node.body[0], cst.Import)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return node.value if isinstance(node, cst.Name) else ""


def _name_tokens(source: str, line: int, name: str, attribute: bool) -> list[int]:
    """Return the columns on ``line`` where ``name`` occurs as an attribute or as a plain name."""
    sites = find_name_sites(source, line, name)
    return sorted(sites.attribute if attribute else sites.plain)


def _used_as_module(source: str, line: int, name: str) -> bool:
    """Tell whether ``name`` on ``line`` is followed by a dot, as a module is."""
    return bool(find_name_sites(source, line, name).module_like)


def _is_importable_stdlib(name: str) -> bool:
    return name in sys.stdlib_module_names and name not in _UNSAFE_MODULES


def _undefined_name_in(request: RepairRequest) -> str | None:
    if request.exc_type == "NameError":
        match = NAME_ERROR.search(request.message)
        return match.group("name") if match else None
    if request.kind is FaultKind.LINT and request.lint_code == "F821":
        match = _UNDEFINED_NAME.search(request.message)
        return match.group("name") if match else None
    return None


def _sites(request: RepairRequest, root: Path) -> Iterator[tuple[str, int, str]]:
    """Yield (path, line, source) to try, innermost repository frame outside test code first."""
    places = [
        (frame.path, frame.line)
        for frame in reversed(request.frames)
        if frame.in_repository and not is_test_path(frame.path)
    ]
    if request.location is not None and not is_test_path(request.location.path):
        places.append((request.location.path, request.location.line))
    for path, line in dict.fromkeys(places):
        source = _read(root, path)
        if source is not None:
            yield path, line, source


def _attributes_of(kind: str, owner: str, path: str, source: str, root: Path) -> set[str] | None:
    """Collect the attribute names of a module or class, or return None when it is not found."""
    if kind == "module":
        module_source = _module_source(owner, root)
        if module_source is None:
            return _stdlib_module_attributes(owner)
        try:
            return module_names(module_source)
        except EditError:
            return None

    short_name = owner.split(".")[-1]
    return _class_attributes(short_name, source, root, instance=kind == "instance", seen=set())


def _class_attributes(
    class_name: str, source: str | None, root: Path, instance: bool, seen: set[str]
) -> set[str] | None:
    """Collect a class's attributes with those of its bases found in the repository or builtins."""
    if class_name in seen:
        return set()
    seen.add(class_name)
    info = None
    if source is not None:
        try:
            info = find_class(source, class_name)
        except EditError:
            info = None
    if info is None:
        info = _find_class_in_repository(class_name, root)
    if info is None:
        builtin = getattr(builtins, class_name, None)
        return set(dir(builtin)) if isinstance(builtin, type) else None

    names = set(info.class_names)
    if instance:
        names |= info.instance_names
    for base in info.bases:
        names |= _class_attributes(base, source, root, instance, seen) or set()
    return names


def _find_class_in_repository(class_name: str, root: Path) -> ClassInfo | None:
    pattern = re.compile(rf"^\s*class\s+{re.escape(class_name)}\b", re.MULTILINE)
    for file in _python_files(root):
        text = _read(root, file.relative_to(root).as_posix())
        if text is None or not pattern.search(text):
            continue
        try:
            info = find_class(text, class_name)
        except EditError:
            continue
        if info is not None:
            return info
    return None


def _python_files(root: Path) -> Iterator[Path]:
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root)
        if not _SKIPPED_FOLDERS.intersection(relative.parts[:-1]) and not is_test_path(
            relative.as_posix()
        ):
            yield file


def _module_source(module: str, root: Path) -> str | None:
    relative = module.replace(".", "/")
    for prefix in ("", "src/"):
        for candidate in (f"{prefix}{relative}.py", f"{prefix}{relative}/__init__.py"):
            text = _read(root, candidate)
            if text is not None:
                return text
    return None


def _stdlib_module_attributes(module: str) -> set[str] | None:
    top = module.split(".")[0]
    if not _is_importable_stdlib(top):
        return None
    try:
        return set(dir(importlib.import_module(module)))
    except ImportError:
        return None


def _read(root: Path, path: str) -> str | None:
    file = root / path
    try:
        return file.read_text(encoding="utf-8") if file.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        logger.debug("cannot read %s: %s", file, error)
        return None


def _describe(request: RepairRequest) -> str:
    if request.exc_type:
        return f"{request.exc_type}: {request.message.strip()[:120]}"
    if request.lint_code:
        return f"lint code {request.lint_code}: {request.message.strip()[:120]}"
    return f"{request.kind.value} fault {request.summary[:120]}"
