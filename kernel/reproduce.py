"""Reproducing a supervised program's crash in the sandbox, with only the inputs allowed by name.

The sandbox gets the committed tree of the repository, the command's
arguments, and nothing else of the host: no environment variable and no
untracked file reaches it unless the user allowed it with ``--allow-env
NAME`` or ``--allow-file PATH``. Standard input is empty there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kernel.checks import CheckResult
from kernel.errors import KernelError
from kernel.faults import Fault, crash_fault
from sandbox.backend import SandboxBackend
from sandbox.command import CommandPlan, CommandResult
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SandboxInputs:
    """The host's files and variables that the user allowed into the sandbox."""

    files: Mapping[str, bytes]  # repository-relative path -> content
    environment: Mapping[str, str]


def collect_inputs(
    root: Path,
    cwd: Path,
    allow_files: tuple[str, ...],
    allow_env: tuple[str, ...],
    environ: Mapping[str, str],
) -> SandboxInputs:
    """Read the allowed files (relative to ``cwd``) and variables.

    Raises KernelError for a file that is missing or outside the repository,
    because the sandbox has only the repository's folder. A variable that is
    not set is left out with a warning.
    """
    files = {}
    for name in allow_files:
        path = (cwd / name).resolve()
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            raise KernelError(
                f"--allow-file {name}: {path} is outside the repository {root}; the sandbox "
                "contains only the repository, so move the file inside it."
            ) from None
        if not path.is_file():
            raise KernelError(f"--allow-file {name}: {path} is not a file.")
        files[relative] = path.read_bytes()

    environment = {}
    for variable in allow_env:
        if variable in environ:
            environment[variable] = environ[variable]
        else:
            logger.warning("--allow-env %s: the variable is not set, so it is left out", variable)
    return SandboxInputs(files, environment)


class CommandReproducer:
    """Runs the program's command on a snapshot to judge whether its crash is gone."""

    def __init__(
        self,
        backend: SandboxBackend,
        plan: CommandPlan,
        inputs: SandboxInputs,
        root: Path,
        display: str,
    ) -> None:
        self.backend = backend
        self.plan = plan
        self.inputs = inputs
        self.root = root
        self.display = display

    def run(self, snapshot: Snapshot) -> CommandResult:
        """Run the command on ``snapshot`` with the allowed files laid over it."""
        return self.backend.run_command(snapshot.with_overlay(self.inputs.files), self.plan)

    def crash_of(self, result: CommandResult) -> Fault | None:
        """Return the crash of ``result`` as a fault, or None when it raised nothing."""
        if result.crash is None:
            return None
        return crash_fault(result.crash, self.root, self.display)

    def check(self, fault: Fault, snapshot: Snapshot) -> CheckResult:
        """Pass when the command no longer raises, including when it still runs at the deadline."""
        result = self.run(snapshot)
        crash = self.crash_of(result)
        if crash is None:
            if result.timed_out:
                return CheckResult(True, f"the command ran {self.plan.timeout:g} s without raising")
            return CheckResult(True, f"the command exits with {result.exit_code} without raising")
        if crash.id == fault.id:
            return CheckResult(False, f"the command still raises {crash.exc_type}: {crash.message}")
        return CheckResult(False, f"the command now raises {crash.summary}")
