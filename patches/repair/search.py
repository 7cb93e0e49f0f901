"""Generate-and-validate search: mutants at the most suspicious lines, within a budget.

Lines come from :func:`patches.repair.sbfl.rank_lines`. Lines of equal score
form one group, and inside a group the mutants are ordered by operator
priority and then by line, so the kernel validates the likeliest first. The
search stops at ``max_candidates`` mutants or when ``seconds`` have passed.

A mutant may only contain literals that the file already had, that are one
away from one of its integer constants, or that are neutral (see
``NEUTRAL_LITERALS``). Nothing the failing test contains can enter a patch
any other way, so the search cannot special-case a test's inputs.
"""

from __future__ import annotations

import ast
import itertools
import logging
import time
from collections import Counter
from dataclasses import dataclass

from patches.diff import make_candidate
from patches.errors import EditError
from patches.repair.mutations import Mutant, mutate_line
from patches.repair.sbfl import Reader, SuspiciousLine, rank_lines
from patches.types import Candidate, RepairRequest

logger = logging.getLogger(__name__)

# True and False equal 1 and 0, so they are in the set too.
NEUTRAL_LITERALS = frozenset({0, 1, -1, "", "inf", "-inf", None})


@dataclass(frozen=True)
class Budget:
    max_candidates: int  # mutants returned at most
    seconds: float  # wall-clock time for generating them
    max_lines: int = 40  # suspicious lines mutated at most


@dataclass(frozen=True)
class SearchResult:
    candidates: tuple[Candidate, ...]
    lines_tried: int
    exhausted: str | None  # "candidates" or "seconds" when a budget stopped the search


def search(request: RepairRequest, read: Reader, budget: Budget, provider: str) -> SearchResult:
    """Return mutants of the suspicious lines, the likeliest first."""
    deadline = time.monotonic() + budget.seconds
    ranked = rank_lines(request, read)[: budget.max_lines]
    candidates: list[Candidate] = []
    seen: set[str] = set()
    lines_tried = 0

    for _, group in itertools.groupby(ranked, key=lambda line: round(line.score, 9)):
        mutants: list[tuple[int, int, SuspiciousLine, Mutant, str]] = []
        for order, suspicious in enumerate(group):
            if time.monotonic() > deadline:
                return SearchResult(tuple(candidates), lines_tried, "seconds")
            lines_tried += 1
            source = read(suspicious.path)
            for mutant in _mutants(source, suspicious):
                mutants.append((mutant.operator.priority, order, suspicious, mutant, source or ""))
        mutants.sort(key=lambda item: item[:2])

        for _, _, suspicious, mutant, source in mutants:
            if len(candidates) >= budget.max_candidates:
                return SearchResult(tuple(candidates), lines_tried, "candidates")
            key = f"{suspicious.path}\0{mutant.source}"
            if key in seen or not is_derived_from_code(source, mutant.source):
                continue
            seen.add(key)
            change = mutant.change[:1].upper() + mutant.change[1:]
            summary = (
                f"{change} at {suspicious.path}:{mutant.line} ({mutant.operator.label} mutation)"
            )
            changes = {suspicious.path: (source, mutant.source)}
            candidates.append(make_candidate(provider, None, summary, changes))

    logger.debug("mutation search: %d candidate(s) at %d line(s)", len(candidates), lines_tried)
    return SearchResult(tuple(candidates), lines_tried, None)


def _mutants(source: str | None, suspicious: SuspiciousLine) -> list[Mutant]:
    if source is None:
        return []
    try:
        found = mutate_line(source, suspicious.line, suspicious.path)
    except EditError as error:
        logger.debug("no mutants for %s:%d: %s", suspicious.path, suspicious.line, error)
        return []
    return [mutant for mutant in found if _compiles(mutant.source, suspicious.path)]


def _compiles(source: str, path: str) -> bool:
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def is_derived_from_code(before: str, after: str) -> bool:
    """Tell whether every literal that ``after`` adds is neutral, in ``before``, or one off it."""
    old = _literals(before)
    added = _literals(after) - old
    allowed = set(old) | NEUTRAL_LITERALS
    allowed |= {value + step for value in old if _is_int(value) for step in (-1, 1)}
    return all(value in allowed for value in added)


def _literals(source: str) -> Counter[object]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return Counter()
    return Counter(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and not isinstance(node.value, bytes)
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
