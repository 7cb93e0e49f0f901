"""Baselines, the flaky-test quarantine and regression reruns, with the real local backend.

A test made flaky on purpose passes in exactly one of its runs: the first run
to create a marker file on the host passes, every later one fails, or the
other way round. The local backend runs on the host, so its runs share that
file.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.backend import RunPlan
from sandbox.baseline import BaselineCache, confirm_regressions, differing_outcomes, snapshot_key
from sandbox.local_backend import LocalBackend
from sandbox.results import Outcome, RunStatus, TestResult, TestRun
from sandbox.validation import judge
from sandbox.workspace import Snapshot

MakeSnapshot = Callable[[dict[str, str]], Snapshot]


@pytest.fixture
def make_snapshot(make_repo: Callable[[dict[str, str]], Path]) -> MakeSnapshot:
    def create(files: dict[str, str]) -> Snapshot:
        repo = make_repo({path: textwrap.dedent(text) for path, text in files.items()})
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
        )
        return Snapshot(archive.stdout)

    return create


def first_run_passes(marker: Path) -> str:
    """A test module whose test passes only in the run that creates ``marker``."""
    return f"""\
        import os

        def test_stable():
            pass

        def test_flaky():
            os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL)  # raises in every later run
        """


def counting_module(counter: Path) -> str:
    """A test module that appends a line to ``counter`` each time it runs."""
    return f"""\
        def test_count():
            with open({str(counter)!r}, "a") as counter:
                counter.write("run\\n")
        """


def result_run(outcomes: dict[str, Outcome]) -> TestRun:
    tests = {nodeid: TestResult(nodeid, outcome, "call") for nodeid, outcome in outcomes.items()}
    return TestRun(RunStatus.COMPLETED, 0, tests)


def test_flaky_baseline_quarantined(make_snapshot: MakeSnapshot, tmp_path: Path) -> None:
    snapshot = make_snapshot({"tests/test_a.py": first_run_passes(tmp_path / "marker")})
    cache = BaselineCache(LocalBackend(bubblewrap=False), runs=2)

    baseline = cache.get(snapshot, timeout=60)

    assert baseline.runs == 2
    assert baseline.flaky == {"tests/test_a.py::test_flaky"}
    assert "tests/test_a.py::test_stable" in baseline.run.passed()


def test_stable_baseline_not_flaky(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot({"tests/test_a.py": "def test_a():\n    assert 1 == 2\n"})

    baseline = BaselineCache(LocalBackend(bubblewrap=False), runs=2).get(snapshot, timeout=60)

    assert baseline.flaky == frozenset()
    assert baseline.run.failed() == {"tests/test_a.py::test_a"}


def test_cache_hit_and_miss(make_snapshot: MakeSnapshot, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    snapshot = make_snapshot({"tests/test_count.py": counting_module(counter)})
    cache = BaselineCache(LocalBackend(bubblewrap=False), runs=1)

    first = cache.get(snapshot, timeout=60)
    again = cache.get(Snapshot(snapshot.base_tar), timeout=60)
    changed = cache.get(snapshot.with_overlay({"extra.py": b"X = 1\n"}), timeout=60)

    assert again is first
    assert changed is not first
    assert (cache.hits, cache.misses) == (1, 2)
    assert counter.read_text().count("run") == 2  # one suite run per distinct snapshot


def test_snapshot_key_follows_content(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot({"a.py": "A = 1\n"})

    assert snapshot_key(snapshot) == snapshot_key(Snapshot(snapshot.base_tar))
    assert snapshot_key(snapshot) != snapshot_key(snapshot.with_overlay({"a.py": b"A = 2\n"}))
    assert snapshot_key(snapshot.with_overlay({"a.py": b"1"})) != snapshot_key(
        snapshot.with_overlay({"b.py": b"1"})
    )


def test_differing_outcomes_only_completed() -> None:
    passed = result_run({"t::a": Outcome.PASSED, "t::b": Outcome.PASSED})
    failed = result_run({"t::a": Outcome.FAILED, "t::b": Outcome.PASSED, "t::c": Outcome.FAILED})
    crashed = TestRun(RunStatus.CRASHED, None, {"t::b": TestResult("t::b", Outcome.ERROR, "call")})

    assert differing_outcomes([passed, failed]) == {"t::a"}
    assert differing_outcomes([passed, crashed]) == frozenset()
    assert differing_outcomes([passed]) == frozenset()


def test_rerun_passing_regression_is_flaky(make_snapshot: MakeSnapshot, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    snapshot = make_snapshot(
        {
            "tests/test_a.py": f"""\
                import os

                def test_flips():
                    # Fails in the run that creates the marker, passes in later runs.
                    try:
                        os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL)
                    except FileExistsError:
                        return
                    raise AssertionError("first run")

                def test_broken():
                    assert False
                """,
        }
    )
    backend = LocalBackend(bubblewrap=False)
    run = backend.run(snapshot, RunPlan(timeout=60))
    regressions = ("tests/test_a.py::test_flips", "tests/test_a.py::test_broken")

    confirmation = confirm_regressions(backend, snapshot, regressions, timeout=60)

    assert run.failed() == set(regressions)
    assert confirmation.flaky == ("tests/test_a.py::test_flips",)
    assert confirmation.confirmed == ("tests/test_a.py::test_broken",)


def test_judge_ignores_quarantined() -> None:
    baseline = result_run({"t::a": Outcome.PASSED, "t::b": Outcome.PASSED})
    run = result_run({"t::a": Outcome.FAILED, "t::b": Outcome.PASSED})

    assert not judge(baseline, run, ()).accepted
    assert judge(baseline, run, (), quarantined=frozenset({"t::a"})).accepted


def test_keep_going_runs_every_target(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {"tests/test_a.py": "def test_one():\n    assert False\n\ndef test_two():\n    pass\n"}
    )
    targets = ("tests/test_a.py::test_one", "tests/test_a.py::test_two")
    plan = RunPlan(targets=targets, full_suite=False, stop_at_first_failure=False, timeout=60)

    run = LocalBackend(bubblewrap=False).run(snapshot, plan)

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.failed() == {"tests/test_a.py::test_one"}
    assert run.passed() == {"tests/test_a.py::test_two"}
