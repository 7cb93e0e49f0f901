"""The seam between validation and whatever runs the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sandbox.command import CommandPlan, CommandResult
from sandbox.results import TestRun
from sandbox.workspace import Snapshot

# The detail of a TestRun whose run was stopped by ``SandboxBackend.cancel``.
CANCELLED_DETAIL = "cancelled: the run was stopped because its result is no longer needed"


@dataclass(frozen=True)
class RunPlan:
    """What to run in one sandbox.

    When ``targets`` is not empty they run first and, unless
    ``stop_at_first_failure`` is off, stop at the first failure. The whole
    suite runs after them only if ``full_suite`` is set and every target
    passed.
    """

    targets: tuple[str, ...] = ()
    full_suite: bool = True
    stop_at_first_failure: bool = True
    timeout: float = 300.0  # seconds of wall-clock time for the whole run
    coverage: bool = False  # record the lines each test executes (slower)


def cancelled_command() -> CommandResult:
    """Return the result of a ``run_command`` that ``cancel`` stopped: no exit code, no crash."""
    return CommandResult(exit_code=None, timed_out=False, crash=None, output=CANCELLED_DETAIL)


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

    def run_command(self, snapshot: Snapshot, plan: CommandPlan) -> CommandResult:
        """Run a program under the crash-recording bootstrap; its crash is in the result.

        It runs with the same confinement as ``run``, in ``plan.cwd`` inside
        the workspace, with only ``plan.environment`` of the caller's
        variables. Like ``run``, it raises SandboxError only when the backend
        itself fails, and ValueError for a working folder outside the workspace.
        """
        ...

    def cancel(self) -> None:
        """Stop every run in progress, from any thread.

        Each of their ``run`` calls returns an INVALID TestRun whose detail says
        it was cancelled, and each ``run_command`` the result of
        :func:`cancelled_command`.
        """
        ...

    def parallel_limit(self) -> int:
        """Return how many runs this machine can take at once (cores and memory)."""
        ...

    def identity(self) -> str:
        """Return a text that changes whenever the same snapshot could run differently.

        It names what the tests run on (image id, interpreter and installed
        packages) and the limits, and keys the baselines stored on disk.
        """
        ...

    def close(self) -> None: ...
