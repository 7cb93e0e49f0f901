"""Faults: failures of a check, each with a stable id and a location in the code.

A fault's id is a hash of what identifies the failure and not of where it
happens to sit, so the same failure seen on two runs, or after an unrelated
edit moved its line, is one fault. Lint faults are keyed by rule, file,
enclosing symbol and message. Test faults are keyed by the test's node id
and exception type, and collection faults by the module that failed to import.
Crash faults of a supervised program are keyed by exception type and the
file and enclosing symbol of the innermost repository frame.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from patches.context import enclosing_symbol
from patches.errors import EditError
from patches.guards import is_test_path
from patches.types import FaultKind, LintFix, Location, RepairRequest, Spectrum, TraceFrame
from sandbox.command import CrashRecord
from sandbox.results import CollectionError, Frame, TestResult, TestRun

logger = logging.getLogger(__name__)

# Tracebacks and test output sent to a provider are cut to this many characters.
MAX_OUTPUT_CHARS = 4000


@dataclass(frozen=True)
class LintDiagnostic:
    """One ruff diagnostic, with its path relative to the repository root."""

    code: str
    message: str
    path: str
    line: int
    column: int
    fix: LintFix | None


@dataclass(frozen=True)
class Fault:
    """A failure the kernel may try to heal."""

    id: str
    kind: FaultKind
    summary: str  # one line for people: what failed and where
    message: str
    location: Location | None
    exc_type: str | None = None
    frames: tuple[TraceFrame, ...] = ()
    test_id: str | None = None  # the failing test, for a test fault
    module: str | None = None  # the module that failed to collect, for a collection fault
    lint_code: str | None = None
    lint_fix: LintFix | None = None
    output: str = ""  # pytest's failure text, trimmed

    def to_request(self, spectrum: Spectrum | None = None) -> RepairRequest:
        """Map this fault onto the request type of the patch providers.

        ``spectrum`` is the per-test coverage of the run that showed the fault, if recorded.
        """
        return RepairRequest(
            fault_id=self.id,
            kind=self.kind,
            summary=self.summary,
            message=self.message,
            location=self.location,
            exc_type=self.exc_type,
            frames=self.frames,
            lint_code=self.lint_code,
            lint_fix=self.lint_fix,
            test_ids=(self.test_id,) if self.test_id else (),
            test_output=self.output,
            spectrum=spectrum,
        )


def fault_id(*parts: str | None) -> str:
    """Return a short stable id built from the identifying parts of a failure."""
    digest = hashlib.sha256("\x1f".join(part or "" for part in parts).encode()).hexdigest()
    return digest[:12]


def lint_faults(
    diagnostics: list[LintDiagnostic], read: Callable[[str], str | None]
) -> list[Fault]:
    """Turn ruff diagnostics into faults, numbering repeats of one rule in one symbol.

    ``read`` returns the text of a repository file (None when unreadable), so
    that diagnostics of a patched text can be keyed against that text.
    """
    faults = []
    seen: dict[tuple[str, ...], int] = {}
    for diagnostic in diagnostics:
        symbol = _symbol_in(read(diagnostic.path), diagnostic.line)
        key = (diagnostic.code, diagnostic.path, symbol or "", diagnostic.message)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        where = f"{diagnostic.path}:{diagnostic.line}"
        faults.append(
            Fault(
                id=fault_id("lint", *key, str(occurrence)),
                kind=FaultKind.LINT,
                summary=f"{diagnostic.code} {diagnostic.message} ({where})",
                message=diagnostic.message,
                location=Location(diagnostic.path, diagnostic.line, diagnostic.column, symbol),
                lint_code=diagnostic.code,
                lint_fix=diagnostic.fix,
            )
        )
    return faults


def test_faults(run: TestRun, root: Path) -> list[Fault]:
    """Turn the failing tests and collection errors of a run into faults."""
    faults = [_collection_fault(error, root) for error in run.collection_errors]
    for nodeid in sorted(run.failed()):
        faults.append(_test_fault(run.tests[nodeid], root))
    return faults


test_faults.__test__ = False  # a function named test_* is not a test for pytest


def spectrum_of(run: TestRun) -> Spectrum | None:
    """Return the run's per-test coverage for fault localisation, or None when it has none.

    Truncated coverage counts as none: passing tests missing from it would
    make the lines they share with failing tests look more suspicious than
    they are, so the engine ranks by the traceback instead.
    """
    if not run.coverage:
        return None
    if run.coverage_truncated:
        logger.info("per-test coverage was truncated; ranking lines by the traceback alone")
        return None
    return Spectrum(executed=run.coverage, failed=frozenset(run.failed()))


def _test_fault(result: TestResult, root: Path) -> Fault:
    frames = tuple(_trace_frame(frame) for frame in result.frames)
    location = localise(frames, root)
    exc_type = result.exc_type or "Failure"
    where = f" in {location.symbol or location.path}" if location else ""
    first_line = result.message.strip().splitlines()[0] if result.message.strip() else ""
    # "<Account object at 0x7f...>" differs on every run and helps no reader.
    first_line = _ADDRESS.sub("", first_line)
    return Fault(
        id=fault_id("test", result.nodeid, exc_type),
        kind=FaultKind.TEST,
        summary=f"{result.nodeid} failed: {exc_type}: {first_line}"[:200] + where,
        message=result.message,
        location=location,
        exc_type=exc_type,
        frames=frames,
        test_id=result.nodeid,
        output=_trim(result.longrepr),
    )


def _collection_fault(error: CollectionError, root: Path) -> Fault:
    frames = tuple(_trace_frame(frame) for frame in error.frames)
    location = localise(frames, root, include_tests=True) or Location(error.nodeid, 1)
    exc_type = error.exc_type or "CollectionError"
    return Fault(
        id=fault_id("collection", error.nodeid, exc_type),
        kind=FaultKind.COLLECTION,
        summary=f"{error.nodeid} could not be collected: {exc_type}: {error.message.strip()[:160]}",
        message=error.message,
        location=location,
        exc_type=exc_type,
        frames=frames,
        module=error.nodeid,
        output=_trim(error.longrepr),
    )


def crash_fault(crash: CrashRecord, root: Path, command: str) -> Fault:
    """Turn the uncaught exception of a supervised program into a fault.

    The output given to providers is the traceback with each frame's local
    variables, as the bootstrap summarised them (secrets already redacted).
    """
    frames = tuple(_trace_frame(frame) for frame in crash.frames)
    location = localise(frames, root)
    symbol = location.symbol if location else None
    where = f" in {symbol or location.path}" if location else ""
    first_line = crash.message.strip().splitlines()[0] if crash.message.strip() else ""
    lines = ["Traceback (most recent call last):"]
    for frame in crash.frames:
        lines.append(f'  File "{frame.path}", line {frame.line}, in {frame.function}')
        if frame.source:
            lines.append(f"    {frame.source}")
        if frame.variables:
            shown = ", ".join(f"{name}={value}" for name, value in frame.variables)
            lines.append(f"    locals: {shown}")
    lines.append(f"{crash.exc_type}: {crash.message}")
    return Fault(
        id=fault_id("crash", crash.exc_type, location.path if location else "", symbol),
        kind=FaultKind.CRASH,
        summary=f"{command} crashed: {crash.exc_type}: {_ADDRESS.sub('', first_line)}"[:200]
        + where,
        message=crash.message,
        location=location,
        exc_type=crash.exc_type,
        frames=frames,
        output=_trim("\n".join(lines)),
    )


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


def missing_package(fault: Fault, root: Path) -> str | None:
    """Say why a fault is the sandbox lacking a package rather than a bug, or return None.

    A ModuleNotFoundError for a module that is neither in the repository nor
    in the standard library, and is not a near-miss of either (which would be
    a misspelled import, a code fault), means the environment lacks it.
    """
    if fault.exc_type != "ModuleNotFoundError":
        return None
    match = _MISSING_MODULE.search(fault.message)
    if match is None:
        return None
    top = match.group(1).split(".")[0]
    known = _repository_modules(root) | set(sys.stdlib_module_names)
    if top in known or difflib.get_close_matches(top, known, n=1, cutoff=0.8):
        return None
    return (
        f"the sandbox has no module named '{top}', which the code imports. Declare its "
        "distribution in pyproject.toml or requirements.txt, so that the environment image "
        "installs it (agentos sandbox build), pass an image that has it with --image, or "
        "run with --sandbox local; no patch was attempted"
    )


def _repository_modules(root: Path) -> set[str]:
    names = set()
    for path in root.rglob("*.py"):
        if ".git" in path.parts:
            continue
        names.add(path.stem)
        if path.name == "__init__.py":
            names.add(path.parent.name)
    return names


def localise(
    frames: tuple[TraceFrame, ...], root: Path, include_tests: bool = False
) -> Location | None:
    """Pick the frame to blame: the innermost one inside the repository that is not test code.

    When every repository frame is in test code, as with an assertion in the
    test itself, the innermost repository frame is used so that the fault
    still has a place. With ``include_tests``, test frames count like others.
    """
    inside = [frame for frame in frames if frame.in_repository and (root / frame.path).is_file()]
    candidates = (
        inside if include_tests else [f for f in inside if not is_test_path(f.path)] or inside
    )
    if not candidates:
        return None
    frame = candidates[-1]
    return Location(frame.path, frame.line, 1, _symbol_at(root, frame.path, frame.line))


def file_reader(root: Path) -> Callable[[str], str | None]:
    """Return a ``read`` function for :func:`lint_faults` over the files under ``root``."""

    def read(path: str) -> str | None:
        try:
            return (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return read


def _symbol_at(root: Path, path: str, line: int) -> str | None:
    return _symbol_in(file_reader(root)(path), line)


def _symbol_in(source: str | None, line: int) -> str | None:
    if source is None:
        return None
    try:
        return enclosing_symbol(source, line)
    except EditError as error:
        # A file that does not parse still has a fault; it just has no symbol.
        logger.debug("no enclosing symbol at line %d: %s", line, error)
        return None


def _trace_frame(frame: Frame) -> TraceFrame:
    return TraceFrame(frame.path, frame.line, frame.function, frame.source, frame.in_workspace)


def _trim(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    half = MAX_OUTPUT_CHARS // 2
    return f"{text[:half]}\n[... {len(text) - MAX_OUTPUT_CHARS} characters cut ...]\n{text[-half:]}"
