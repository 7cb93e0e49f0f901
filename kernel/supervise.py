"""Supervise mode: keep a Python program running, and heal the exceptions it crashes with.

============================================  =========================================
how the program ended                         what the supervisor does
============================================  =========================================
exit code N, no uncaught exception            stops and exits with N
killed by signal N, or after a stop signal    stops and exits with 128 + N (or the
the supervisor forwarded                      program's exit code, if it exited)
uncaught exception, restarts left             heals it (once per fault and HEAD),
                                              waits the backoff, restarts the program
uncaught exception, no restarts left          stops with a report and the exit code
fix committed on a separate branch            stops: the working tree did not change,
                                              so a restart would crash the same way
============================================  =========================================

A crash is healed only when the same command, run in the sandbox on the
committed tree, raises the same fault; a candidate is valid when the command
no longer raises there and the test suite still passes. Fixes are committed
as :func:`kernel.runner.heal_faults` does: on the current branch when the tree
is clean, else on a new branch. The backoff before restart N (counting from
0) is ``backoff * 2**N`` seconds, at most ``MAX_BACKOFF``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.markup import escape

from kernel.anomalies import rising_crash_rates
from kernel.config import Settings
from kernel.console import Reporter
from kernel.errors import KernelError
from kernel.faults import Fault, crash_fault
from kernel.gitops import Repository
from kernel.outcome import FaultStatus
from kernel.program import ProgramCommand, ProgramExit, run_on_host
from kernel.providers import build_providers
from kernel.reproduce import CommandReproducer, SandboxInputs, collect_inputs
from kernel.run_history import record_program_run
from kernel.runner import heal_faults
from sandbox.backend import SandboxBackend
from sandbox.command import CommandPlan
from sandbox.docker_backend import sweep_leftovers
from sandbox.errors import BackendUnavailable, SandboxError
from sandbox.selection import open_backend
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # seconds


@dataclass(frozen=True)
class SuperviseOptions:
    max_restarts: int = 5  # restarts after crashes before supervision ends
    backoff: float = 1.0  # seconds before the first restart, doubled for each next one
    allow_files: tuple[str, ...] = ()  # files (relative to the working folder) for the sandbox
    allow_env: tuple[str, ...] = ()  # environment variables for the sandbox, by name
    heal: bool = True  # False only restarts
    no_verify: bool = False  # skip the repository's commit hooks on fixes
    reproduce_timeout: float = 60.0  # seconds the command may run in the sandbox


@dataclass(frozen=True)
class HealTry:
    """What healing one crash did."""

    fault: Fault
    status: str  # a FaultStatus value, or "not reproduced" or "failed"
    detail: str
    commit: str | None = None
    branch: str | None = None  # set when the fix went on a separate branch


@dataclass(frozen=True)
class Supervision:
    """The end of a supervision: the exit status to pass on and what happened on the way."""

    exit_code: int
    runs: int
    restarts: int
    last_crash: Fault | None = None
    heals: tuple[HealTry, ...] = ()
    gave_up: str | None = None  # why supervision ended after a crash, or None


@dataclass
class Supervisor:
    command: ProgramCommand
    repository: Repository
    cwd: Path
    settings: Settings
    options: SuperviseOptions
    reporter: Reporter
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _backend: SandboxBackend | None = None
    _tried: dict[str, str] = field(default_factory=dict)  # fault id -> HEAD when it was healed
    _anomalies_shown: set[str] = field(default_factory=set)

    def run(self) -> Supervision:
        """Run the program until it exits, is stopped, or crashes once too often."""
        root = self.repository.root.resolve()
        inputs = collect_inputs(
            root, self.cwd, self.options.allow_files, self.options.allow_env, self.environ
        )
        plan = self.command.sandbox_plan(
            root, self.cwd, inputs.environment, self.options.reproduce_timeout
        )
        heals: list[HealTry] = []
        runs = restarts = 0
        try:
            while True:
                self.reporter.step("start", self.command.display)
                ended = run_on_host(self.command, self.cwd, root)
                runs += 1
                crash = (
                    crash_fault(ended.crash, root, self.command.display) if ended.crash else None
                )
                self._record(ended, crash)
                if crash is None or ended.forwarded is not None:
                    self._report_exit(ended)
                    return Supervision(ended.status, runs, restarts, crash, tuple(heals))

                self.reporter.step("crash", crash.summary)
                if restarts >= self.options.max_restarts:
                    reason = f"the program crashed {restarts + 1} time(s) in a row"
                    return Supervision(ended.status, runs, restarts, crash, tuple(heals), reason)
                if self.options.heal and self._tried.get(crash.id) != self.repository.head():
                    self._tried[crash.id] = self.repository.head()
                    tried = self._heal(crash, inputs, plan)
                    heals.append(tried)
                    if tried.branch is not None:
                        reason = (
                            f"the fix is on branch {tried.branch}, not in your working tree, "
                            "so a restart would crash the same way"
                        )
                        return Supervision(
                            ended.status, runs, restarts, crash, tuple(heals), reason
                        )

                delay = min(self.options.backoff * 2**restarts, MAX_BACKOFF)
                restarts += 1
                self.reporter.step(
                    "restart",
                    f"restart {restarts} of at most {self.options.max_restarts} in {delay:g} s",
                )
                time.sleep(delay)
        finally:
            if self._backend is not None:
                self._backend.close()

    def _heal(self, crash: Fault, inputs: SandboxInputs, plan: CommandPlan) -> HealTry:
        """Reproduce ``crash`` on HEAD in the sandbox, then heal it there."""
        try:
            backend = self._open_backend()
        except KernelError as error:
            logger.warning("cannot heal crash %s: %s", crash.id, error)
            return HealTry(crash, "failed", str(error))
        reproducer = CommandReproducer(
            backend, plan, inputs, self.repository.root, self.command.display
        )

        self.reporter.step("reproduce", f"running the command in the {backend.name} sandbox")
        try:
            result = reproducer.run(Snapshot(self.repository.archive("HEAD")))
        except SandboxError as error:
            logger.warning(
                "the sandbox failed to run the command for crash %s: %s", crash.id, error
            )
            return HealTry(crash, "failed", f"the sandbox failed: {error}")
        seen = reproducer.crash_of(result)
        if seen is None or seen.id != crash.id:
            got = f"it raised {seen.summary}" if seen else f"it exited with {result.exit_code}"
            if result.timed_out:
                got = f"it ran {plan.timeout:g} s without raising"
            detail = (
                f"the crash did not reproduce in the sandbox on the committed tree: {got}. "
                "If it depends on uncommitted code, commit it; if it needs input files or "
                "environment variables, allow them with --allow-file and --allow-env"
            )
            self.reporter.step("skip", detail)
            return HealTry(crash, "not reproduced", detail)

        branches: list[str] = []
        try:
            report = heal_faults(
                self.repository,
                self.settings,
                backend,
                build_providers(self.settings),
                self.reporter,
                lambda fault: fault.id == crash.id,
                extra_faults=(crash,),
                reproducer=reproducer,
                no_verify=self.options.no_verify,
                on_branch=branches.append,
            )
        except KernelError as error:
            logger.warning("the heal of crash %s failed: %s", crash.id, error)
            self.reporter.step("failed", f"the heal failed: {error}")
            return HealTry(crash, "failed", str(error))
        outcome = next((o for o in report.outcomes if o.fault.id == crash.id), None)
        if outcome is None:
            return HealTry(crash, "failed", "the heal did not try the crash")
        healed = outcome.status is FaultStatus.HEALED
        detail = outcome.reason or "; ".join(a.reason for a in outcome.attempts[-3:])
        return HealTry(
            crash,
            outcome.status.value,
            detail,
            outcome.commit,
            branches[0] if healed and branches else None,
        )

    def _open_backend(self) -> SandboxBackend:
        if self._backend is None:
            try:
                self._backend = open_backend(
                    self.settings.sandbox, self.settings.image, self.repository.root
                )
            except BackendUnavailable as error:
                raise KernelError(str(error)) from error
            if self._backend.name == "docker":
                sweep_leftovers()
        return self._backend

    def _record(self, ended: ProgramExit, crash: Fault | None) -> None:
        record_program_run(
            self.repository.root,
            self.command.display,
            ended.exit_code,
            ended.signal_number,
            crash is not None,
            ended.seconds,
            crash.id if crash else None,
        )
        for anomaly in rising_crash_rates(self.repository.root):
            if (
                anomaly.subject == self.command.display
                and anomaly.detail not in self._anomalies_shown
            ):
                self._anomalies_shown.add(anomaly.detail)
                self.reporter.warn(f"crash rate of {anomaly.subject}: {anomaly.detail}")

    def _report_exit(self, ended: ProgramExit) -> None:
        if ended.signal_number is not None:
            text = f"killed by signal {ended.signal_number}; exiting with {ended.status}"
        else:
            text = f"exited with {ended.exit_code}"
        self.reporter.step("exit", f"{self.command.display} {text}")


def report_gave_up(supervision: Supervision, command: ProgramCommand, reporter: Reporter) -> None:
    """Print why supervision ended after a crash: exception, restarts, what healing tried."""
    crash = supervision.last_crash
    if crash is None or supervision.gave_up is None:
        return
    where = ""
    if crash.location is not None:
        symbol = f" in {crash.location.symbol}" if crash.location.symbol else ""
        where = f" at {crash.location.path}:{crash.location.line}{symbol}"
    reporter.console.print(
        f"[bold red]supervision stopped[/]: {escape(supervision.gave_up)}.", soft_wrap=True
    )
    lines = [
        f"command: {command.display}",
        f"exception: {crash.exc_type}: {crash.message}{where}",
        f"runs: {supervision.runs}; restarts: {supervision.restarts}",
    ]
    if not supervision.heals:
        lines.append("healing: not tried")
    for tried in supervision.heals:
        commit = f" (commit {tried.commit[:12]})" if tried.commit else ""
        lines.append(f"healing {tried.fault.id}: {tried.status}{commit}: {tried.detail}")
    for line in lines:
        reporter.console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
