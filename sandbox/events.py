"""Parse the JSON-lines event stream of the sandbox plugin into a :class:`TestRun`.

The stream alone is not trusted. Each pytest session is checked against the
exit code of its process, which the driver records. A run whose stream and
exit code disagree is never reported as a clean pass:

    what the stream shows                         status     why
    no session_start                              INVALID    pytest never ran the suite
    phase_timeout                                 TIMED_OUT  the driver killed it at its deadline
    session_start without session_finish          CRASHED    it died part-way
    session_finish, process died from a signal    CRASHED    it died at shutdown
    session_finish, other exit code               INVALID    the two disagree
    exit 0 with a failure or collection error     INVALID    the two disagree
    exit 1 with neither                           INVALID    the two disagree
    exit 2 with collection errors                 COMPLETED  collection failed
    exit 2 without them, 3 or 4                   INVALID    interrupted, internal or usage error
    exit 5 and no test                            COMPLETED  nothing was collected

Event names and fields are described in :mod:`sandbox.pytest_plugin`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.coverage_plugin import read_coverage
from sandbox.results import CollectionError, Frame, Outcome, RunStatus, TestResult, TestRun

logger = logging.getLogger(__name__)

# The phase names the driver in sandbox/pytest_plugin.py writes; kept as plain
# strings here so that parsing does not import pytest.
TARGETS_PHASE = "targets"
SUITE_PHASE = "suite"
SINGLE_PHASE = "run"  # a stream written by the plugin alone, without the driver

_OUTCOMES = {outcome.value: outcome for outcome in Outcome}
_EXIT_MEANINGS = {
    0: "all tests passed",
    1: "some tests failed",
    2: "interrupted",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}


@dataclass
class _Phase:
    """Facts that the stream shows about one pytest process, filled in while reading."""

    name: str
    exit_code: int | None = None  # of the process, from the driver or the caller
    session_started: bool = False
    exit_status: int | None = None  # pytest's own, from session_finish
    internal_error: str = ""
    timed_out_after: float | None = None  # seconds, when the driver killed it at its deadline
    results: dict[str, TestResult] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    last_reported: dict[str, str] = field(default_factory=dict)  # nodeid -> setup/call/teardown
    collection_errors: list[CollectionError] = field(default_factory=list)

    def running_test(self) -> str | None:
        unfinished = [nodeid for nodeid in self.started if nodeid not in self.finished]
        return unfinished[-1] if unfinished else None

    def interrupted_phase(self, nodeid: str) -> str:
        """Return the test phase that was under way when the process stopped."""
        following = {"setup": "call", "call": "teardown", "teardown": "teardown"}
        return following.get(self.last_reported.get(nodeid, ""), "setup")


@dataclass
class _Verdict:
    status: RunStatus
    detail: str = ""
    running_test: str | None = None
    running_phase: str = "call"


def parse_events(
    text: str,
    exit_code: int | None,
    *,
    targets: tuple[str, ...] = (),
    output: str = "",
    duration: float = 0.0,
    backend: str = "",
    timed_out_after: float | None = None,
) -> TestRun:
    """Build a TestRun from the events in ``text`` and the exit code of the process that ran.

    ``exit_code`` is the driver's (or, for a stream without driver events,
    pytest's); None means it is unknown, as after a kill. ``timed_out_after``
    is the deadline in seconds when the run was killed for passing it. Each of
    ``targets`` that no result matches is recorded as an ERROR, never as passed.
    """
    events, malformed = _decode(text)
    phases, skipped_reason = _read_phases(events, exit_code)
    notes: list[str] = []
    if malformed:
        notes.append(f"{malformed} malformed event line(s) skipped")

    verdict = _Verdict(RunStatus.COMPLETED)
    if not phases:
        verdict = _Verdict(RunStatus.INVALID, "the sandbox wrote no pytest events" + _tail(output))
    for phase in phases:
        phase_verdict = _check_phase(phase, output)
        if verdict.status is RunStatus.COMPLETED:
            verdict = phase_verdict  # the first phase that went wrong explains the run
    if verdict.status is RunStatus.COMPLETED:
        verdict = _check_driver_exit(phases, exit_code)
    if timed_out_after is not None:
        running = verdict.running_test
        where = f" while running {running}" if running else ""
        verdict = _Verdict(
            RunStatus.TIMED_OUT,
            f"killed after the deadline of {timed_out_after:g} s{where}",
            running,
            verdict.running_phase,
        )
    if skipped_reason:
        notes.append(f"the suite phase did not run because {skipped_reason}")

    tests = _merge_results(phases)
    _record_interrupted_test(tests, verdict)
    _record_missing_targets(tests, targets)
    errors = _merge_collection_errors(phases)
    detail = "; ".join(part for part in (verdict.detail, *notes) if part)
    return TestRun(
        status=verdict.status,
        exit_code=exit_code,
        tests=tests,
        collection_errors=errors,
        running_test=verdict.running_test,
        output=output,
        duration=duration,
        backend=backend,
        detail=detail,
    )


def with_coverage(run: TestRun, text: str) -> TestRun:
    """Return ``run`` with the coverage records found in ``text``, marked when truncated.

    ``text`` is the coverage plugin's file, or an event stream that carries its records.
    """
    recorded = read_coverage(text)
    if recorded.truncated_at is None:
        return replace(run, coverage=recorded.lines)
    note = (
        f"coverage truncated at the bound of {recorded.limit} bytes: "
        f"{recorded.truncated_at} and the tests after it have no coverage"
    )
    logger.warning("%s", note)
    detail = f"{run.detail}; {note}" if run.detail else note
    return replace(run, coverage=recorded.lines, coverage_truncated=True, detail=detail)


def matching_results(tests: dict[str, TestResult], target: str) -> list[TestResult]:
    """Return the results of ``target``: the test, its parameter sets, or all tests under it."""
    return [
        result
        for nodeid, result in tests.items()
        if nodeid == target or nodeid.startswith((target + "::", target + "["))
    ]


def _decode(text: str) -> tuple[list[dict[str, Any]], int]:
    events: list[dict[str, Any]] = []
    malformed = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            malformed += 1
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
        else:
            malformed += 1
    if malformed:
        logger.debug("skipped %d malformed event lines", malformed)
    return events, malformed


def _read_phases(events: list[dict[str, Any]], exit_code: int | None) -> tuple[list[_Phase], str]:
    """Group events by pytest process; return the phases and why the suite was skipped."""
    phases: list[_Phase] = []
    skipped_reason = ""
    driven = any(event["event"] == "phase_start" for event in events)
    for event in events:
        kind = event["event"]
        if kind == "phase_start":
            phases.append(_Phase(str(event.get("phase", "?"))))
        elif kind == "phase_skipped":
            skipped_reason = str(event.get("reason", "a target failed"))
        elif not phases:
            if driven:
                continue  # stray lines before the driver's first phase
            phases.append(_Phase(SINGLE_PHASE, exit_code=exit_code))
        if phases and kind != "phase_start":
            _apply(phases[-1], event)
    return phases, skipped_reason


def _apply(phase: _Phase, event: dict[str, Any]) -> None:
    kind = event["event"]
    if kind == "phase_end":
        phase.exit_code = _int(event.get("exit_code"))
    elif kind == "phase_timeout":
        phase.timed_out_after = _float(event.get("seconds"))
    elif kind == "session_start":
        phase.session_started = True
    elif kind == "session_finish":
        phase.exit_status = _int(event.get("exit_status"))
    elif kind == "internal_error":
        phase.internal_error = str(event.get("message", ""))
    elif kind == "test_start":
        phase.started.append(str(event.get("nodeid", "")))
    elif kind == "test_finish":
        phase.finished.add(str(event.get("nodeid", "")))
    elif kind == "test_report":
        _apply_report(phase, event)
    elif kind == "collection_error":
        phase.collection_errors.append(
            CollectionError(
                nodeid=str(event.get("nodeid", "")),
                exc_type=_optional_str(event.get("exc_type")),
                message=str(event.get("message", "")),
                frames=_frames(event.get("frames")),
                longrepr=str(event.get("longrepr", "")),
            )
        )


def _apply_report(phase: _Phase, event: dict[str, Any]) -> None:
    """Keep the first phase report of a test that did not pass, else its passing one."""
    nodeid = str(event.get("nodeid", ""))
    outcome = _OUTCOMES.get(str(event.get("outcome")))
    if outcome is None:
        return
    when = str(event.get("phase", "call"))
    phase.last_reported[nodeid] = when
    earlier = phase.results.get(nodeid)
    if earlier is not None:
        if earlier.outcome is not Outcome.PASSED:
            return
        if outcome is Outcome.PASSED and when != "call":
            return  # a passed test is described by its call phase
    phase.results[nodeid] = TestResult(
        nodeid=nodeid,
        outcome=outcome,
        phase=when,
        duration=_float(event.get("duration")),
        exc_type=_optional_str(event.get("exc_type")),
        message=str(event.get("message", "")),
        frames=_frames(event.get("frames")),
        longrepr=str(event.get("longrepr", "")),
    )


def _check_phase(phase: _Phase, output: str) -> _Verdict:
    code = phase.exit_code
    label = f"pytest ({phase.name} phase)"
    if phase.timed_out_after is not None:
        running = phase.running_test()
        where = f" while running {running}" if running else ""
        return _Verdict(
            RunStatus.TIMED_OUT,
            f"{label} was killed at the deadline of {phase.timed_out_after:g} s{where}",
            running,
            phase.interrupted_phase(running) if running else "call",
        )
    if not phase.session_started:
        if code is None:
            return _Verdict(RunStatus.INVALID, f"{label} never started a session" + _tail(output))
        return _Verdict(
            RunStatus.INVALID,
            f"{label} exited with code {code} ({_meaning(code)}) before its session started"
            + _tail(output),
        )
    if phase.exit_status is None:
        running = phase.running_test()
        where = f" while running {running}" if running else ""
        ending = f" (exit code {code})" if code is not None else ""
        return _Verdict(
            RunStatus.CRASHED,
            f"{label} died{where} before the session finished{ending}",
            running,
            phase.interrupted_phase(running) if running else "call",
        )
    if code is None:
        message = f"the exit code of {label} is unknown, so its events cannot be checked"
        return _Verdict(RunStatus.INVALID, message)
    if code != phase.exit_status:
        if code < 0 or code > 128:
            message = f"{label} finished its session but then died with exit code {code}"
            return _Verdict(RunStatus.CRASHED, message)
        return _Verdict(
            RunStatus.INVALID,
            f"{label} reported exit status {phase.exit_status} but its process exited with {code}",
        )
    return _check_consistency(phase, label, output)


def _check_consistency(phase: _Phase, label: str, output: str) -> _Verdict:
    status = phase.exit_status
    failures = [r for r in phase.results.values() if r.outcome in (Outcome.FAILED, Outcome.ERROR)]
    if status == 0 and (failures or phase.collection_errors):
        return _Verdict(RunStatus.INVALID, f"{label} exited 0 but its events show failures")
    if status == 1 and not (failures or phase.collection_errors):
        return _Verdict(RunStatus.INVALID, f"{label} exited 1 but its events show no failure")
    if status == 2 and not phase.collection_errors:
        message = f"{label} was interrupted (exit status 2)" + _tail(output)
        return _Verdict(RunStatus.INVALID, message)
    if status == 3:
        message = phase.internal_error.strip().splitlines()[-1:] or ["see output"]
        return _Verdict(RunStatus.INVALID, f"{label} hit an internal error: {message[0]}")
    if status == 4:
        message = f"{label} rejected its arguments (usage error)" + _tail(output)
        return _Verdict(RunStatus.INVALID, message)
    if status == 5 and phase.results:
        return _Verdict(RunStatus.INVALID, f"{label} exited 5 (no tests) but reported test results")
    if status not in _EXIT_MEANINGS:
        return _Verdict(RunStatus.INVALID, f"{label} exited with unknown status {status}")
    return _Verdict(RunStatus.COMPLETED)


def _check_driver_exit(phases: list[_Phase], exit_code: int | None) -> _Verdict:
    """Check that the driver exited with the code of its last phase, as it promises."""
    if not phases or phases[0].name == SINGLE_PHASE or exit_code is None:
        return _Verdict(RunStatus.COMPLETED)
    last = phases[-1].exit_code
    expected = 128 - last if last is not None and last < 0 else last
    if exit_code != expected:
        return _Verdict(
            RunStatus.INVALID,
            f"the sandbox driver exited with {exit_code} but its last pytest exited with {last}",
        )
    return _Verdict(RunStatus.COMPLETED)


def _merge_results(phases: list[_Phase]) -> dict[str, TestResult]:
    """Combine the phases' results; for a test in both, the targets phase's result wins."""
    merged: dict[str, TestResult] = {}
    for phase in sorted(phases, key=lambda p: p.name == TARGETS_PHASE):
        merged.update(phase.results)
    return merged


def _merge_collection_errors(phases: list[_Phase]) -> tuple[CollectionError, ...]:
    seen: dict[str, CollectionError] = {}
    for phase in phases:
        for error in phase.collection_errors:
            seen.setdefault(error.nodeid, error)
    return tuple(seen.values())


def _record_interrupted_test(tests: dict[str, TestResult], verdict: _Verdict) -> None:
    """Record the test that was running when the process died or was killed as an ERROR."""
    running = verdict.running_test
    if running is None:
        return
    earlier = tests.get(running)
    if earlier is not None and earlier.outcome is not Outcome.PASSED:
        return
    happened = "timed out" if verdict.status is RunStatus.TIMED_OUT else "died"
    tests[running] = TestResult(
        nodeid=running,
        outcome=Outcome.ERROR,
        phase=verdict.running_phase,
        message=f"the test process {happened} during {verdict.running_phase}: {verdict.detail}",
    )


def _record_missing_targets(tests: dict[str, TestResult], targets: tuple[str, ...]) -> None:
    stopped_early = any(
        result.outcome is not Outcome.PASSED
        for target in targets
        for result in matching_results(tests, target)
    )
    for target in targets:
        if matching_results(tests, target):
            continue
        if stopped_early:
            message = "not run: the targets phase stops at the first failing target"
        else:
            message = "pytest never reported this target: check its node id and the run's detail"
        tests[target] = TestResult(target, Outcome.ERROR, phase="call", message=message)


def _frames(raw: Any) -> tuple[Frame, ...]:
    if not isinstance(raw, list):
        return ()
    frames = []
    for item in raw:
        if isinstance(item, dict):
            frames.append(
                Frame(
                    path=str(item.get("path", "")),
                    line=_int(item.get("line")) or 0,
                    function=str(item.get("function", "")),
                    source=str(item.get("source", "")),
                    in_workspace=bool(item.get("in_workspace", False)),
                )
            )
    return tuple(frames)


def _meaning(code: int) -> str:
    if code < 0 or code > 128:
        return f"killed by signal {abs(code) if code < 0 else code - 128}"
    return _EXIT_MEANINGS.get(code, "unknown exit code")


def _tail(output: str, lines: int = 5, limit: int = 600) -> str:
    """Return the last lines of the console output as a suffix for a detail."""
    kept = [line for line in output.strip().splitlines() if line.strip()][-lines:]
    if not kept:
        return ""
    text = " | ".join(line.strip() for line in kept)
    return f"; output ends with: {text[-limit:]}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
