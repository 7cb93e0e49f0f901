"""Run a snapshot's tests in a temporary folder on the host, without isolation.

The fallback when Docker cannot be used. It runs the same driver and plugin as
the Docker backend, with a cleared environment, its own process group, a
deadline and truncated output. It does not stop the code under test from
using the network or writing outside the folder, which is why it logs a
warning the first time it is used in a process.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import IO

from sandbox import coverage_plugin
from sandbox.backend import RunPlan
from sandbox.events import parse_events
from sandbox.pytest_plugin import EVENTS_VARIABLE, MODULE_NAME
from sandbox.results import TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

KILL_GRACE = 10.0  # seconds to wait for a killed process group to be reaped
_warned_not_isolated = False


class LocalBackend:
    """Runs pytest with ``python`` in a temporary copy of the snapshot."""

    name = "local"
    isolated = False

    def __init__(self, python: str = sys.executable, *, output_limit: int = 200_000) -> None:
        self.python = python
        self.output_limit = output_limit

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        """Run ``plan`` on ``snapshot``; failures of the code under test are in the TestRun."""
        if not plan.targets and not plan.full_suite:
            raise ValueError("the run plan has no targets and full_suite is off: nothing to run")
        _warn_once()
        folder = Path(tempfile.mkdtemp(prefix="agentos-local-"))
        try:
            return self._run_in(folder, snapshot, plan)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if folder.exists():
                logger.warning("could not remove the temporary sandbox folder %s", folder)

    def close(self) -> None:
        """Nothing to release: every run cleans up after itself."""

    def _run_in(self, folder: Path, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        workspace, plugin_dir, home = folder / "work", folder / "plugin", folder / "home"
        for path in (workspace, plugin_dir, home):
            path.mkdir()
        snapshot.extract(workspace)
        plugin = plugin_dir / f"{MODULE_NAME}.py"
        shutil.copyfile(Path(__file__).with_name("pytest_plugin.py"), plugin)
        events_path = folder / "events.jsonl"
        output_path = folder / "output.log"

        command = [self.python, str(plugin)]
        if plan.full_suite:
            command.append("--full-suite")
        command.extend(["--", *plan.targets])
        environment = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(plugin_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
            EVENTS_VARIABLE: str(events_path),
        }
        coverage_path = folder / "coverage.jsonl"
        if plan.coverage:
            shutil.copyfile(
                coverage_plugin.__file__, plugin_dir / f"{coverage_plugin.MODULE_NAME}.py"
            )
            environment["PYTEST_PLUGINS"] = coverage_plugin.MODULE_NAME
            environment[coverage_plugin.COVERAGE_VARIABLE] = str(coverage_path)

        logger.info("local sandbox: running pytest in %s", workspace)
        started = time.monotonic()
        with output_path.open("wb") as output_file:
            exit_code, timed_out = _run_process(
                command, workspace, environment, output_file, plan.timeout
            )
        duration = time.monotonic() - started

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
        if plan.coverage and coverage_path.exists():
            text = coverage_path.read_text("utf-8", errors="replace")
            run = replace(run, coverage=coverage_plugin.read_coverage(text))
        logger.info(
            "local sandbox: %s, %d passed, %d failed in %.1f s",
            run.status.value,
            len(run.passed()),
            len(run.failed()),
            duration,
        )
        return run


def _run_process(
    command: list[str],
    cwd: Path,
    environment: dict[str, str],
    output_file: IO[bytes],
    timeout: float,
) -> tuple[int | None, bool]:
    """Run ``command`` in a new session; kill its whole process group at the deadline or on error.

    Return (exit code, timed out); the exit code is None after a kill.
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
    try:
        return process.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        logger.info("local sandbox passed its deadline of %g s; killing it", timeout)
        return None, True
    finally:
        # Also reached on Ctrl-C; the group includes everything the tests started
        # unless they left it with setsid.
        _kill_group(process)


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
            "the local sandbox backend is not isolated: candidate code runs on this machine "
            "with network access and can write outside its folder; use Docker to isolate it"
        )
