"""Parsing of event streams, including broken, truncated and contradictory ones."""

from __future__ import annotations

import json
from typing import Any

from sandbox.events import matching_results, parse_events
from sandbox.results import Outcome, RunStatus


def line(event: str, **fields: Any) -> str:
    return json.dumps({"event": event, **fields})


def report(nodeid: str, phase: str, outcome: str, **fields: Any) -> str:
    return line("test_report", nodeid=nodeid, phase=phase, outcome=outcome, duration=0.01, **fields)


def events_of_test(nodeid: str, call: str = "passed", **fields: Any) -> list[str]:
    """The events of one test whose call phase has ``call`` as outcome."""
    return [
        line("test_start", nodeid=nodeid),
        report(nodeid, "setup", "passed"),
        report(nodeid, "call", call, **fields),
        report(nodeid, "teardown", "passed"),
        line("test_finish", nodeid=nodeid),
    ]


def session(*body: str, exit_status: int | None = 0) -> list[str]:
    lines = [line("session_start", pytest="9.0", rootdir="/work", python="3.11", pid=1), *body]
    if exit_status is not None:
        lines.append(line("session_finish", exit_status=exit_status, collected=0, failed=0))
    return lines


def phase(name: str, lines: list[str], exit_code: int | None) -> list[str]:
    wrapped = [line("phase_start", phase=name), *lines]
    if exit_code is not None:
        wrapped.append(line("phase_end", phase=name, exit_code=exit_code))
    return wrapped


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def test_clean_pass_completed() -> None:
    stream = text(session(*events_of_test("t.py::test_a"), *events_of_test("t.py::test_b")))

    run = parse_events(stream, 0, backend="local", duration=1.5, output="2 passed")

    assert run.status is RunStatus.COMPLETED
    assert run.detail == ""
    assert run.passed() == {"t.py::test_a", "t.py::test_b"}
    assert run.tests["t.py::test_a"].phase == "call"
    assert run.backend == "local"
    assert run.duration == 1.5
    assert run.output == "2 passed"
    assert run.exit_code == 0


def test_failure_fields_and_frames() -> None:
    frames = [
        {"path": "t.py", "line": 3, "function": "test_a", "source": "f()", "in_workspace": True},
        {"path": "/usr/lib/x.py", "line": 9, "function": "f", "source": "", "in_workspace": False},
    ]
    body = events_of_test(
        "t.py::test_a",
        call="failed",
        exc_type="ValueError",
        message="bad",
        frames=frames,
        longrepr="E ValueError: bad",
    )

    run = parse_events(text(session(*body, exit_status=1)), 1)

    result = run.tests["t.py::test_a"]
    assert result.outcome is Outcome.FAILED
    assert result.exc_type == "ValueError"
    assert result.message == "bad"
    assert result.longrepr == "E ValueError: bad"
    assert [(f.path, f.line, f.function, f.in_workspace) for f in result.frames] == [
        ("t.py", 3, "test_a", True),
        ("/usr/lib/x.py", 9, "f", False),
    ]


def test_truncated_stream_crashed() -> None:
    body = [*events_of_test("t.py::test_a"), line("test_start", nodeid="t.py::test_b")]
    body.append(report("t.py::test_b", "setup", "passed"))

    run = parse_events(text(session(*body, exit_status=None)), 0)

    assert run.status is RunStatus.CRASHED
    assert run.running_test == "t.py::test_b"
    assert "t.py::test_b" in run.detail
    crashed = run.tests["t.py::test_b"]
    assert crashed.outcome is Outcome.ERROR
    assert crashed.phase == "call"
    assert run.tests["t.py::test_a"].outcome is Outcome.PASSED


def test_stream_cut_mid_line() -> None:
    stream = text(session(*events_of_test("t.py::test_a"))) + '{"event": "test_sta'

    run = parse_events(stream, 0)

    assert run.status is RunStatus.COMPLETED
    assert "1 malformed" in run.detail


