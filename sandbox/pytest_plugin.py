"""The sandbox side of a validation run: a pytest plugin and a two-phase driver.

This file runs inside the sandbox, so it uses only the standard library, pluggy
and pytest. Backends copy it under the name ``agentos_pytest_plugin.py`` into a
folder outside the workspace and put that folder on ``PYTHONPATH``. The
distinctive name keeps it from clashing with any module of the repository
under test.

As a plugin (``pytest -p agentos_pytest_plugin``) it appends one JSON object
per line to the file named by ``AGENTOS_EVENTS`` (or, for ``fd:N``, to the
inherited file descriptor N) and flushes each line at once, so a run that
dies part-way still shows how far it got. As a program
(``python -m agentos_pytest_plugin``) it runs the targets with ``-x`` and then,
when they all pass and ``--full-suite`` is given, the whole suite. With
``--timeout`` it kills pytest at that deadline, and with ``--output-limit`` it
keeps only the head and tail of pytest's console output.

Events, by their ``event`` key:

    phase_start       phase                      written by the driver
    phase_end         phase, exit_code           the pytest process's exit code
    phase_skipped     phase, reason              the suite phase did not run
    phase_timeout     phase, seconds             the driver killed pytest at its deadline
    session_start     pytest, rootdir, python, pid
    collection_error  nodeid, exc_type, message, frames, longrepr
    test_start        nodeid
    test_report       nodeid, phase, outcome, duration, exc_type, message, frames, longrepr
    test_finish       nodeid
    internal_error    message
    session_finish    exit_status, collected, failed
    coverage          nodeid, lines              from the coverage plugin, when it is loaded
    coverage_truncated nodeid, limit             the coverage plugin hit its bound in bytes

``outcome`` is one of passed, failed, skipped, xfailed, xpassed and error (a
failure in setup or teardown). A frame is an object with path, line, function,
source and in_workspace. Paths inside the rootdir are relative POSIX paths.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

import pluggy

EVENTS_VARIABLE = "AGENTOS_EVENTS"
MODULE_NAME = "agentos_pytest_plugin"
TARGETS_PHASE = "targets"
SUITE_PHASE = "suite"

MAX_MESSAGE = 2_000  # characters of an exception message
MAX_LONGREPR = 4_000  # characters of pytest's own failure text
MAX_FRAMES = 40  # innermost frames kept from one traceback
TIMEOUT_EXIT = 124  # the driver's exit code after killing pytest at its deadline, as timeout(1)
READER_GRACE = 2.0  # seconds to wait for the output pipe to close once pytest is gone

hookimpl = pluggy.HookimplMarker("pytest")


class EventWriter:
    """Append-only JSON-lines file, flushed after every line.

    ``target`` is a path, or ``fd:N`` for an inherited file descriptor, which
    the writer makes non-inheritable so that processes the tests start do not
    get it.
    """

    def __init__(self, target: str) -> None:
        if target.startswith("fd:"):
            descriptor = int(target[3:])
            os.set_inheritable(descriptor, False)
            self._file: IO[str] = open(descriptor, "a", encoding="utf-8", closefd=False)
        else:
            self._file = open(target, "a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, default=str)
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to about ``limit`` characters, keeping its head and tail."""
    if len(text) <= limit:
        return text
    keep = max(limit // 2 - 40, 0)
    cut = len(text) - 2 * keep
    return f"{text[:keep]}\n... [{cut} characters cut] ...\n{text[len(text) - keep :]}"


# --- the plugin --------------------------------------------------------------


def pytest_configure(config: Any) -> None:
    path = os.environ.pop(EVENTS_VARIABLE, None)
    # Popping the variable keeps the code under test, and any pytest it starts
    # itself, from writing into this run's stream.
    if path:
        recorder = Recorder(EventWriter(path), config.rootpath)
        config.pluginmanager.register(recorder, "agentos-recorder")


class Recorder:
    """Hooks that write the events of one pytest session."""

    def __init__(self, writer: EventWriter, rootdir: Path) -> None:
        # pytest is imported here, not at the top, so that the driver starts without it.
        import _pytest
        import pytest

        self._writer = writer
        self._rootdir = rootdir.resolve()
        self._skip_exception: type[BaseException] = pytest.skip.Exception
        self._collect_error: type[BaseException] = pytest.Collector.CollectError
        # Frames of pytest's runner, of pluggy and of the import system only
        # show how pytest reached the code, so they are left out.
        folders = {
            str(folder) + os.sep
            for module in (_pytest, pluggy, importlib)
            if module.__file__
            for folder in (Path(module.__file__).parent, Path(module.__file__).resolve().parent)
        }
        self._internal_prefixes = (*sorted(folders), __file__, "<frozen importlib")
        self._failures: dict[tuple[str, str], dict[str, Any]] = {}
        self._collection_failures: dict[str, dict[str, Any]] = {}

    def write_event(self, event: str, **fields: Any) -> None:
        """Write one event for another plugin of the session, such as the coverage plugin."""
        self._writer.write(event, **fields)

    def pytest_sessionstart(self, session: Any) -> None:
        import pytest

        self._writer.write(
            "session_start",
            pytest=pytest.__version__,
            rootdir=str(self._rootdir),
            python=platform.python_version(),
            pid=os.getpid(),
        )

    def pytest_exception_interact(self, node: Any, call: Any, report: Any) -> None:
        # For collectors this hook runs before pytest_collectreport, and it is
        # the only hook that receives the exception of a failed collection.
        if report.when == "collect":
            self._collection_failures[node.nodeid] = self._describe(call.excinfo.value)

    def pytest_collectreport(self, report: Any) -> None:
        if not report.failed:
            return
        described = self._collection_failures.pop(report.nodeid, None) or {
            "exc_type": None,
            "message": clip(last_line(report.longreprtext), MAX_MESSAGE),
            "frames": [],
        }
        self._writer.write(
            "collection_error",
            nodeid=report.nodeid,
            longrepr=clip(report.longreprtext, MAX_LONGREPR),
            **described,
        )

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self._writer.write("test_start", nodeid=nodeid)

    @hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        # Runs before pytest builds the report; only here is call.excinfo at hand.
        if call.excinfo is not None and not isinstance(call.excinfo.value, self._skip_exception):
            self._failures[(item.nodeid, call.when)] = self._describe(call.excinfo.value)

    def pytest_runtest_logreport(self, report: Any) -> None:
        outcome = classify(report)
        described = self._failures.pop((report.nodeid, report.when), None) or {}
        fields: dict[str, Any] = {
            "nodeid": report.nodeid,
            "phase": report.when,
            "outcome": outcome,
            "duration": report.duration,
            "exc_type": described.get("exc_type"),
            "message": described.get("message", ""),
            "frames": described.get("frames", []),
            "longrepr": "",
        }
        if outcome in ("skipped", "xfailed", "xpassed"):
            fields["message"] = clip(skip_reason(report), MAX_MESSAGE)
        elif outcome != "passed":
            fields["longrepr"] = clip(report.longreprtext, MAX_LONGREPR)
            if not fields["message"]:
                fields["message"] = clip(report.longreprtext.strip(), MAX_MESSAGE)
        self._writer.write("test_report", **fields)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self._writer.write("test_finish", nodeid=nodeid)

    def pytest_internalerror(self, excrepr: Any, excinfo: Any) -> None:
        self._writer.write("internal_error", message=clip(str(excrepr), MAX_LONGREPR))

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self._writer.write(
            "session_finish",
            exit_status=int(exitstatus),
            collected=session.testscollected,
            failed=session.testsfailed,
        )

    def pytest_unconfigure(self, config: Any) -> None:
        self._writer.close()

    def _describe(self, error: BaseException) -> dict[str, Any]:
        """Return the type, message and frames of the exception behind a failure."""
        if isinstance(error, self._collect_error) and error.__cause__ is not None:
            # pytest wraps import and syntax errors of a test module; the cause is the real one.
            error = error.__cause__
        return {
            "exc_type": type_name(error),
            "message": clip(exception_message(error), MAX_MESSAGE),
            "frames": self._frames(error),
        }

    def _frames(self, error: BaseException) -> list[dict[str, Any]]:
        frames = [
            self._frame(summary.filename, summary.lineno or 0, summary.name, summary.line or "")
            for summary in traceback.extract_tb(error.__traceback__)
            if not summary.filename.startswith(self._internal_prefixes)
        ]
        if isinstance(error, SyntaxError) and error.filename:
            # The traceback of a SyntaxError ends in the import machinery, not at the bad line.
            source = (error.text or "").strip()
            frames.append(self._frame(error.filename, error.lineno or 0, "<module>", source))
        return frames[-MAX_FRAMES:]

    def _frame(self, filename: str, line: int, function: str, source: str) -> dict[str, Any]:
        path, inside = self._relative(filename)
        return {
            "path": path,
            "line": line,
            "function": function,
            "source": clip(source, 500),
            "in_workspace": inside,
        }

    def _relative(self, filename: str) -> tuple[str, bool]:
        if filename.startswith("<"):
            return filename, False  # <string>, <frozen importlib._bootstrap>, ...
        path = Path(filename)
        if not path.is_absolute():
            path = Path.cwd() / path
        try:
            relative = path.resolve().relative_to(self._rootdir)
        except ValueError:
            return path.as_posix(), False
        if "site-packages" in relative.parts:
            return path.as_posix(), False  # a virtual environment inside the repository
        return relative.as_posix(), True


def classify(report: Any) -> str:
    """Return the outcome name of one phase's report, telling xfail and xpass apart."""
    expected_failure = hasattr(report, "wasxfail")
    if report.passed:
        return "xpassed" if expected_failure else "passed"
    if report.skipped:
        return "xfailed" if expected_failure else "skipped"
    return "failed" if report.when == "call" else "error"


def skip_reason(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail)
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])  # (path, line, reason)
    return str(longrepr or "")


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def type_name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def exception_message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as failure:  # the code under test may define a broken __str__
        return f"<str() of the exception raised {type(failure).__name__}>"


