"""Run a snapshot's tests in a temporary folder on the host.

The fallback when Docker cannot be used. It runs the same driver and plugin as
the Docker backend, with a cleared environment, its own process group, a
deadline, resource limits and truncated output. How far it is isolated
depends on the host:

    isolation     when                   what the code under test cannot do
    bubblewrap    ``bwrap`` is on PATH   use the network, write outside its folder
                                         and a private /tmp
    rlimits       otherwise              only exceed the resource limits

In both cases the driver sets limits on address space, processes, file size
and CPU time (``resource.setrlimit``). The backend logs the isolation in
force, and warns once per process when it is only rlimits.

:meth:`LocalBackend.run_command` runs a program the same way, under
``sandbox/bootstrap.py`` in place of the driver. The bootstrap sets the same
limits and writes the crash record into the run's folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sandbox import coverage_plugin
from sandbox.backend import CANCELLED_DETAIL, RunPlan, cancelled_command
from sandbox.command import (
    BOOTSTRAP,
    BOOTSTRAP_NAME,
    CRASH_FILE_VARIABLE,
    ROOT_VARIABLE,
    CommandPlan,
    CommandResult,
    parse_crash,
    working_folder,
)
from sandbox.errors import BackendUnavailable
from sandbox.events import parse_events, with_coverage
from sandbox.pool import worker_limit
from sandbox.pytest_plugin import EVENTS_VARIABLE, MODULE_NAME
from sandbox.results import RunStatus, TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

KILL_GRACE = 10.0  # seconds to wait for a killed process group to be reaped
BUBBLEWRAP = "bubblewrap"
RLIMITS = "rlimits"
PLUGIN = Path(__file__).with_name("pytest_plugin.py")
_warned_not_isolated = False
# Prints the interpreter's version and the absolute folders of its sys.path.
_PROBE = (
    "import json, os, sys; print(json.dumps([sys.version, "
    "[p for p in sys.path if os.path.isabs(p) and os.path.isdir(p)]]))"
)


@dataclass(frozen=True)
class _Layout:
    """The folders of one run, all under its temporary folder."""

    folder: Path
    workspace: Path  # the snapshot, extracted
    script: Path  # the driver or the bootstrap, outside the workspace
    home: Path


@dataclass(frozen=True)
class _Ended:
    exit_code: int | None  # None after a kill at the deadline
    timed_out: bool
    cancelled: bool
    output: str  # standard output and error, clipped
    duration: float


class LocalBackend:
    """Runs pytest with ``python`` in a temporary copy of the snapshot."""

    name = "local"

    def __init__(
        self,
        python: str = sys.executable,
        *,
        output_limit: int = 200_000,
        bubblewrap: bool | None = None,
        memory: int = 4 * 1024**3,
        processes: int = 4096,
        file_size: int = 1024**3,
    ) -> None:
        """``bubblewrap`` None uses ``bwrap`` when it is installed; False or True forces it.

        ``memory`` is bytes of address space, ``processes`` counts every process
        of the user, and ``file_size`` is the largest file the tests may write.
        """
        self.python = python
        self.output_limit = output_limit
        self.limits = {"as": memory, "nproc": processes, "fsize": file_size}
        self._bwrap = shutil.which("bwrap") if bubblewrap is not False else None
        if bubblewrap and self._bwrap is None:
            raise BackendUnavailable(
                "bubblewrap was requested but bwrap is not installed; "
                "install it with 'apt-get install bubblewrap'"
            )
        self._running: set[subprocess.Popen[bytes]] = set()
        self._cancelled: set[int] = set()  # process ids of runs that cancel() killed
        self._lock = threading.Lock()
        self._interpreter: tuple[str, tuple[str, ...]] | None = None  # see identity()

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        """Run ``plan`` on ``snapshot``; failures of the code under test are in the TestRun."""
        if not plan.targets and not plan.full_suite:
            raise ValueError("the run plan has no targets and full_suite is off: nothing to run")
        with self._temporary_folder() as folder:
            return self._run_in(folder, snapshot, plan)

    def run_command(self, snapshot: Snapshot, plan: CommandPlan) -> CommandResult:
        """Run a program under the bootstrap in a temporary copy of ``snapshot``, as ``run`` does.

        Only ``plan.environment`` and the variables every run gets reach it.
        """
        relative = working_folder(plan.cwd)
        with self._temporary_folder() as folder:
            return self._command_in(folder, snapshot, plan, relative)

    @property
    def isolation(self) -> str:
        """The isolation in force: BUBBLEWRAP or RLIMITS (see the module docstring)."""
        return BUBBLEWRAP if self._bwrap else RLIMITS

    @property
    def isolated(self) -> bool:
        """Whether the code runs without network and cannot write outside its folder."""
        return self._bwrap is not None

    def cancel(self) -> None:
        """Kill the process groups of every run in progress; their runs come back INVALID."""
        with self._lock:
            running = set(self._running)
            self._cancelled.update(process.pid for process in running)
        for process in running:
            logger.info("local sandbox: cancelling process group %d", process.pid)
            _kill_group(process)

    def parallel_limit(self) -> int:
        return worker_limit(None)

    def identity(self) -> str:
        """Return the interpreter, the state of its package folders, the isolation and limits.

        NOTE: a package folder's modification time changes when a package is
        installed, upgraded or removed in it, but not when an installed file
        is edited in place, so such an edit goes unnoticed.
        """
        if self._interpreter is None:
            self._interpreter = _probe_interpreter(self.python)
        version, folders = self._interpreter
        states = []
        for folder in folders:
            try:
                states.append(f"{folder}@{os.stat(folder).st_mtime_ns}")
            except OSError:
                states.append(f"{folder}@missing")
        limits = " ".join(f"{name}={value}" for name, value in sorted(self.limits.items()))
        return f"local {self.isolation} {self.python} {version} {limits} {' '.join(states)}"

    def close(self) -> None:
        """Nothing to release: every run cleans up after itself."""

    @contextmanager
    def _temporary_folder(self) -> Iterator[Path]:
        if not self.isolated:
            _warn_once()
        folder = Path(tempfile.mkdtemp(prefix="agentos-local-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if folder.exists():
                logger.warning("could not remove the temporary sandbox folder %s", folder)

    def _wrapper(self, folder: Path, workspace: Path) -> list[str]:
        """Return the bubblewrap command line that confines a run to ``folder``, or []."""
        if self._bwrap is None:
            return []
        return [
            self._bwrap,
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            "--bind", str(folder), str(folder),
            "--unshare-net",
            "--unshare-ipc",
            # Stays in the host's process group (no --new-session), so that
            # killing the group at the deadline reaches the tests' processes.
            "--die-with-parent",
            "--chdir", str(workspace),
            "--",
        ]  # fmt: skip

    def _run_process(
        self,
        command: list[str],
        cwd: Path,
        environment: dict[str, str],
        output_file: IO[bytes],
        timeout: float,
    ) -> tuple[int | None, bool, bool]:
        """Run ``command`` in a new session; kill its process group at the deadline or on error.

        Return (exit code, timed out, cancelled); the exit code is None after a kill.
        """
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._lock:
            self._running.add(process)
        exit_code: int | None = None
        timed_out = False
        try:
            exit_code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.info("local sandbox passed its deadline of %g s; killing it", timeout)
            timed_out = True
        finally:
            # Also reached on Ctrl-C; the group includes everything the tests started
            # unless they left it with setsid.
            _kill_group(process)
            with self._lock:
                self._running.discard(process)
                cancelled = process.pid in self._cancelled
                self._cancelled.discard(process.pid)
        return (None if timed_out else exit_code), timed_out, cancelled

    def _run_in(self, folder: Path, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        layout = _lay_out(folder, snapshot, PLUGIN, f"{MODULE_NAME}.py")
        events_path = folder / "events.jsonl"
        arguments = []
        if plan.full_suite:
            arguments.append("--full-suite")
        if not plan.stop_at_first_failure:
            arguments.append("--keep-going")
        arguments.extend(["--", *plan.targets])
        environment = {
            **_base_environment(layout.home),
            "PYTHONPATH": str(layout.script.parent),
            EVENTS_VARIABLE: str(events_path),
        }
        coverage_path = folder / "coverage.jsonl"
        if plan.coverage:
            # The tracer slows the suite down, so it is loaded only on request.
            shutil.copyfile(
                coverage_plugin.__file__,
                layout.script.parent / f"{coverage_plugin.MODULE_NAME}.py",
            )
            environment["PYTEST_PLUGINS"] = coverage_plugin.MODULE_NAME
            environment[coverage_plugin.COVERAGE_VARIABLE] = str(coverage_path)

        logger.info("local sandbox (%s): running pytest in %s", self.isolation, layout.workspace)
        ended = self._execute(layout, layout.workspace, arguments, environment, plan.timeout)
        if ended.cancelled:
            return TestRun(RunStatus.INVALID, None, backend=self.name, detail=CANCELLED_DETAIL)

        events = events_path.read_text("utf-8", errors="replace") if events_path.exists() else ""
        run = parse_events(
            events,
            ended.exit_code,
            targets=plan.targets,
            output=ended.output,
            duration=ended.duration,
            backend=self.name,
            timed_out_after=plan.timeout if ended.timed_out else None,
        )
        if plan.coverage and coverage_path.exists():
            run = with_coverage(run, coverage_path.read_text("utf-8", errors="replace"))
        logger.info(
            "local sandbox: %s, %d passed, %d failed in %.1f s",
            run.status.value,
            len(run.passed()),
            len(run.failed()),
            ended.duration,
        )
        return run

    def _command_in(
        self, folder: Path, snapshot: Snapshot, plan: CommandPlan, relative: str
    ) -> CommandResult:
        layout = _lay_out(folder, snapshot, BOOTSTRAP, BOOTSTRAP_NAME)
        crash_path = folder / "crash.json"
        cwd = layout.workspace / relative
        cwd.mkdir(parents=True, exist_ok=True)  # git keeps no empty folder
        environment = {
            **plan.environment,
            **_base_environment(layout.home),
            CRASH_FILE_VARIABLE: str(crash_path),
            ROOT_VARIABLE: str(layout.workspace),
        }

        logger.info(
            "local sandbox (%s): running %s in %s", self.isolation, " ".join(plan.arguments), cwd
        )
        ended = self._execute(layout, cwd, list(plan.arguments), environment, plan.timeout)
        if ended.cancelled:
            return cancelled_command()

        crash = crash_path.read_text("utf-8", errors="replace") if crash_path.exists() else ""
        logger.info(
            "local sandbox: command exited with %s in %.1f s",
            "a timeout" if ended.timed_out else ended.exit_code,
            ended.duration,
        )
        return CommandResult(
            exit_code=ended.exit_code,
            timed_out=ended.timed_out,
            crash=parse_crash(crash),
            output=ended.output,
            duration=ended.duration,
        )

    def _execute(
        self,
        layout: _Layout,
        cwd: Path,
        arguments: list[str],
        environment: dict[str, str],
        timeout: float,
    ) -> _Ended:
        """Run the layout's script with ``arguments`` in ``cwd``, confined and limited."""
        command = [*self._wrapper(layout.folder, cwd), self.python, str(layout.script)]
        # The driver and the bootstrap both take --limit before their arguments.
        command.extend(f"--limit={name}={value}" for name, value in self.limits.items())
        # CPU seconds: a test that spins on a core ends by itself even if the
        # deadline is missed; NOTE: it is per process, so it does not bound a pool.
        command.append(f"--limit=cpu={int(timeout) + 30}")
        command.extend(arguments)
        output_path = layout.folder / "output.log"

        started = time.monotonic()
        with output_path.open("wb") as output_file:
            exit_code, timed_out, cancelled = self._run_process(
                command, cwd, environment, output_file, timeout
            )
        duration = time.monotonic() - started
        output = _read_clipped(output_path, self.output_limit)
        return _Ended(exit_code, timed_out, cancelled, output, duration)


