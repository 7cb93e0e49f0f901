"""Finding where a SEARCH section belongs in a file, and splicing in its REPLACE section.

The matcher climbs a ladder and stops at the first rung that finds exactly
one place. A rung that finds several places stops the climb with an
ambiguity error, because guessing between them could edit the wrong code.

1. exact: the lines as quoted;
2. trimmed: without the blank lines that open or close SEARCH;
3. indentation: equal up to one uniform indentation offset, and the
   replacement moves by the same offset;
4. stripped: every line equal once stripped, and the replacement re-indented
   line by line, keeping the first variant whose result compiles;
5. elisions: SEARCH cut at lines containing only ``...``, each segment matched
   exactly once and in order, and REPLACE cut at the same markers;
6. function: the whole function around the searched text, replaced with
   libcst when REPLACE parses as that function.

Rungs 1-5 run again with copied line numbers removed when the quoted text
has them. A fuzzy match is never applied: when nothing matches, the error
shows the most similar real lines. A REPLACE section that is already in the
file raises :class:`AlreadyApplied` instead of being applied twice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from patches.errors import EditError
from patches.function_edit import replace_enclosing_function
from patches.nearest import ELISION, no_match_message
from patches.reply_text import clean_section, split_lines, strip_line_numbers


class AlreadyApplied(EditError):
    """The REPLACE text of a block is in the file already, so applying it would duplicate it."""


@dataclass(frozen=True)
class Spliced:
    """The new lines of a file and the rung of the ladder that placed the edit."""

    lines: list[str]
    rung: str


def apply_section(source: str, search: str, replace: str, path: str) -> tuple[str, str]:
    """Return ``source`` with ``search`` replaced by ``replace``, and the rung that matched.

    Raises AlreadyApplied when the replacement is in the file already, and
    EditError when SEARCH matches nowhere or in several places.
    """
    newline = "\r\n" if source.count("\r\n") * 2 > source.count("\n") else "\n"
    body = source[: -len(newline)] if source.endswith(newline) else source
    source_lines = body.split(newline) if source else []
    search_lines = clean_section(split_lines(search), source_lines)
    replace_lines = clean_section(split_lines(replace), source_lines)

    attempts = [(search_lines, replace_lines)]
    unnumbered = (strip_line_numbers(search_lines), strip_line_numbers(replace_lines))
    if unnumbered[0] != search_lines:
        attempts.append(unnumbered)
    for quoted_search, quoted_replace in attempts:
        spliced = _climb(source_lines, quoted_search, quoted_replace, path)
        if spliced is not None:
            return _rejoin(spliced.lines, source, newline), spliced.rung

    for quoted_search, quoted_replace in attempts:
        _raise_if_present(source_lines, quoted_search, quoted_replace, path)
    if path.endswith(".py"):
        replaced = replace_enclosing_function(source, search_lines, replace_lines, path)
        if replaced is not None:
            return replaced, "function"
    raise EditError(no_match_message(path, source_lines, search_lines))


def find_exact(source: list[str], search: list[str]) -> list[int]:
    size = len(search)
    if not size:
        return []
    first = search[0]
    return [
        start
        for start in range(len(source) - size + 1)
        if source[start] == first and source[start : start + size] == search
    ]


def find_indented(source: list[str], search: list[str]) -> list[tuple[int, str, str]]:
    """Return (start, file indent, SEARCH indent) of each window equal up to one indent offset."""
    search_indent = common_indent(search)
    wanted = [_strip_indent(line, search_indent) for line in search]
    size = len(search)
    matches = []
    for start in range(len(source) - size + 1):
        if source[start].strip() != search[0].strip():
            continue
        window = source[start : start + size]
        window_indent = common_indent(window)
        if [_strip_indent(line, window_indent) for line in window] == wanted:
            matches.append((start, window_indent, search_indent))
    return matches


def common_indent(lines: list[str]) -> str:
    """Return the longest whitespace prefix that every non-blank line shares."""
    indents = [line[: len(line) - len(line.lstrip())] for line in lines if line.strip()]
    if not indents:
        return ""
    prefix = indents[0]
    for indent in indents[1:]:
        while not indent.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def reindent(lines: list[str], search_indent: str, file_indent: str) -> list[str]:
    result = []
    for line in lines:
        if not line.strip():
            result.append("")
        elif line.startswith(search_indent):
            result.append(file_indent + line[len(search_indent) :])
        else:
            # Less indented than the SEARCH text: keep what is left of its relative indentation.
            result.append(file_indent + line.lstrip())
    return result


def _climb(source: list[str], search: list[str], replace: list[str], path: str) -> Spliced | None:
    """Try rungs 1-5 in order, returning None when none of them finds a place."""
    exact = find_exact(source, search)
    if len(exact) > 1:
        raise _ambiguous(path, exact)
    if exact:
        return _splice(source, exact[0], search, replace, "exact", path)

    trimmed_search, trimmed_replace = _trim_blank_edges(search, replace)
    if not trimmed_search:
        raise EditError(
            f"the SEARCH section for {path} contains only blank lines. Copy the lines to change "
            "into SEARCH."
        )
    if trimmed_search != search:
        exact = find_exact(source, trimmed_search)
        if len(exact) > 1:
            raise _ambiguous(path, exact)
        if exact:
            return _splice(source, exact[0], trimmed_search, trimmed_replace, "trimmed", path)

    indented = find_indented(source, trimmed_search)
    if len(indented) > 1:
        raise _ambiguous(path, [start for start, _, _ in indented])
    if indented:
        start, file_indent, search_indent = indented[0]
        moved = reindent(trimmed_replace, search_indent, file_indent)
        return _splice(source, start, trimmed_search, moved, "indentation", path)

    stripped = _stripped_matches(source, trimmed_search)
    if len(stripped) > 1:
        raise _ambiguous(path, stripped)
    if stripped:
        return _stripped_splice(source, stripped[0], trimmed_search, trimmed_replace, path)

    return _elided_splice(source, trimmed_search, trimmed_replace, path)


def _splice(
    source: list[str], start: int, search: list[str], replace: list[str], rung: str, path: str
) -> Spliced:
    end = start + len(search)
    _raise_if_covering(source, start, end, replace, path)
    return Spliced(source[:start] + replace + source[end:], rung)


def _raise_if_covering(
    source: list[str], start: int, end: int, replace: list[str], path: str
) -> None:
    """Raise AlreadyApplied when the matched lines sit inside an existing copy of REPLACE.

    That happens when a block that only adds lines is sent a second time:
    its SEARCH still matches, and applying it again would duplicate them.
    """
    if not replace or replace == source[start:end] or len(replace) <= end - start:
        return
    for place in find_exact(source, replace):
        if place <= start and end <= place + len(replace):
            raise AlreadyApplied(_already_message(path, place, len(replace)))


def _raise_if_present(source: list[str], search: list[str], replace: list[str], path: str) -> None:
    _, trimmed = _trim_blank_edges(search, replace)
    if not trimmed or not any(line.strip() for line in trimmed):
        return
    if {line.strip() for line in trimmed} <= {line.strip() for line in search}:
        return  # a block that only deletes lines adds nothing that could be found
    places = [start for start, _, _ in find_indented(source, trimmed)]
    if len(places) == 1:
        raise AlreadyApplied(_already_message(path, places[0], len(trimmed)))


def _already_message(path: str, start: int, size: int) -> str:
    return (
        f"the REPLACE section for {path} is already in the file (lines {start + 1}-"
        f"{start + size}), so this change is applied already. Leave this block out."
    )


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    def trim(lines: list[str]) -> list[str]:
        start, end = 0, len(lines)
        while start < end and not lines[start].strip():
            start += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        return lines[start:end]

    return trim(search), trim(replace)


def _stripped_matches(source: list[str], search: list[str]) -> list[int]:
    wanted = [line.strip() for line in search]
    size = len(search)
    return [
        start
        for start in range(len(source) - size + 1)
        if source[start].strip() == wanted[0]
        and [line.strip() for line in source[start : start + size]] == wanted
    ]


def _stripped_splice(
    source: list[str], start: int, search: list[str], replace: list[str], path: str
) -> Spliced:
    """Re-indent REPLACE in each way that could be meant, and keep the first that compiles."""
    window = source[start : start + len(search)]
    variants = [
        _mapped_indent(window, search, replace),
        _first_line_indent(window, search, replace),
    ]
    if len(replace) == len(search):
        variants.insert(0, _positional_indent(window, search, replace))
    end = start + len(search)
    for variant in variants:
        lines = source[:start] + variant + source[end:]
        if not path.endswith(".py") or _compiles("\n".join(lines)):
            _raise_if_covering(source, start, end, variant, path)
            return Spliced(lines, "stripped")
    raise EditError(
        f"the SEARCH section for {path} matches lines {start + 1}-{end} only when indentation "
        "is ignored, and no re-indented REPLACE section compiles there. Copy the lines with "
        "their exact indentation."
    )


# NOTE: the stripped rung re-indents with spaces, so in a file indented with tabs its result
# mixes both and is then rejected as uncompilable unless the block sits at the top level.
def _indent_width(line: str) -> int:
    return len(line[: len(line) - len(line.lstrip())].expandtabs(4))


def _mapped_indent(window: list[str], search: list[str], replace: list[str]) -> list[str]:
    """Give each REPLACE line the file's indentation of the SEARCH line it repeats.

    A new line keeps its quoted indentation relative to the line before it.
    """
    pairs = zip(search, window, strict=True)
    matched = {line.strip(): found for line, found in pairs if line.strip()}
    result: list[str] = []
    previous_quoted, previous_real = 0, _indent_width(window[0]) if window else 0
    for line in replace:
        if not line.strip():
            result.append("")
            continue
        if line.strip() in matched:
            real = _indent_width(matched[line.strip()])
        else:
            real = max(0, previous_real + _indent_width(line) - previous_quoted)
        result.append(" " * real + line.strip())
        previous_quoted, previous_real = _indent_width(line), real
    return result


def _positional_indent(window: list[str], search: list[str], replace: list[str]) -> list[str]:
    """Give REPLACE line i the file's indentation of line i, plus its quoted difference."""
    result = []
    for real, quoted, line in zip(window, search, replace, strict=True):
        if not line.strip():
            result.append("")
            continue
        width = _indent_width(real) + _indent_width(line) - _indent_width(quoted)
        result.append(" " * max(0, width) + line.strip())
    return result


