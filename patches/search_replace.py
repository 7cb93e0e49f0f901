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

:func:`apply_block` places a block with the matching ladder of
:mod:`patches.matching`, and :mod:`patches.reply_formats` applies whole
replies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patches.errors import EditError
from patches.matching import apply_section

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
    once, or is empty for a file that already exists. The matching itself is
    :func:`patches.matching.apply_section`.
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
    return apply_section(source, block.search, block.replace, block.path)[0]


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