# --- the driver --------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the targets with -x, then the whole suite if they pass; return the exit code to report.

    ``--keep-going`` drops the -x.

    The exit code is that of the targets phase when it failed, else that of
    the last phase run. A pytest killed by signal N is reported as 128 + N,
    and a pytest killed at the deadline as TIMEOUT_EXIT.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE_NAME}")
    parser.add_argument(
        "--full-suite", action="store_true", help="run the whole suite after the targets"
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds for all phases together"
    )
    parser.add_argument(
        "--output-limit",
        type=int,
        default=None,
        help="bytes of pytest's console output to keep (head and tail)",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a resource limit for the driver and pytest: as (bytes of address space), "
        "nproc (processes), fsize (bytes of one file) or cpu (seconds)",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="run every target even after one fails (no -x)",
    )
    parser.add_argument(
        "--own-process-group",
        action="store_true",
        help="run each pytest in its own process group and kill the group when it ends",
    )
    parser.add_argument(
        "targets", nargs="*", help="pytest node ids to run first, stopping at the first failure"
    )
    options = parser.parse_args(argv)
    events_target = os.environ.get(EVENTS_VARIABLE)
    if not events_target:
        parser.error(f"the environment variable {EVENTS_VARIABLE} must name the events file")
    if not options.targets and not options.full_suite:
        parser.error("nothing to run: give target node ids, --full-suite, or both")

    for limit in options.limit:
        apply_limit(parser, limit)

    writer = EventWriter(events_target)
    runner = PhaseRunner(
        writer, events_target, options.timeout, options.output_limit, options.own_process_group
    )
    try:
        if options.targets:
            stop = [] if options.keep_going else ["-x"]
            code = runner.run(TARGETS_PHASE, [*stop, "--", *options.targets])
            if code != 0:
                if options.full_suite:
                    reason = f"the targets phase exited with {code}"
                    writer.write("phase_skipped", phase=SUITE_PHASE, reason=reason)
                return code
            if not options.full_suite:
                return code
        # A module that fails to import must not hide the results of all the
        # others, which pytest's default of stopping after collection does.
        return runner.run(SUITE_PHASE, ["--continue-on-collection-errors"])
    finally:
        runner.flush_output()
        writer.close()