def test_malformed_lines_skipped_and_counted() -> None:
    lines = session(*events_of_test("t.py::test_a"))
    lines[2:2] = ["not json at all", "[1, 2, 3]", '{"no_event_key": 1}']

    run = parse_events(text(lines), 0)

    assert run.status is RunStatus.COMPLETED
    assert "3 malformed event line(s) skipped" in run.detail
    assert run.passed() == {"t.py::test_a"}


def test_empty_stream_invalid() -> None:
    run = parse_events("", 4, output="ERROR: usage: pytest [options]\n")

    assert run.status is RunStatus.INVALID
    assert "no pytest events" in run.detail
    assert "usage: pytest" in run.detail


def test_no_session_start_invalid() -> None:
    stream = text(phase("suite", [], 4))

    run = parse_events(stream, 4, output="ImportError while loading conftest '/work/conftest.py'.")

    assert run.status is RunStatus.INVALID
    assert "before its session started" in run.detail
    assert "conftest" in run.detail


def test_exit_code_mismatch_invalid() -> None:
    stream = text(session(*events_of_test("t.py::test_a"), exit_status=0))

    run = parse_events(stream, 1)

    assert run.status is RunStatus.INVALID
    assert "exit status 0" in run.detail
    assert "exited with 1" in run.detail


def test_exit_zero_with_failure_invalid() -> None:
    stream = text(session(*events_of_test("t.py::test_a", call="failed"), exit_status=0))

    run = parse_events(stream, 0)

    assert run.status is RunStatus.INVALID
    assert "show failures" in run.detail


def test_exit_one_without_failure_invalid() -> None:
    stream = text(session(*events_of_test("t.py::test_a"), exit_status=1))

    run = parse_events(stream, 1)

    assert run.status is RunStatus.INVALID
    assert "no failure" in run.detail


def test_unknown_exit_code_invalid() -> None:
    run = parse_events(text(session(*events_of_test("t.py::test_a"))), None)

    assert run.status is RunStatus.INVALID
    assert "unknown" in run.detail


def test_signal_after_finish_crashed() -> None:
    run = parse_events(text(session(*events_of_test("t.py::test_a"))), -11)

    assert run.status is RunStatus.CRASHED
    assert "-11" in run.detail


def test_no_tests_collected_completed() -> None:
    run = parse_events(text(session(exit_status=5)), 5)

    assert run.status is RunStatus.COMPLETED
    assert run.tests == {}
    assert run.exit_code == 5


def test_collection_error_completed() -> None:
    frame = {"path": "t.py", "line": 2, "function": "<module>", "source": "def ("}
    error = line(
        "collection_error",
        nodeid="t.py",
        exc_type="SyntaxError",
        message="invalid syntax",
        frames=[frame],
        longrepr="E SyntaxError",
    )

    run = parse_events(text(session(error, exit_status=2)), 2)

    assert run.status is RunStatus.COMPLETED
    assert len(run.collection_errors) == 1
    collected = run.collection_errors[0]
    assert collected.nodeid == "t.py"
    assert collected.exc_type == "SyntaxError"
    assert collected.frames[0].line == 2


def test_interrupted_without_collection_error_invalid() -> None:
    run = parse_events(text(session(*events_of_test("t.py::test_a"), exit_status=2)), 2)

    assert run.status is RunStatus.INVALID
    assert "interrupted" in run.detail


def test_internal_error_invalid() -> None:
    message = "INTERNALERROR> Traceback\nINTERNALERROR> KeyError: 'x'"
    body = [line("internal_error", message=message)]

    run = parse_events(text(session(*body, exit_status=3)), 3)

    assert run.status is RunStatus.INVALID
    assert "KeyError" in run.detail


def test_first_failing_phase_wins() -> None:
    body = [
        line("test_start", nodeid="t.py::test_a"),
        report("t.py::test_a", "setup", "passed"),
        report("t.py::test_a", "call", "failed", exc_type="AssertionError"),
        report("t.py::test_a", "teardown", "error", exc_type="OSError"),
        line("test_finish", nodeid="t.py::test_a"),
    ]

    run = parse_events(text(session(*body, exit_status=1)), 1)

    result = run.tests["t.py::test_a"]
    assert result.outcome is Outcome.FAILED
    assert result.exc_type == "AssertionError"


