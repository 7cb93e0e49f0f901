"""Clean-up of the code that a model copies into a reply, before it is matched against a file.

Models decorate quoted code in a few recurring ways: Windows line ends, a
code fence inside a SEARCH or REPLACE section, line numbers copied from the
prompt (``12: code``, ``12 | code``), and tabs where the file has spaces.
Each helper undoes one of them and leaves any other text as it is.
"""

from __future__ import annotations

import re
from itertools import pairwise

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+.#-]*)\s*$")
# A copied line number: digits, then a colon, a bar, a tab or two spaces, then the code.
_LINE_NUMBER = re.compile(r"^\s*(\d{1,6})(?::\s?|\s?\|\s?|\t|  )(.*)$")
TAB_WIDTH = 4


def split_lines(text: str) -> list[str]:
    """Split ``text`` into lines without their ends, treating CRLF and LF alike."""
    text = text.replace("\r\n", "\n")
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def strip_fences(lines: list[str]) -> list[str]:
    """Drop a code fence that opens the first line and one that closes the last line."""
    if lines and FENCE.match(lines[0]):
        lines = lines[1:]
    if lines and FENCE.match(lines[-1]) and not FENCE.match(lines[-1]).group(2):  # type: ignore[union-attr]
        lines = lines[:-1]
    return lines


def strip_line_numbers(lines: list[str]) -> list[str]:
    """Remove copied line numbers when every non-blank line has one and they count up by one."""
    numbered = [_LINE_NUMBER.match(line) for line in lines if line.strip()]
    if len(numbered) < 2 or not all(numbered):
        return lines
    numbers = [int(match.group(1)) for match in numbered if match]
    if any(later - earlier != 1 for earlier, later in pairwise(numbers)):
        return lines  # counts that skip lines are more likely data than copied numbers
    result = []
    for line in lines:
        match = _LINE_NUMBER.match(line)
        result.append(match.group(2) if match else line)
    return result


def uses_tabs(lines: list[str]) -> bool:
    """Tell whether the indented lines are mostly indented with tabs."""
    tabbed = sum(1 for line in lines if line.startswith("\t"))
    spaced = sum(1 for line in lines if line.startswith(" "))
    return tabbed > spaced


def convert_tabs(lines: list[str], to_tabs: bool) -> list[str]:
    """Rewrite leading indentation as tabs or as spaces, ``TAB_WIDTH`` columns per tab."""
    result = []
    for line in lines:
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        columns = len(indent.expandtabs(TAB_WIDTH))
        if to_tabs:
            new_indent = "\t" * (columns // TAB_WIDTH) + " " * (columns % TAB_WIDTH)
        else:
            new_indent = " " * columns
        result.append(new_indent + body)
    return result


def clean_section(lines: list[str], file_lines: list[str] | None) -> list[str]:
    """Drop fences from one quoted section and match the file's choice of tabs or spaces.

    Line numbers are left in place, because a dict of numbered keys looks the
    same. The matcher strips them only when the section does not match as it is.
    """
    lines = strip_fences(lines)
    if file_lines is not None and any(line.startswith(("\t", " ")) for line in lines):
        file_tabs = uses_tabs(file_lines)
        file_indented = any(line.startswith(("\t", " ")) for line in file_lines)
        if file_indented and file_tabs != uses_tabs(lines):
            lines = convert_tabs(lines, to_tabs=file_tabs)
    return lines
