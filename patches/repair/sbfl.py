"""Fault localisation: rank the lines of the repository most likely to hold a bug.

Two signals are combined into one score per line:

- the Ochiai coefficient over per-test coverage, ef / sqrt(F * (ef + ep)),
  where ef and ep count the failing and passing tests that executed the line
  and F counts the failing tests. Only the fault's own tests count as failing,
  and other failing tests are left out, so that a second bug does not blur
  the first;
- the traceback: each repository frame outside test code adds
  ``TRACE_WEIGHT / depth``, innermost first, so the line that raised ranks
  high even without coverage.

A condition (``if``, ``elif``, ``while``) then takes the highest score of
the lines after it in its function, because it decides whether they run.
Coverage blames the branch that ran wrongly, but the bug is as often in the
condition that chose it.

Without coverage, the lines of the functions that the traceback passes
through, or that the failing test line calls, get a small base score, so a
search still has somewhere to look.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from patches.guards import is_test_path
from patches.types import RepairRequest, Spectrum

TRACE_WEIGHT = 0.5  # added to the innermost frame's line; half of that to the next one out
FALLBACK_SCORE = 0.1  # for a line of a function on the path of the failure, without coverage

Reader = Callable[[str], str | None]  # repository path -> text, None when unreadable


@dataclass(frozen=True)
class SuspiciousLine:
    path: str
    line: int
    score: float


def ochiai(failed_covering: int, passed_covering: int, total_failed: int) -> float:
    """Return the Ochiai suspiciousness of a line; 0.0 when no failing test executed it."""
    if failed_covering == 0 or total_failed == 0:
        return 0.0
    return failed_covering / math.sqrt(total_failed * (failed_covering + passed_covering))


def rank_lines(request: RepairRequest, read: Reader) -> list[SuspiciousLine]:
    """Return the suspicious lines of non-test repository files, most suspicious first.

    Lines of equal score keep file and line order, so the ranking is deterministic.
    """
    scores: dict[tuple[str, int], float] = {}
    if request.spectrum is not None:
        scores.update(spectrum_scores(request.spectrum, request.test_ids))
    frames = [f for f in reversed(request.frames) if f.in_repository and not is_test_path(f.path)]
    for depth, frame in enumerate(frames, start=1):
        key = (frame.path, frame.line)
        scores[key] = scores.get(key, 0.0) + TRACE_WEIGHT / depth
    if request.spectrum is None:
        for key in _fallback_lines(request, read):
            scores.setdefault(key, FALLBACK_SCORE)
    _lift_conditions(scores, read)

    ranked = [SuspiciousLine(path, line, score) for (path, line), score in scores.items()]
    ranked.sort(key=lambda s: (-round(s.score, 9), s.path, s.line))
    return [line for line in ranked if line.score > 0]


def spectrum_scores(spectrum: Spectrum, fault_tests: Iterable[str]) -> dict[tuple[str, int], float]:
    """Return the Ochiai score of every line of non-test code that a failing test executed."""
    failing = {test for test in fault_tests if test in spectrum.executed}
    if not failing:
        failing = {test for test in spectrum.failed if test in spectrum.executed}
    passing = [test for test in spectrum.executed if test not in spectrum.failed]

    failed_counts: dict[tuple[str, int], int] = {}
    for test in failing:
        for key in _lines_of(spectrum, test):
            failed_counts[key] = failed_counts.get(key, 0) + 1
    passed_counts: dict[tuple[str, int], int] = {}
    for test in passing:
        for key in _lines_of(spectrum, test):
            if key in failed_counts:
                passed_counts[key] = passed_counts.get(key, 0) + 1

    return {
        key: ochiai(count, passed_counts.get(key, 0), len(failing))
        for key, count in failed_counts.items()
    }


def _lift_conditions(scores: dict[tuple[str, int], float], read: Reader) -> None:
    """Raise each scored condition to the best score of the later lines of its function."""
    for path in sorted({path for path, _ in scores}):
        text = read(path)
        try:
            tree = ast.parse(text) if text is not None else None
        except SyntaxError:
            tree = None
        if tree is None:
            continue
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            end = function.end_lineno or function.lineno
            for node in ast.walk(function):
                if not isinstance(node, (ast.If, ast.While)) or (path, node.lineno) not in scores:
                    continue
                later = [
                    score
                    for (other, line), score in scores.items()
                    if other == path and node.lineno < line <= end
                ]
                key = (path, node.lineno)
                scores[key] = max([scores[key], *later])


def _lines_of(spectrum: Spectrum, test: str) -> Iterable[tuple[str, int]]:
    for path, lines in spectrum.executed[test].items():
        if path.endswith(".py") and not is_test_path(path):
            for line in lines:
                yield path, line


_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _fallback_lines(request: RepairRequest, read: Reader) -> list[tuple[str, int]]:
    """Return the lines of functions on the failure's path, for a request without coverage."""
    wanted: dict[str, set[str]] = {}  # path or "" for any file -> function names
    for frame in request.frames:
        if not frame.in_repository:
            continue
        if is_test_path(frame.path):
            for name in _CALLED.findall(frame.source):
                wanted.setdefault("", set()).add(name)
        else:
            wanted.setdefault(frame.path, set()).add(frame.function)

    paths = {frame.path for frame in request.frames if frame.in_repository}
    paths |= _imported_paths(request, read)
    found: list[tuple[str, int]] = []
    for path in sorted(paths):
        if is_test_path(path):
            continue
        text = read(path)
        names = wanted.get(path, set()) | wanted.get("", set())
        if text is None or not names:
            continue
        found.extend((path, line) for line in _function_lines(text, names))
    return found


def _imported_paths(request: RepairRequest, read: Reader) -> set[str]:
    """Return the repository modules that the failing tests' files import."""
    paths: set[str] = set()
    for test_id in request.test_ids:
        text = read(test_id.split("::")[0])
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for candidate in _module_paths(node.module):
                    if read(candidate) is not None:
                        paths.add(candidate)
    return paths


def _module_paths(module: str) -> list[str]:
    relative = module.replace(".", "/")
    return [
        f"{prefix}{relative}{suffix}"
        for prefix in ("", "src/")
        for suffix in (".py", "/__init__.py")
    ]


def _function_lines(text: str, names: set[str]) -> list[int]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            for statement in ast.walk(node):
                if isinstance(statement, ast.stmt) and statement is not node:
                    lines.append(statement.lineno)
    return sorted(set(lines))