def test_two_phases_targets_win() -> None:
    targets = phase("targets", session(*events_of_test("t.py::test_a")), 0)
    suite_body = [*events_of_test("t.py::test_a", call="failed"), *events_of_test("t.py::test_b")]
    suite = phase("suite", session(*suite_body, exit_status=1), 1)

    run = parse_events(text(targets + suite), 1, targets=("t.py::test_a",))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.tests["t.py::test_a"].outcome is Outcome.PASSED
    assert run.tests["t.py::test_b"].outcome is Outcome.PASSED


def test_skipped_suite_phase_noted() -> None:
    failing = events_of_test("t.py::test_a", call="failed")
    targets = phase("targets", session(*failing, exit_status=1), 1)
    targets.append(line("phase_skipped", phase="suite", reason="the targets phase exited with 1"))

    run = parse_events(text(targets), 1, targets=("t.py::test_a",))

    assert run.status is RunStatus.COMPLETED
    assert "suite phase did not run because the targets phase exited with 1" in run.detail


def test_driver_exit_mismatch_invalid() -> None:
    stream = text(phase("suite", session(*events_of_test("t.py::test_a")), 0))

    run = parse_events(stream, 3)

    assert run.status is RunStatus.INVALID
    assert "driver exited with 3" in run.detail


def test_missing_target_counts_as_error() -> None:
    stream = text(phase("targets", session(exit_status=5), 5))

    run = parse_events(stream, 5, targets=("t.py::test_gone",))

    result = run.tests["t.py::test_gone"]
    assert result.outcome is Outcome.ERROR
    assert "never reported" in result.message
    assert "t.py::test_gone" not in run.passed()


def test_parametrized_target_matches() -> None:
    body = [*events_of_test("t.py::test_p[1]"), *events_of_test("t.py::test_p[2]", call="failed")]
    run = parse_events(text(session(*body, exit_status=1)), 1, targets=("t.py::test_p",))

    matched = matching_results(run.tests, "t.py::test_p")

    assert sorted(result.nodeid for result in matched) == ["t.py::test_p[1]", "t.py::test_p[2]"]
    assert "t.py::test_p" not in run.tests
    assert matching_results(run.tests, "t.py::test_") == []


def test_timeout_names_running_test() -> None:
    body = [*events_of_test("t.py::test_a"), line("test_start", nodeid="t.py::test_hang")]
    stream = text(phase("suite", session(*body, exit_status=None), None))

    run = parse_events(stream, None, timed_out_after=5.0)

    assert run.status is RunStatus.TIMED_OUT
    assert run.running_test == "t.py::test_hang"
    assert "5 s" in run.detail
    hung = run.tests["t.py::test_hang"]
    assert hung.outcome is Outcome.ERROR
    assert hung.phase == "setup"
    assert "timed out" in hung.message


def test_unknown_outcome_ignored() -> None:
    body = [line("test_start", nodeid="t.py::test_a"), report("t.py::test_a", "call", "exploded")]
    body.append(line("test_finish", nodeid="t.py::test_a"))

    run = parse_events(text(session(*body, exit_status=0)), 0)

    assert run.tests == {}


def test_driver_timeout_event_timed_out() -> None:
    body = [*events_of_test("t.py::test_a"), line("test_start", nodeid="t.py::test_hang")]
    lines = phase("suite", session(*body, exit_status=None), None)
    lines.append(line("phase_timeout", phase="suite", seconds=30))
    lines.append(line("phase_end", phase="suite", exit_code=None))

    run = parse_events(text(lines), 124)

    assert run.status is RunStatus.TIMED_OUT
    assert run.running_test == "t.py::test_hang"
    assert "deadline of 30 s" in run.detail
    assert run.tests["t.py::test_hang"].outcome is Outcome.ERROR
    assert run.tests["t.py::test_a"].outcome is Outcome.PASSED
