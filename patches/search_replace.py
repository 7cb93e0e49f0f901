"""SEARCH/REPLACE blocks: parsing them from a model's reply and applying them to files.

The format the prompt requests::

    path/to/file.py
    <<<<<<< SEARCH
    lines copied exactly from the file
    =======
    the lines that replace them
    >>>>>>> REPLACE

Blocks may sit inside code fences, and the path is the line before the opening
marker or before the fence. A block right after another one, with no path of
its own, edits the same file. An empty SEARCH creates a file that does not
exist yet.

Matching is line by line: first exactly, then ignoring a uniform difference in
indentation (and trailing whitespace), re-indenting the replacement by the
same offset. Either way the match must be unique. A failed match raises
:class:`~patches.errors.EditError` whose message shows the nearest real lines,
so it can be sent back to the model.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from patches.errors import EditError

_OPEN = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_CLOSE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")

# The nearest-text search compares at most this many windows, more than most files have.
_MAX_WINDOWS = 5000


@dataclass(frozen=True)
class Block:
    """One SEARCH/REPLACE edit: replace ``search`` with ``replace`` in the file at ``path``."""

    path: str
    search: str
    replace: str


def parse_blocks(text: str) -> list[Block]:
    """Parse every SEARCH/REPLACE block in ``text``, raising EditError on a malformed block.

    Returns an empty list for a reply without blocks.
    """
    lines = _split_lines(text.replace("\r\n", "\n"))
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if _CLOSE.match(lines[index]):
            raise EditError(
                f"line {index + 1} of the reply has a REPLACE marker outside any block. Every "
                "block starts with '<<<<<<< SEARCH'."
            )
        if not _OPEN.match(lines[index]):
            index += 1
            continue

        opening = index + 1  # 1-based line number, for messages
        path = _path_before(lines, index, blocks[-1].path if blocks else None)
        search, index = _collect(lines, index + 1, _DIVIDER, "=======", path, opening)
        replace, index = _collect(lines, index, _CLOSE, ">>>>>>> REPLACE", path, opening)
        blocks.append(Block(path, _join(search), _join(replace)))
    return blocks


def apply_block(source: str | None, block: Block) -> str:
    """Return ``source`` with ``block`` applied, where a None ``source`` is a missing file.

    Raises EditError when the SEARCH text matches nowhere, matches more than
    once, or is empty for a file that already exists.
    """
    if not block.search.strip():
        if source is None:
            return block.replace
        raise EditError(
            f"the SEARCH section for {block.path} is empty, but that file exists. An empty SEARCH "
            "only creates a new file. Copy the lines to change (or the lines to insert after) "
            "into SEARCH."
        )
    if source is None:
        raise EditError(
            f"{block.path} does not exist. Use a path from the repository, or an empty SEARCH "
            "section to create a new file."
        )

    # The file keeps its dominant line ending, and a stray CR stays part of its line.
    newline = "\r\n" if source.count("\r\n") * 2 > source.count("\n") else "\n"
    source_lines = _split_lines(source, newline)
    search_lines = _split_lines(block.search.replace("\r\n", "\n"))
    replace_lines = _split_lines(block.replace.replace("\r\n", "\n"))

    exact = _exact_matches(source_lines, search_lines)
    if len(exact) == 1:
        start = exact[0]
        result = source_lines[:start] + replace_lines + source_lines[start + len(search_lines) :]
        return _rejoin(result, source, newline)
    if len(exact) > 1:
        raise _ambiguous(block, exact)

    tolerant = _tolerant_matches(source_lines, search_lines)
    if len(tolerant) == 1:
        start, source_indent, search_indent = tolerant[0]
        reindented = [_reindent(line, search_indent, source_indent) for line in replace_lines]
        result = source_lines[:start] + reindented + source_lines[start + len(search_lines) :]
        return _rejoin(result, source, newline)
    if len(tolerant) > 1:
        raise _ambiguous(block, [start for start, _, _ in tolerant])

    raise EditError(_no_match_message(block, source_lines, search_lines))


def apply_reply(text: str, root: Path) -> dict[str, tuple[str, str]]:
    """Apply every block of a reply to the files under ``root`` without writing them.

    Returns ``{path: (before, after)}``, with ``before`` "" for a new file.
    Several blocks on one file apply in order, each to the result of the
    previous one. Raises EditError when the reply has no blocks, a path leaves
    the repository, or any block fails to apply.
    """
    blocks = parse_blocks(text)
    if not blocks:
        raise EditError(
            "the reply contains no SEARCH/REPLACE blocks. Reply with at least one block in the "
            "requested format."
        )

    changes: dict[str, tuple[str, str]] = {}
    current: dict[str, str | None] = {}
    for number, block in enumerate(blocks, start=1):
        path = _normalise_path(block.path)
        if path not in current:
            current[path] = _read(root, path)
        try:
            updated = apply_block(current[path], block)
        except EditError as error:
            done = f" Blocks 1-{number - 1} applied." if number > 1 else ""
            raise EditError(f"block {number} of {len(blocks)} failed: {error}{done}") from error
        before = changes[path][0] if path in changes else current[path] or ""
        current[path] = updated
        changes[path] = (before, updated)
    return changes


def _path_before(lines: list[str], index: int, previous: str | None) -> str:
    """Find the path for the block opening at ``index``: the line before it or before its fence."""
    cursor = index - 1
    if cursor >= 0 and _FENCE.match(lines[cursor]):
        cursor -= 1
    while cursor >= 0 and not lines[cursor].strip():
        cursor -= 1
    if cursor >= 0 and _CLOSE.match(lines[cursor]) and previous is not None:
        return previous  # a block straight after another edits the same file
    if cursor >= 0 and _FENCE.match(lines[cursor]) and previous is not None:
        # The fence closed the previous block and opened this one.
        above = cursor - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        if above >= 0 and _CLOSE.match(lines[above]):
            return previous
    candidate = _clean_path(lines[cursor]) if cursor >= 0 else ""
    if not candidate:
        shown = lines[cursor].strip() if cursor >= 0 else "(start of reply)"
        raise EditError(
            f"the block at line {index + 1} of the reply has no file path. Put the path alone on "
            f"the line before '<<<<<<< SEARCH' or before the code fence (found {shown!r})."
        )
    return candidate


def _clean_path(line: str) -> str:
    """Strip the decoration models put around a path, returning "" for a line that is no path."""
    text = line.strip()
    text = re.sub(r"^(#+|//|\*\*|[-*]\s)\s*", "", text)
    text = re.sub(r"^(file|path|filename)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = text.strip().strip("`*'\"").rstrip(":").strip().strip("`*'\"")
    if not text or any(character.isspace() for character in text):
        return ""
    if _OPEN.match(text) or _DIVIDER.match(text) or _CLOSE.match(text) or _FENCE.match(text):
        return ""
    return text


def _collect(
    lines: list[str], start: int, marker: re.Pattern[str], shown: str, path: str, opening: int
) -> tuple[list[str], int]:
    """Return the lines up to ``marker`` and the index after the marker."""
    for index in range(start, len(lines)):
        if marker.match(lines[index]):
            return lines[start:index], index + 1
        if _OPEN.match(lines[index]):
            break
        if marker is _DIVIDER and _CLOSE.match(lines[index]):
            break
    raise EditError(
        f"the block for {path} that starts at line {opening} of the reply is missing its "
        f"'{shown}' line. Every block needs SEARCH, '=======' and REPLACE markers in that order."
    )


def _split_lines(text: str, newline: str = "\n") -> list[str]:
    """Split on line ends only, because ``str.splitlines`` also splits at form feeds."""
    if not text:
        return []
    body = text[: -len(newline)] if text.endswith(newline) else text
    return body.split(newline)


def _join(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _rejoin(lines: list[str], original: str, newline: str) -> str:
    text = newline.join(lines)
    if lines and original.endswith("\n"):
        text += newline
    return text


def _exact_matches(source: list[str], search: list[str]) -> list[int]:
    size = len(search)
    return [
        start for start in range(len(source) - size + 1) if source[start : start + size] == search
    ]


def _tolerant_matches(source: list[str], search: list[str]) -> list[tuple[int, str, str]]:
    """Return (start, indents) of each window equal to ``search`` up to one indentation offset."""
    search_indent = _common_indent(search)
    wanted = [_strip_indent(line, search_indent) for line in search]
    size = len(search)
    matches = []
    for start in range(len(source) - size + 1):
        window = source[start : start + size]
        window_indent = _common_indent(window)
        if [_strip_indent(line, window_indent) for line in window] == wanted:
            matches.append((start, window_indent, search_indent))
    return matches


def _common_indent(lines: list[str]) -> str:
    """Return the longest whitespace prefix that every non-blank line shares."""
    indents = [line[: len(line) - len(line.lstrip())] for line in lines if line.strip()]
    if not indents:
        return ""
    prefix = indents[0]
    for indent in indents[1:]:
        while not indent.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def _strip_indent(line: str, indent: str) -> str:
    if not line.strip():
        return ""
    return line[len(indent) :].rstrip()


def _reindent(line: str, search_indent: str, source_indent: str) -> str:
    if not line.strip():
        return ""
    if line.startswith(search_indent):
        return source_indent + line[len(search_indent) :]
    # Less indented than the SEARCH text: keep what is left of its relative indentation.
    return source_indent + line.lstrip()


def _ambiguous(block: Block, starts: list[int]) -> EditError:
    places = ", ".join(str(start + 1) for start in starts[:10])
    return EditError(
        f"the SEARCH section for {block.path} matches {len(starts)} places (starting at lines "
        f"{places}). Add more context lines so that it matches exactly one."
    )


def _no_match_message(block: Block, source: list[str], search: list[str]) -> str:
    message = (
        f"the SEARCH section for {block.path} does not match the file. SEARCH must copy "
        "existing lines exactly."
    )
    nearest = _nearest_window(source, search)
    if nearest is None:
        return message
    start, end = nearest
    shown = "\n".join(source[start:end])
    return f"{message} The most similar lines are {start + 1}-{end}:\n{shown}"


def _nearest_window(source: list[str], search: list[str]) -> tuple[int, int] | None:
    """Return the [start, end) line range of ``source`` most similar to ``search``."""
    if not source or not search:
        return None
    size = min(len(search), len(source))
    wanted = "\n".join(line.strip() for line in search)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(wanted)
    best_score = 0.0
    best_start = 0
    for start in range(min(len(source) - size + 1, _MAX_WINDOWS)):
        matcher.set_seq1("\n".join(line.strip() for line in source[start : start + size]))
        # The cheap upper bounds skip most windows before the full comparison.
        if matcher.real_quick_ratio() <= best_score or matcher.quick_ratio() <= best_score:
            continue
        score = matcher.ratio()
        if score > best_score:
            best_score, best_start = score, start
    if best_score < 0.3:
        return None
    return best_start, best_start + size


def _normalise_path(path: str) -> str:
    """Check a block's path stays inside the repository and return it in POSIX form."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise EditError(
            f"the block path {path!r} is not a relative path inside the repository. Use a path "
            "relative to the repository root."
        )
    return posix.as_posix()


def _read(root: Path, path: str) -> str | None:
    file = root / path
    if not file.exists():
        return None
    if not file.is_file():
        raise EditError(f"{path} is not a regular file, and blocks can only edit files.")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise EditError(f"{path} is not UTF-8 text, so blocks cannot edit it: {error}") from error
