"""Turning a model's reply into file changes, whatever shape of edit the model chose.

Formats, in the order they are looked for:

1. SEARCH/REPLACE blocks (:mod:`patches.search_replace`), the format the
   prompt requests;
2. unified diffs, in a ``diff`` fence or bare, read hunk by hunk as
   SEARCH/REPLACE blocks, ignoring their line numbers;
3. a fenced code block under a file path that holds one or more functions
   (or methods inside their class) of that file: each replaces its namesake
   with libcst;
4. a fenced code block under a file path that holds a whole file, accepted
   for files up to :data:`WHOLE_FILE_MAX_LINES` lines.

Nothing is written: the result maps each path to its text before and after.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import libcst as cst

from patches.context import find_class, module_names
from patches.errors import EditError
from patches.function_edit import function_names, parse_function, replace_function
from patches.matching import AlreadyApplied, apply_section
from patches.nearest import ELISION
from patches.reply_text import FENCE, split_lines
from patches.search_replace import Block, parse_blocks

WHOLE_FILE_MAX_LINES = 300  # longer files must be edited with blocks, to keep replies short
_PATH = re.compile(r"^[\w.\-/]+\.[A-Za-z0-9]+$")
_HUNK = re.compile(r"^@@( |$)")  # models often write "@@ def name" without line numbers


class ReplyFormat(enum.Enum):
    """The shape of edit a reply used."""

    SEARCH_REPLACE = "search/replace"
    UNIFIED_DIFF = "unified diff"
    FUNCTION = "whole function"
    WHOLE_FILE = "whole file"


@dataclass(frozen=True)
class FencedCode:
    """A fenced code block with the file path written before it or on its first line."""

    path: str
    lines: tuple[str, ...]
    language: str


@dataclass(frozen=True)
class AppliedReply:
    """The changes a reply makes, ``{path: (before, after)}``, and what was skipped."""

    changes: dict[str, tuple[str, str]]
    format: ReplyFormat
    notes: tuple[str, ...] = field(default=())  # blocks left out because they were applied already


def apply_reply(
    text: str,
    root: Path,
    allowed: Collection[str] | None = None,
    whole_file_max_lines: int = WHOLE_FILE_MAX_LINES,
) -> AppliedReply:
    """Apply a reply to the files under ``root`` without writing them.

    ``allowed`` is the set of paths the reply may edit, or None for any path
    inside the repository. Raises EditError with the reason, the nearest real
    text for a quote that matched nowhere, and which edits applied before it.
    """
    text = text.replace("\r\n", "\n")
    if "<<<<<<<" in text and re.search(r"^\s*<{5,9}\s*SEARCH\s*$", text, re.MULTILINE):
        blocks = parse_blocks(text)
        return _apply_blocks(blocks, root, allowed, ReplyFormat.SEARCH_REPLACE)

    fenced = fenced_code(text)
    diff_blocks = _diff_blocks(text, fenced)
    if diff_blocks:
        return _apply_blocks(diff_blocks, root, allowed, ReplyFormat.UNIFIED_DIFF)

    code = [block for block in fenced if block.path]
    if not code:
        raise EditError(
            "the reply contains no edits: no SEARCH/REPLACE blocks, no unified diff and no code "
            "block under a file path. Reply with SEARCH/REPLACE blocks."
        )
    return _apply_code(code, root, allowed, whole_file_max_lines)


def fenced_code(text: str) -> list[FencedCode]:
    """List the fenced code blocks of ``text``, with the path named before or inside each."""
    lines = split_lines(text)
    found: list[FencedCode] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        marker = opening.group(1)
        end = index + 1
        while end < len(lines) and lines[end].strip() != marker:
            end += 1
        body = lines[index + 1 : end]
        path = _path_above(lines, index)
        if not path and body:
            inside = _path_in_comment(body[0])
            if inside:
                path, body = inside, body[1:]
        found.append(FencedCode(path, tuple(body), opening.group(2).lower()))
        index = end + 1
    return found


def _path_above(lines: list[str], fence: int) -> str:
    """Return the path on the last non-blank line before a fence, or ""."""
    cursor = fence - 1
    while cursor >= 0 and not lines[cursor].strip():
        cursor -= 1
    if cursor < 0:
        return ""
    line = lines[cursor].strip()
    quoted = [word for word in re.findall(r"`([^`\s]+)`", line) if _PATH.match(word)]
    if len(quoted) == 1:
        return quoted[0]
    bare = re.sub(r"^(#+|//|\*\*|[-*]\s)\s*", "", line)
    bare = re.sub(r"^(file|path|filename)\s*:\s*", "", bare, flags=re.IGNORECASE)
    bare = bare.strip("`*'\" ").rstrip(":").strip("`*'\" ")
    return bare if _PATH.match(bare) else ""


def _path_in_comment(line: str) -> str:
    match = re.match(r"^\s*(#|//)\s*(file(name)?\s*:\s*)?(?P<path>\S+)\s*$", line, re.IGNORECASE)
    if match and _PATH.match(match.group("path")) and "/" in match.group("path"):
        return match.group("path")
    return ""


def _diff_blocks(text: str, fenced: list[FencedCode]) -> list[Block]:
    """Read every unified diff in the reply as SEARCH/REPLACE blocks, one per hunk."""
    sources = [list(block.lines) for block in fenced if _looks_like_diff(block.lines)]
    paths = [block.path for block in fenced if _looks_like_diff(block.lines)]
    if not sources and _looks_like_diff(split_lines(text)):
        sources, paths = [split_lines(text)], [""]
    blocks: list[Block] = []
    for lines, path in zip(sources, paths, strict=True):
        blocks += _hunks(lines, path)
    return blocks


def _looks_like_diff(lines: Collection[str]) -> bool:
    return any(_HUNK.match(line) for line in lines) and any(
        line.startswith(("+", "-")) and not line.startswith(("+++", "---")) for line in lines
    )


def _hunks(lines: list[str], path: str) -> list[Block]:
    blocks: list[Block] = []
    search: list[str] | None = None
    replace: list[str] = []

    def finish() -> None:
        if search is not None and (search or replace):
            if not path:
                raise EditError(
                    "a unified diff in the reply has a hunk without a file path. Start each "
                    "file's diff with '--- a/PATH' and '+++ b/PATH' lines."
                )
            blocks.append(Block(path, _join(search), _join(replace)))

    for line in lines:
        if line.startswith("+++ "):
            finish()
            search = None
            path = _diff_path(line[4:], path)
        elif line.startswith("--- ") or line.startswith("diff --git"):
            finish()
            search = None
            if line.startswith("--- ") and not path:
                path = _diff_path(line[4:], path)
        elif _HUNK.match(line):
            finish()
            search, replace = [], []
        elif search is None or line.startswith("\\"):
            continue  # prose between diffs, or git's "No newline at end of file" marker
        elif line.startswith("-"):
            search.append(line[1:])
        elif line.startswith("+"):
            replace.append(line[1:])
        else:
            # Models often drop the space that starts a blank context line.
            context = line[1:] if line.startswith(" ") else line
            search.append(context)
            replace.append(context)
    finish()
    return blocks


def _diff_path(text: str, current: str) -> str:
    name = text.split("\t")[0].strip()
    if name == "/dev/null":
        return current
    if name.startswith(("a/", "b/")):
        name = name[2:]
    return name


def _apply_blocks(
    blocks: list[Block], root: Path, allowed: Collection[str] | None, kind: ReplyFormat
) -> AppliedReply:
    if not blocks:
        raise EditError(
            "the reply contains no SEARCH/REPLACE blocks. Reply with at least one block in the "
            "requested format."
        )
    files = _Files(root, allowed)
    notes: list[str] = []
    for number, block in enumerate(blocks, start=1):
        path = files.check(block.path)
        try:
            files.update(path, _apply_block(files.current(path), block, path))
        except AlreadyApplied as error:
            notes.append(f"block {number}: {error}")
        except EditError as error:
            done = f" Blocks 1-{number - 1} applied." if number > 1 else ""
            raise EditError(f"block {number} of {len(blocks)} failed: {error}{done}") from error
    return files.result(kind, notes)


def _apply_block(source: str | None, block: Block, path: str) -> str:
    if not block.search.strip():
        if source is None:
            return block.replace
        raise EditError(
            f"the SEARCH section for {path} is empty, but that file exists. An empty SEARCH "
            "only creates a new file. Copy the lines to change (or the lines to insert after) "
            "into SEARCH."
        )
    if source is None:
        raise EditError(
            f"{path} does not exist. Use a path from the repository, or an empty SEARCH "
            "section to create a new file."
        )
    return apply_section(source, block.search, block.replace, path)[0]


def _apply_code(
    code: list[FencedCode], root: Path, allowed: Collection[str] | None, max_lines: int
) -> AppliedReply:
    files = _Files(root, allowed)
    kinds: set[ReplyFormat] = set()
    for block in code:
        path = files.check(block.path)
        source = files.current(path)
        functions = _functions_in(block, source) if source is not None else None
        if functions is not None:
            for owner, function in functions:
                files.update(
                    path, replace_function(files.current(path) or "", function, path, owner)
                )
            kinds.add(ReplyFormat.FUNCTION)
            continue
        files.update(path, _whole_file(path, source, list(block.lines), max_lines))
        kinds.add(ReplyFormat.WHOLE_FILE)
    kind = ReplyFormat.WHOLE_FILE if ReplyFormat.WHOLE_FILE in kinds else ReplyFormat.FUNCTION
    return files.result(kind, [])


def _functions_in(
    block: FencedCode, source: str
) -> list[tuple[str | None, cst.FunctionDef]] | None:
    """Return the functions of a code block that replace functions of the file, or None.

    The block qualifies when it holds only functions (or one class holding
    only methods) whose names the file defines, and it leaves out other code
    of the file, so it is not a whole file.
    """
    single = parse_function(list(block.lines))
    if single is not None:
        return [(None, single)] if _defines(source, single.name.value) else None
    try:
        module = cst.parse_module("\n".join(block.lines) + "\n")
    except cst.ParserSyntaxError:
        return None
    body = module.body
    if len(body) == 1 and isinstance(body[0], cst.ClassDef):
        owner = body[0].name.value
        methods = [node for node in body[0].body.body if isinstance(node, cst.FunctionDef)]
        if len(methods) != len(body[0].body.body) or not methods:
            return None
        if not all(_defines(source, f"{owner}.{node.name.value}") for node in methods):
            return None
        return (
            [(owner, node) for node in methods] if _class_has_more(source, owner, methods) else None
        )
    if body and all(isinstance(node, cst.FunctionDef) for node in body):
        functions = [node for node in body if isinstance(node, cst.FunctionDef)]
        if all(_defines(source, node.name.value) for node in functions):
            return [(None, node) for node in functions]
    return None


def _defines(source: str, name: str) -> bool:
    """Tell whether ``source`` defines ``name``: a qualified name, or a bare one at any depth."""
    try:
        return any(known == name or known.endswith(f".{name}") for known in function_names(source))
    except EditError:
        return False


def _class_has_more(source: str, owner: str, methods: list[cst.FunctionDef]) -> bool:
    info = find_class(source, owner)
    return info is not None and len(info.class_names) > len(methods)


def _whole_file(path: str, source: str | None, lines: list[str], max_lines: int) -> str:
    text = "\n".join(lines) + "\n"
    if source is None:
        return text
    size = len(source.splitlines())
    if size > max_lines:
        raise EditError(
            f"the reply sends the whole of {path}, but that file has {size} lines and whole-file "
            f"replies are accepted up to {max_lines}. Reply with SEARCH/REPLACE blocks."
        )
    existing = set(source.splitlines())
    elided = [line for line in lines if ELISION.match(line) and line not in existing]
    if elided:
        raise EditError(
            f"the whole-file reply for {path} leaves code out ({elided[0].strip()!r}), so it "
            "would delete it. Send the complete file or SEARCH/REPLACE blocks."
        )
    if path.endswith(".py"):
        _check_definitions_kept(path, source, text)
    return text


def _check_definitions_kept(path: str, source: str, text: str) -> None:
    try:
        dropped = sorted(module_names(source, path) - module_names(text, path))
    except EditError:
        return  # a result that does not parse is rejected later by the compile check
    if dropped:
        raise EditError(
            f"the whole-file reply for {path} drops names the file defines: "
            f"{', '.join(dropped[:8])}. Send the complete file or SEARCH/REPLACE blocks."
        )


class _Files:
    """The files a reply edits, each with its original and current text."""

    def __init__(self, root: Path, allowed: Collection[str] | None) -> None:
        self._root = root
        self._allowed = None if allowed is None else set(allowed)
        self._original: dict[str, str | None] = {}
        self._current: dict[str, str | None] = {}

    def check(self, path: str) -> str:
        normal = normalise_path(path)
        if self._allowed is not None and normal not in self._allowed:
            shown = ", ".join(sorted(self._allowed)) or "none"
            raise EditError(
                f"{normal} is not a file this fault may edit (allowed: {shown}). Edit only the "
                "files shown in the request."
            )
        if normal not in self._original:
            self._original[normal] = self._current[normal] = read_file(self._root, normal)
        return normal

    def current(self, path: str) -> str | None:
        return self._current[path]

    def update(self, path: str, text: str) -> None:
        self._current[path] = text

    def result(self, kind: ReplyFormat, notes: list[str]) -> AppliedReply:
        changes = {
            path: (self._original[path] or "", text)
            for path, text in self._current.items()
            if text is not None and text != self._original[path]
        }
        if not changes and notes:
            raise EditError(
                "every edit in the reply is already in the files, so nothing changes: "
                + " ".join(notes)
                + " If the fault remains, its cause is elsewhere."
            )
        return AppliedReply(changes, kind, tuple(notes))


def normalise_path(path: str) -> str:
    """Check a reply's path stays inside the repository and return it in POSIX form."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise EditError(
            f"the path {path!r} is not a relative path inside the repository. Use a path "
            "relative to the repository root."
        )
    return posix.as_posix()


def read_file(root: Path, path: str) -> str | None:
    file = root / path
    if not file.exists():
        return None
    if not file.is_file():
        raise EditError(f"{path} is not a regular file, and replies can only edit files.")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise EditError(f"{path} is not UTF-8 text, so replies cannot edit it: {error}") from error


def _join(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)