def _lay_out(folder: Path, snapshot: Snapshot, script: Path, name: str) -> _Layout:
    """Extract ``snapshot`` into ``folder``/work and copy ``script`` into ``folder``/tools."""
    layout = _Layout(folder, folder / "work", folder / "tools" / name, folder / "home")
    for path in (layout.workspace, layout.script.parent, layout.home):
        path.mkdir()
    snapshot.extract(layout.workspace)
    shutil.copyfile(script, layout.script)
    return layout


def _base_environment(home: Path) -> dict[str, str]:
    """Return what every run gets: nothing else of the host's environment enters."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is already gone
    try:
        process.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        logger.warning("local sandbox process %d did not exit after SIGKILL", process.pid)


def _read_clipped(path: Path, limit: int) -> str:
    """Read a log, keeping about ``limit`` bytes of its head and tail when it is longer."""
    size = path.stat().st_size
    with path.open("rb") as file:
        if size <= limit:
            return file.read().decode("utf-8", errors="replace")
        half = limit // 2
        head = file.read(half)
        file.seek(size - half)
        tail = file.read(half)
    cut = f"\n... [{size - 2 * half} bytes cut] ...\n"
    return head.decode("utf-8", errors="replace") + cut + tail.decode("utf-8", errors="replace")


def _warn_once() -> None:
    global _warned_not_isolated
    if not _warned_not_isolated:
        _warned_not_isolated = True
        logger.warning(
            "the local sandbox backend is not isolated (only resource limits): candidate code "
            "runs on this machine with network access and can write outside its folder; "
            "install bubblewrap (bwrap) or use Docker to isolate it"
        )


def _probe_interpreter(python: str) -> tuple[str, tuple[str, ...]]:
    """Return the version and the package folders of ``python``."""
    try:
        done = subprocess.run(
            [python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
        )
        version, folders = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise BackendUnavailable(
            f"failed to run the interpreter {python} ({error}); check that it exists and runs"
        ) from error
    return str(version), tuple(str(folder) for folder in folders)