def _first_line_indent(window: list[str], search: list[str], replace: list[str]) -> list[str]:
    """Shift every REPLACE line by the offset between the first SEARCH line and the file."""
    offset = _indent_width(window[0]) - _indent_width(search[0])
    return [
        " " * max(0, _indent_width(line) + offset) + line.strip() if line.strip() else ""
        for line in replace
    ]


def _elided_splice(
    source: list[str], search: list[str], replace: list[str], path: str
) -> Spliced | None:
    """Match SEARCH segments between "..." lines one by one, and replace each with its pair."""
    search_parts = _split_at_elisions(search)
    if len(search_parts) < 2:
        return None
    replace_parts = _split_at_elisions(replace)
    if len(replace_parts) != len(search_parts):
        raise EditError(
            f"the SEARCH section for {path} leaves out code with {len(search_parts) - 1} '...' "
            f"line(s), but REPLACE has {len(replace_parts) - 1}. Use the same '...' lines in "
            "both, or copy the whole code."
        )

    pieces: list[str] = []
    cursor = 0
    for part_search, part_replace in zip(search_parts, replace_parts, strict=True):
        if not part_search:
            if part_replace:
                raise EditError(
                    f"the REPLACE section for {path} adds lines next to a '...' line, where "
                    "they have no place in the file. Quote the lines around them in SEARCH."
                )
            continue
        start, moved = _segment_place(source, part_search, part_replace, path)
        if start < cursor:
            raise EditError(
                f"the segments of the SEARCH section for {path} are out of order in the file "
                f"(one matches line {start + 1}). Quote them in file order."
            )
        pieces += source[cursor:start] + moved
        cursor = start + len(part_search)
    return Spliced(pieces + source[cursor:], "elisions")


