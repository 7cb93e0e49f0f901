"""A pytest plugin that records which lines of the workspace each test executes.

This file runs inside the sandbox, so it uses only the standard library. A
backend copies it under the name ``agentos_coverage_plugin.py`` next to the
event plugin and loads it through ``PYTEST_PLUGINS`` only when a run plan asks
for coverage, because tracing slows the suite down.

It appends one JSON object per test to the file named by ``AGENTOS_COVERAGE``:

    {"nodeid": "tests/test_a.py::test_one", "lines": {"pkg/a.py": [3, 4, 7]},
     "tracer": "monitoring"}

Paths are relative POSIX paths under the working directory, which the driver
sets to the workspace root. Files outside it, and installed packages inside
it, are not recorded. Lines run during setup, the call and teardown all count.

On Python 3.12 and later the lines come from ``sys.monitoring``, which stops
reporting a line once it has been recorded for the current test, so a loop
costs one event per line and not one per iteration. Earlier versions, and a
process where every monitoring tool id is taken, use ``sys.settrace``.
Setting ``AGENTOS_COVERAGE_TRACER`` to ``settrace`` forces the latter, to
compare the two.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import IO, Any

import pluggy

COVERAGE_VARIABLE = "AGENTOS_COVERAGE"
TRACER_VARIABLE = "AGENTOS_COVERAGE_TRACER"  # "settrace" forces sys.settrace
MODULE_NAME = "agentos_coverage_plugin"

hookimpl = pluggy.HookimplMarker("pytest")

_Tracer = Callable[[FrameType, str, Any], Any]


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
    """Starts the recorder around each test and writes the test's lines when it ends."""

    def __init__(self, output: IO[str], root: Path) -> None:
        self.output = output
        self.recorder = make_recorder(root)

    @hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        self.recorder.start()
        try:
            yield
        finally:
            lines = self.recorder.stop()
            record = {
                "nodeid": item.nodeid,
                "lines": {p: sorted(n) for p, n in lines.items()},
                "tracer": self.recorder.name,  # "monitoring" or "settrace"
            }
            self.output.write(json.dumps(record) + "\n")
            self.output.flush()


@hookimpl
def pytest_configure(config: Any) -> None:
    path = os.environ.get(COVERAGE_VARIABLE)
    if not path:
        return
    output = open(path, "a", encoding="utf-8")  # closed in pytest_unconfigure
    plugin = CoveragePlugin(output, Path(os.getcwd()).resolve())
    config.pluginmanager.register(plugin, "agentos-coverage")


@hookimpl
def pytest_unconfigure(config: Any) -> None:
    plugin = config.pluginmanager.get_plugin("agentos-coverage")
    if plugin is not None:
        plugin.recorder.close()
        plugin.output.close()


def read_coverage(text: str) -> dict[str, Mapping[str, frozenset[int]]]:
    """Parse the plugin's output into {node id: {path: lines}}; malformed lines are skipped.

    A test that ran in two phases (targets, then the suite) gets the union of its lines.
    """
    coverage: dict[str, dict[str, set[int]]] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
            nodeid, lines = record["nodeid"], record["lines"]
            per_file = coverage.setdefault(str(nodeid), {})
            for path, numbers in lines.items():
                per_file.setdefault(str(path), set()).update(int(n) for n in numbers)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return {
        nodeid: {path: frozenset(numbers) for path, numbers in files.items()}
        for nodeid, files in coverage.items()
    }