class PhaseRunner:
    """Runs one pytest process per phase under a shared deadline."""

    def __init__(
        self,
        writer: EventWriter,
        events_target: str,
        timeout: float | None,
        output_limit: int | None,
        own_process_group: bool = False,
    ) -> None:
        self._writer = writer
        self._own_group = own_process_group
        self._events_target = events_target
        self._deadline = time.monotonic() + timeout if timeout is not None else None
        self._timeout = timeout
        self._output = OutputClipper(output_limit) if output_limit is not None else None

    def run(self, phase: str, arguments: list[str]) -> int:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            MODULE_NAME,
            "-p",
            "no:cacheprovider",
            "-q",
            # A fixed rootdir keeps node ids and frame paths relative to the
            # workspace root in both phases, whatever the arguments are.
            "--rootdir",
            os.getcwd(),
            *arguments,
        ]
        environment = dict(os.environ)
        pass_fds: tuple[int, ...] = ()
        if self._events_target.startswith("fd:"):
            # The child gets its own copy of the descriptor, because the
            # driver's writer made the original non-inheritable.
            copy = os.dup(int(self._events_target[3:]))
            environment[EVENTS_VARIABLE] = f"fd:{copy}"
            pass_fds = (copy,)
        piped = self._output is not None

        self._writer.write("phase_start", phase=phase)
        process = subprocess.Popen(
            command,
            env=environment,
            pass_fds=pass_fds,
            stdout=subprocess.PIPE if piped else None,
            stderr=subprocess.STDOUT if piped else None,
            # In its own process group, everything the tests started can be
            # killed with it. Without one, the caller kills the driver's group.
            start_new_session=self._own_group,
        )
        for descriptor in pass_fds:
            os.close(descriptor)
        reader = self._output.follow(process.stdout) if self._output and process.stdout else None
        code = self._wait(process, phase)
        if self._own_group:
            kill_group(process.pid)
        if reader is not None:
            reader.join(READER_GRACE)
        self._writer.write("phase_end", phase=phase, exit_code=code)
        if code is None:
            return TIMEOUT_EXIT
        return 128 - code if code < 0 else code

    def flush_output(self) -> None:
        if self._output is not None:
            self._output.flush()

    def _wait(self, process: subprocess.Popen[bytes], phase: str) -> int | None:
        """Wait for pytest; kill it at the deadline and return None then."""
        remaining = None if self._deadline is None else max(self._deadline - time.monotonic(), 0)
        try:
            return process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            if self._own_group:
                kill_group(process.pid)
            else:
                process.kill()
            process.wait()
            self._writer.write("phase_timeout", phase=phase, seconds=self._timeout)
            return None


