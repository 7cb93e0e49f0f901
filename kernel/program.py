"""A supervised program's command, and one run of it on the host under the crash bootstrap.

The program runs with the host's Python under ``sandbox/bootstrap.py``, which
writes an uncaught exception to a JSON crash record. It inherits standard
input, output and error, so it reads and writes the terminal or pipes as it
would on its own. It runs in a session of its own, so a Ctrl-C at the
terminal reaches only the supervisor, which forwards SIGINT, SIGTERM and
SIGHUP to the program once each.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kernel.errors import KernelError
from sandbox.command import (
    BOOTSTRAP,
    CRASH_FILE_VARIABLE,
    ROOT_VARIABLE,
    CommandPlan,
    CrashRecord,
    parse_crash,
)

logger = logging.getLogger(__name__)

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?(\.exe)?$")


@dataclass(frozen=True)
class ProgramCommand:
    """A program to supervise: the host interpreter, then SCRIPT ARGS or -m MODULE ARGS."""

    interpreter: str
    arguments: tuple[str, ...]
    display: str  # the command as the user gave it, for messages and history

    def sandbox_plan(
        self, root: Path, cwd: Path, environment: Mapping[str, str], timeout: float
    ) -> CommandPlan:
        """Return the plan that runs the same command in a sandbox made from the repository.

        ``cwd`` must be inside ``root``. Arguments that are absolute paths
        inside the repository are made relative to ``cwd``, because the
        sandbox has the repository at another place.
        """
        arguments = tuple(_relative_to(argument, root, cwd) for argument in self.arguments)
        relative_cwd = cwd.relative_to(root).as_posix()
        return CommandPlan(
            arguments=arguments,
            cwd="" if relative_cwd == "." else relative_cwd,
            environment=dict(environment),
            timeout=timeout,
        )


@dataclass(frozen=True)
class ProgramExit:
    """The end of one run of the program."""

    exit_code: int | None  # None when a signal killed it
    signal_number: int | None
    crash: CrashRecord | None  # the uncaught exception, when it died of one
    seconds: float
    forwarded: int | None  # the stop signal the supervisor forwarded, if any

    @property
    def status(self) -> int:
        """Return the exit status to pass on: the program's, or 128 + N for signal N."""
        if self.signal_number is not None:
            return 128 + self.signal_number
        return self.exit_code if self.exit_code is not None else 1


def parse_command(argv: list[str]) -> ProgramCommand:
    """Parse ``SCRIPT ARGS``, ``-m MODULE ARGS`` or either after ``python``.

    Raises KernelError for an empty command, an interpreter option other than
    ``-m``, or a ``python`` that is not on PATH.
    """
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise KernelError(
            "no command to supervise; put it after --, as in: agentos run -- python app.py"
        )
    interpreter = sys.executable
    words = list(argv)
    if _PYTHON_NAME.match(Path(words[0]).name):
        found = shutil.which(words[0])
        if found is None:
            raise KernelError(f"interpreter {words[0]!r} not found on PATH; give its full path.")
        interpreter, words = found, words[1:]
    if not words or (words[0] == "-m" and len(words) < 2):
        raise KernelError(
            f"invalid command {shlex.join(argv)!r}: give a script or -m MODULE after python."
        )
    if words[0].startswith("-") and words[0] != "-m":
        raise KernelError(
            f"unsupported interpreter option {words[0]!r} in {shlex.join(argv)!r}; "
            "agentos run takes SCRIPT ARGS or -m MODULE ARGS, optionally after python."
        )
    return ProgramCommand(interpreter, tuple(words), shlex.join(argv))


def run_on_host(command: ProgramCommand, cwd: Path, root: Path) -> ProgramExit:
    """Run the program once, forwarding stop signals, and return how it ended.

    Frames under ``root`` get paths relative to it in the crash record.
    """
    with tempfile.TemporaryDirectory(prefix="agentos-run-") as folder:
        crash_path = Path(folder) / "crash.json"
        environment = {
            **os.environ,
            CRASH_FILE_VARIABLE: str(crash_path),
            ROOT_VARIABLE: str(root),
        }
        started = time.monotonic()
        process = subprocess.Popen(
            [command.interpreter, str(BOOTSTRAP), *command.arguments],
            cwd=cwd,
            env=environment,
            start_new_session=True,
        )
        logger.info("started %s as pid %d", command.display, process.pid)
        forwarded = _wait_forwarding(process)
        seconds = time.monotonic() - started
        text = crash_path.read_text("utf-8", errors="replace") if crash_path.exists() else ""

    code = process.returncode
    signal_number = -code if code < 0 else None
    logger.info("%s exited with %s after %.1f s", command.display, code, seconds)
    return ProgramExit(
        exit_code=None if signal_number else code,
        signal_number=signal_number,
        crash=parse_crash(text),
        seconds=seconds,
        forwarded=forwarded,
    )


def _wait_forwarding(process: subprocess.Popen[bytes]) -> int | None:
    """Wait for ``process``, sending it every stop signal the supervisor receives meanwhile.

    Return the last signal forwarded, or None.
    """
    forwarded: list[int] = []

    def forward(signal_number: int, frame: object) -> None:
        forwarded.append(signal_number)
        try:
            os.kill(process.pid, signal_number)
        except ProcessLookupError:
            pass  # it exited between the signal and now; wait() reaps it

    previous = {number: signal.signal(number, forward) for number in FORWARDED_SIGNALS}
    try:
        process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return forwarded[-1] if forwarded else None


def _relative_to(argument: str, root: Path, cwd: Path) -> str:
    path = Path(argument)
    if not path.is_absolute():
        return argument
    try:
        path.relative_to(root)
    except ValueError:
        return argument
    return os.path.relpath(path, cwd)