def _segment_place(
    source: list[str], search: list[str], replace: list[str], path: str
) -> tuple[int, list[str]]:
    exact = find_exact(source, search)
    if len(exact) == 1:
        return exact[0], replace
    indented = find_indented(source, search) if not exact else []
    if len(indented) == 1:
        start, file_indent, search_indent = indented[0]
        return start, reindent(replace, search_indent, file_indent)
    count = len(exact) or len(indented)
    if count:
        shown = "\n".join(search[:3])
        raise EditError(
            f"a segment of the SEARCH section for {path} between '...' lines matches {count} "
            f"places, and each must match once. Add context lines to this segment:\n{shown}"
        )
    raise EditError(no_match_message(path, source, search))


def _split_at_elisions(lines: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in lines:
        if ELISION.match(line):
            parts.append([])
        else:
            parts[-1].append(line)
    return [_trim_blank_edges(part, [])[0] for part in parts]


def _compiles(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<patched>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _ambiguous(path: str, starts: list[int]) -> EditError:
    places = ", ".join(str(start + 1) for start in starts[:10])
    return EditError(
        f"the SEARCH section for {path} matches {len(starts)} places (starting at lines "
        f"{places}). Add more context lines so that it matches exactly one."
    )


def _rejoin(lines: list[str], original: str, newline: str) -> str:
    text = newline.join(lines)
    if lines and original.endswith("\n"):
        text += newline
    return text


def _strip_indent(line: str, indent: str) -> str:
    if not line.strip():
        return ""
    return line[len(indent) :].rstrip()
