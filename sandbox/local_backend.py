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
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from sandbox.backend import CANCELLED_DETAIL, RunPlan
from sandbox.errors import BackendUnavailable
from sandbox.events import parse_events
from sandbox.pool import worker_limit
from sandbox.pytest_plugin import EVENTS_VARIABLE, MODULE_NAME
from sandbox.results import RunStatus, TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

KILL_GRACE = 10.0  # seconds to wait for a killed process group to be reaped
BUBBLEWRAP = "bubblewrap"
RLIMITS = "rlimits"
_warned_not_isolated = False


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

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        """Run ``plan`` on ``snapshot``; failures of the code under test are in the TestRun."""
        if not plan.targets and not plan.full_suite:
            raise ValueError("the run plan has no targets and full_suite is off: nothing to run")
        if not self.isolated:
            _warn_once()
        folder = Path(tempfile.mkdtemp(prefix="agentos-local-"))
        try:
            return self._run_in(folder, snapshot, plan)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if folder.exists():
                logger.warning("could not remove the temporary sandbox folder %s", folder)

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

    def close(self) -> None:
        """Nothing to release: every run cleans up after itself."""

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
        workspace, plugin_dir, home = folder / "work", folder / "plugin", folder / "home"
        for path in (workspace, plugin_dir, home):
            path.mkdir()
        snapshot.extract(workspace)
        plugin = plugin_dir / f"{MODULE_NAME}.py"
        shutil.copyfile(Path(__file__).with_name("pytest_plugin.py"), plugin)
        events_path = folder / "events.jsonl"
        output_path = folder / "output.log"

        command = [*self._wrapper(folder, workspace), self.python, str(plugin)]
        command.extend(f"--limit={name}={value}" for name, value in self.limits.items())
        # CPU seconds: a test that spins on a core ends by itself even if the
        # deadline is missed; NOTE: it is per process, so it does not bound a pool.
        command.append(f"--limit=cpu={int(plan.timeout) + 30}")
        if plan.full_suite:
            command.append("--full-suite")
        if not plan.stop_at_first_failure:
            command.append("--keep-going")
        command.extend(["--", *plan.targets])
        environment = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(plugin_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
            EVENTS_VARIABLE: str(events_path),
        }

        logger.info("local sandbox (%s): running pytest in %s", self.isolation, workspace)
        started = time.monotonic()
        with output_path.open("wb") as output_file:
            exit_code, timed_out, cancelled = self._run_process(
                command, workspace, environment, output_file, plan.timeout
            )
        duration = time.monotonic() - started
        if cancelled:
            return TestRun(RunStatus.INVALID, None, backend=self.name, detail=CANCELLED_DETAIL)

        events = events_path.read_text("utf-8", errors="replace") if events_path.exists() else ""
        output = _read_clipped(output_path, self.output_limit)
        run = parse_events(
            events,
            exit_code,
            targets=plan.targets,
            output=output,
            duration=duration,
            backend=self.name,
            timed_out_after=plan.timeout if timed_out else None,
        )
        logger.info(
            "local sandbox: %s, %d passed, %d failed in %.1f s",
            run.status.value,
            len(run.passed()),
            len(run.failed()),
            duration,
        )
        return run


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
