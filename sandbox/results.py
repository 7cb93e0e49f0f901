"""Results of one test run in a sandbox, read from the JSONL pytest plugin.

The plugin's event stream is the only source of per-test results; pytest's
console output is kept only as a truncated excerpt for people to read.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"
    ERROR = "error"  # a failure in setup or teardown


class RunStatus(enum.Enum):
    """How the run as a whole ended."""

    COMPLETED = "completed"  # pytest finished and the event stream is consistent
    TIMED_OUT = "timed-out"  # the deadline passed and the run was killed
    CRASHED = "crashed"  # the interpreter died part-way (os._exit, a signal)
    INVALID = "invalid"  # no sign that the suite ran, so nothing can be concluded


@dataclass(frozen=True)
class Frame:
    """One traceback frame as the plugin recorded it.

    ``path`` is relative to the workspace when the file is inside it.
    """

    path: str
    line: int
    function: str
    source: str = ""
    in_workspace: bool = True


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test, from the first phase that did not pass."""

    __test__ = False  # keep pytest from collecting this class

    nodeid: str
    outcome: Outcome
    phase: str  # "setup", "call" or "teardown"
    duration: float = 0.0
    exc_type: str | None = None
    message: str = ""
    frames: tuple[Frame, ...] = ()
    longrepr: str = ""  # pytest's own short failure text, truncated


@dataclass(frozen=True)
class CollectionError:
    """A module or package that pytest could not collect (ImportError, SyntaxError, ...)."""

    nodeid: str
    exc_type: str | None
    message: str
    frames: tuple[Frame, ...] = ()
    longrepr: str = ""


@dataclass(frozen=True)
class TestRun:
    """Everything learned from one run of pytest in a sandbox."""

    __test__ = False

    status: RunStatus
    exit_code: int | None
    tests: dict[str, TestResult] = field(default_factory=dict)
    collection_errors: tuple[CollectionError, ...] = ()
    running_test: str | None = None  # started but never reported: where a crash happened
    output: str = ""  # pytest's console output, truncated
    duration: float = 0.0
    backend: str = ""
    detail: str = ""  # why the status is not COMPLETED, in words for a person
    # Lines executed per test, {node id: {path: line numbers}}, when the plan asked for it.
    coverage: Mapping[str, Mapping[str, frozenset[int]]] = field(default_factory=dict)
    # True when the sandbox hit its bound on coverage records, so some tests
    # that ran have no entry in ``coverage``. ``detail`` names the first one.
    coverage_truncated: bool = False

    def failed(self) -> set[str]:
        """Node ids of tests that failed or errored."""
        return {
            nodeid
            for nodeid, result in self.tests.items()
            if result.outcome in (Outcome.FAILED, Outcome.ERROR)
        }

    def passed(self) -> set[str]:
        return {nodeid for nodeid, r in self.tests.items() if r.outcome is Outcome.PASSED}


@dataclass(frozen=True)
class Baseline:
    """The suite's outcome on one snapshot, with the tests found flaky on it."""

    run: TestRun  # the first run; the others only serve to find flaky tests
    flaky: frozenset[str] = frozenset()
    runs: int = 1
