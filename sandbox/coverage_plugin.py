"""A pytest plugin that records which lines of the workspace each test executes.

This file runs inside the sandbox, so it uses only the standard library. A
backend copies it under the name ``agentos_coverage_plugin.py`` next to the
event plugin and loads it through ``PYTEST_PLUGINS`` only when a run plan asks
for coverage, because tracing slows the suite down.

It writes one JSON object per test to the file named by ``AGENTOS_COVERAGE``:

    {"event": "coverage", "nodeid": "tests/test_a.py::test_one", "lines": {"pkg/a.py": [3, 4]},
     "tracer": "monitoring"}

The tracer is ``sys.monitoring`` on Python 3.12+ when a tool id is free, and
``sys.settrace`` otherwise or when ``AGENTOS_COVERAGE_TRACER`` is ``settrace``.

When ``AGENTOS_COVERAGE`` is ``events``, the same objects go into the event
stream of :mod:`sandbox.pytest_plugin` instead. A backend whose workspace is
gone when the run ends (Docker) reads them back with the other events.

``AGENTOS_COVERAGE_LIMIT`` bounds the bytes of records that one pytest
process writes. The first test whose record would exceed the bound is not
recorded. A ``coverage_truncated`` object with that test's ``nodeid`` and the
``limit`` is written instead, and tracing stops for the rest of the session,
so a reader can always tell partial coverage from complete coverage.

Paths are relative POSIX paths under the working directory, which the driver
sets to the workspace root. Files outside it, and installed packages inside
it, are not recorded. Lines run during setup, the call and teardown all count.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import pluggy

COVERAGE_VARIABLE = "AGENTOS_COVERAGE"
LIMIT_VARIABLE = "AGENTOS_COVERAGE_LIMIT"
EVENTS_TARGET = "events"  # the value of COVERAGE_VARIABLE that means the event stream
TRACER_VARIABLE = "AGENTOS_COVERAGE_TRACER"  # "settrace" forces sys.settrace
MODULE_NAME = "agentos_coverage_plugin"
EVENT_PLUGIN_NAME = "agentos-recorder"  # as sandbox/pytest_plugin.py registers its recorder
COVERAGE_KIND = "coverage"
TRUNCATED_KIND = "coverage_truncated"

hookimpl = pluggy.HookimplMarker("pytest")

_Tracer = Callable[[FrameType, str, Any], Any]
Writer = Callable[[str, dict[str, Any]], None]  # (record kind, fields)


class _Workspace:
    """Maps a code object's file name to its workspace path, or None outside the workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: dict[str, str | None] = {}

    def relative(self, filename: str) -> str | None:
        if filename in self._paths:
            return self._paths[filename]
        path: str | None = None
        if filename.endswith(".py"):
            try:
                relative = Path(filename).resolve().relative_to(self.root)
            except ValueError:
                relative = None
            if relative is not None and not {"site-packages", ".venv", "venv"} & set(
                relative.parts
            ):
                path = relative.as_posix()
        self._paths[filename] = path
        return path


class LineRecorder:
    """Collects (path, line) pairs executed in the workspace while it is started.

    It uses ``sys.settrace``, which every supported Python version has.
    """

    name = "settrace"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: dict[str, set[int]] = {}
        self._workspace = _Workspace(root)

    def start(self) -> None:
        self.lines = {}
        threading.settrace(self._trace_call)
        sys.settrace(self._trace_call)

    def stop(self) -> dict[str, set[int]]:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        return self.lines

    def close(self) -> None:
        """Release nothing: settrace holds no process-wide resource between tests."""

    def _trace_call(self, frame: FrameType, event: str, arg: Any) -> _Tracer | None:
        path = self._workspace.relative(frame.f_code.co_filename)
        if path is None:
            return None  # no line events for frames outside the workspace
        # The call event itself is not recorded: it reports the def line.
        executed = self.lines.setdefault(path, set())

        def trace_line(frame: FrameType, event: str, arg: Any) -> _Tracer:
            if event == "line":
                executed.add(frame.f_lineno)
            return trace_line

        return trace_line


class MonitoringRecorder:
    """Collects the same pairs as :class:`LineRecorder` through ``sys.monitoring`` (3.12+).

    Each line location reports once per test: the callback returns DISABLE,
    and ``start`` re-enables every location with ``restart_events``.
    """

    name = "monitoring"

    def __init__(self, root: Path, tool_id: int) -> None:
        self.root = root
        self.lines: dict[str, set[int]] = {}
        self._workspace = _Workspace(root)
        self._tool = tool_id
        self._monitoring: Any = sys.monitoring  # type: ignore[attr-defined]
        self._monitoring.register_callback(tool_id, self._monitoring.events.LINE, self._record_line)

    def start(self) -> None:
        self.lines = {}
        self._monitoring.set_events(self._tool, self._monitoring.events.LINE)
        self._monitoring.restart_events()

    def stop(self) -> dict[str, set[int]]:
        self._monitoring.set_events(self._tool, self._monitoring.events.NO_EVENTS)
        return self.lines

    def close(self) -> None:
        self._monitoring.register_callback(self._tool, self._monitoring.events.LINE, None)
        self._monitoring.free_tool_id(self._tool)

    def _record_line(self, code: Any, line: int) -> object:
        path = self._workspace.relative(code.co_filename)
        if path is not None:
            self.lines.setdefault(path, set()).add(line)
        return self._monitoring.DISABLE


