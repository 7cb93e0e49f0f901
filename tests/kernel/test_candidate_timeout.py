"""The deadline of a candidate's run follows the baseline's duration."""

from __future__ import annotations

from kernel.checks import candidate_timeout
from sandbox.results import RunStatus, TestRun


def baseline(duration: float) -> TestRun:
    return TestRun(status=RunStatus.COMPLETED, exit_code=0, duration=duration)


def test_quick_suite_gets_short_deadline() -> None:
    assert candidate_timeout(baseline(2.0), 300.0) == 18.0


def test_slow_suite_capped_by_setting() -> None:
    assert candidate_timeout(baseline(200.0), 300.0) == 300.0


def test_unknown_duration_keeps_setting() -> None:
    assert candidate_timeout(baseline(0.0), 300.0) == 300.0
