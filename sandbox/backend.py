"""The seam between validation and whatever runs the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sandbox.results import TestRun
from sandbox.workspace import Snapshot


@dataclass(frozen=True)
class RunPlan:
    """What to run in one sandbox.

    When ``targets`` is not empty they run first and stop at the first
    failure; the whole suite runs after them only if ``full_suite`` is set and
    every target passed.
    """

    targets: tuple[str, ...] = ()
    full_suite: bool = True
    timeout: float = 300.0  # seconds of wall-clock time for the whole run
    coverage: bool = False  # record the lines each test executes (slower)


class SandboxBackend(Protocol):
    """Runs pytest on a snapshot and reports per-test results.

    ``run`` never raises for a failure of the code under test: hangs, crashes
    and garbage all come back as a :class:`TestRun` with a status. It raises
    :class:`~sandbox.errors.SandboxError` only when the backend itself cannot
    work (no daemon, no image).
    """

    name: str
    isolated: bool  # whether the code runs without network and outside the host's filesystem

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun: ...

    def close(self) -> None: ...