def make_recorder(root: Path) -> LineRecorder | MonitoringRecorder:
    """Return a sys.monitoring recorder where the interpreter has one free, else a settrace one."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None or os.environ.get(TRACER_VARIABLE) == "settrace":
        return LineRecorder(root)
    # The coverage id first, then the ids that CPython leaves unnamed.
    for tool_id in (monitoring.COVERAGE_ID, 3, 4):
        try:
            monitoring.use_tool_id(tool_id, "agentos-coverage")
        except ValueError:
            continue  # another tool, such as coverage.py, uses this id
        return MonitoringRecorder(root, tool_id)
    return LineRecorder(root)


class CoveragePlugin:
    """Starts the recorder around each test and writes the test's lines when it ends.

    ``write`` takes a record kind (``coverage`` or ``coverage_truncated``) and
    its fields. ``limit`` is the bound in bytes of JSON for all records of this
    session, or None for no bound.
    """

    def __init__(
        self,
        write: Writer,
        root: Path,
        limit: int | None = None,
        output: IO[str] | None = None,
    ) -> None:
        self.write = write
        self.output = output  # the file that ``write`` appends to, closed at unconfigure
        self.recorder = make_recorder(root)
        self.limit = limit
        self.written = 0  # bytes of JSON records so far
        self.truncated = False

    @hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        if self.truncated:
            yield  # no tracing once the bound is hit: the records could not be kept
            return
        self.recorder.start()
        try:
            yield
        finally:
            lines = self.recorder.stop()
            self._record(item.nodeid, {p: sorted(n) for p, n in lines.items()})

    def _record(self, nodeid: str, lines: dict[str, list[int]]) -> None:
        fields = {"nodeid": nodeid, "lines": lines, "tracer": self.recorder.name}
        # The length of the line as written; json.dumps escapes to ASCII, so
        # characters are bytes.
        size = len(json.dumps({"event": COVERAGE_KIND, **fields})) + 1
        if self.limit is not None and self.written + size > self.limit:
            self.truncated = True
            self.write(TRUNCATED_KIND, {"nodeid": nodeid, "limit": self.limit})
            return
        self.written += size
        self.write(COVERAGE_KIND, fields)


@hookimpl
def pytest_configure(config: Any) -> None:
    target = os.environ.get(COVERAGE_VARIABLE)
    if not target:
        return
    root = Path(os.getcwd()).resolve()
    limit = _limit(os.environ.get(LIMIT_VARIABLE, ""))
    output = None
    if target == EVENTS_TARGET:
        write = _event_writer(config)
    else:
        output = open(target, "a", encoding="utf-8")  # closed in pytest_unconfigure
        write = _file_writer(output)
    plugin = CoveragePlugin(write, root, limit, output)
    config.pluginmanager.register(plugin, "agentos-coverage")


@hookimpl
def pytest_unconfigure(config: Any) -> None:
    plugin = config.pluginmanager.get_plugin("agentos-coverage")
    if plugin is None:
        return
    plugin.recorder.close()
    if plugin.output is not None:
        plugin.output.close()


def _limit(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _file_writer(output: IO[str]) -> Writer:
    def write(kind: str, fields: dict[str, Any]) -> None:
        output.write(json.dumps({"event": kind, **fields}) + "\n")
        output.flush()

    return write


def _event_writer(config: Any) -> Writer:
    """Return a writer into the event plugin's stream, found when the first record is due.

    The event plugin registers itself in its own pytest_configure, which may
    run after this one, so it is looked up late. Without it the records are dropped,
    as the events are.
    """

    def write(kind: str, fields: dict[str, Any]) -> None:
        recorder = config.pluginmanager.get_plugin(EVENT_PLUGIN_NAME)
        if recorder is not None:
            recorder.write_event(kind, **fields)

    return write


@dataclass(frozen=True)
class RecordedCoverage:
    """Per-test lines read back from the plugin's records."""

    lines: dict[str, Mapping[str, frozenset[int]]]  # {node id: {path: line numbers}}
    truncated_at: str | None = None  # the first test left out when the bound was hit
    limit: int | None = None  # the bound in bytes that was hit


def read_coverage(text: str) -> RecordedCoverage:
    """Parse the plugin's records, alone or among other events; malformed lines are skipped.

    A test that ran in two phases (targets, then the suite) gets the union of its lines.
    """
    coverage: dict[str, dict[str, set[int]]] = {}
    truncated_at: str | None = None
    limit: int | None = None
    for line in text.splitlines():
        try:
            record = json.loads(line)
            kind = record.get("event", COVERAGE_KIND)
            if kind == TRUNCATED_KIND and truncated_at is None:
                truncated_at, limit = str(record["nodeid"]), int(record["limit"])
            if kind != COVERAGE_KIND:
                continue
            nodeid, lines = record["nodeid"], record["lines"]
            per_file = coverage.setdefault(str(nodeid), {})
            for path, numbers in lines.items():
                per_file.setdefault(str(path), set()).update(int(n) for n in numbers)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    frozen = {
        nodeid: {path: frozenset(numbers) for path, numbers in files.items()}
        for nodeid, files in coverage.items()
    }
    return RecordedCoverage(frozen, truncated_at, limit)
