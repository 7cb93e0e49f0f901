"""Anomalies read from the check history that runs append under .agentos."""

from __future__ import annotations

from kernel.anomalies import AnomalyKind, find_anomalies, flaky_tests
from kernel.run_history import record_program_run, record_test_run
from sandbox.results import Outcome, RunStatus, TestResult, TestRun


def run_of(outcome: Outcome, seconds: float) -> TestRun:
    result = TestResult("tests/test_a.py::test_a", outcome, "call", duration=seconds)
    return TestRun(RunStatus.COMPLETED, 0, {result.nodeid: result})


def test_same_tree_pass_and_fail_is_flaky(tmp_path):
    record_test_run(tmp_path, run_of(Outcome.PASSED, 0.1), "tree1", "watch")
    record_test_run(tmp_path, run_of(Outcome.FAILED, 0.1), "tree1", "watch")
    assert flaky_tests(tmp_path) == {"tests/test_a.py::test_a"}


def test_different_trees_are_not_flaky(tmp_path):
    record_test_run(tmp_path, run_of(Outcome.PASSED, 0.1), "tree1", "watch")
    record_test_run(tmp_path, run_of(Outcome.FAILED, 0.1), "tree2", "watch")
    assert flaky_tests(tmp_path) == set()


def test_duration_jump_is_slow(tmp_path):
    for index in range(10):
        record_test_run(tmp_path, run_of(Outcome.PASSED, 0.10 + index * 0.001), f"t{index}", "x")
    assert find_anomalies(tmp_path) == []
    record_test_run(tmp_path, run_of(Outcome.PASSED, 2.0), "t10", "x")
    found = find_anomalies(tmp_path)
    assert [anomaly.kind for anomaly in found] == [AnomalyKind.SLOW]


def test_rising_crash_rate_is_flagged(tmp_path):
    for _ in range(6):
        record_program_run(tmp_path, "python app.py", 0, None, False, 1.0)
    for _ in range(3):
        record_program_run(tmp_path, "python app.py", 1, None, True, 1.0)
    assert find_anomalies(tmp_path) == []
    record_program_run(tmp_path, "python app.py", 1, None, True, 1.0)
    found = find_anomalies(tmp_path)
    assert [(a.kind, a.subject) for a in found] == [(AnomalyKind.CRASH_RATE, "python app.py")]