class OutputClipper:
    """Copies a pipe to standard output, keeping about ``limit`` bytes: the head and the tail."""

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 0)
        self._head_left = self._half
        self._tail = bytearray()
        self._cut = 0
        self._lock = threading.Lock()

    def follow(self, pipe: IO[bytes]) -> threading.Thread:
        thread = threading.Thread(target=self._copy, args=(pipe,), daemon=True)
        thread.start()
        return thread

    def flush(self) -> None:
        """Write the kept tail, saying how much was cut before it."""
        with self._lock:
            out = sys.stdout.buffer
            if self._cut:
                out.write(f"\n... [{self._cut} bytes cut] ...\n".encode())
            out.write(bytes(self._tail))
            out.flush()
            self._tail.clear()
            self._cut = 0

    def _copy(self, pipe: IO[bytes]) -> None:
        out = sys.stdout.buffer
        while chunk := pipe.read1(65536):  # type: ignore[attr-defined]
            with self._lock:
                if self._head_left > 0:
                    head, chunk = chunk[: self._head_left], chunk[self._head_left :]
                    out.write(head)
                    out.flush()
                    self._head_left -= len(head)
                self._tail.extend(chunk)
                overflow = len(self._tail) - self._half
                if overflow > 0:
                    del self._tail[:overflow]
                    self._cut += overflow


def apply_limit(parser: argparse.ArgumentParser, limit: str) -> None:
    """Set one ``NAME=VALUE`` resource limit on this process, which its children inherit."""
    import resource

    names = {
        "as": resource.RLIMIT_AS,
        "nproc": resource.RLIMIT_NPROC,
        "fsize": resource.RLIMIT_FSIZE,
        "cpu": resource.RLIMIT_CPU,
    }
    name, _, value = limit.partition("=")
    if name not in names or not value.isdigit():
        parser.error(f"invalid --limit {limit!r}: expected NAME=VALUE with NAME in {sorted(names)}")
    kind = names[name]
    _, hard = resource.getrlimit(kind)
    wanted = int(value)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(kind, (wanted, hard if hard != resource.RLIM_INFINITY else wanted))


def kill_group(pid: int) -> None:
    """Kill the process group led by ``pid``; the tests' leftover processes go with it."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    sys.exit(main())
