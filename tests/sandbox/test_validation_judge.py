"""validation.judge: acceptance of a candidate's run against the baseline, as a table of cases."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sandbox.results import CollectionError, Outcome, RunStatus, TestResult, TestRun
from sandbox.validation import Verdict, baseline_failures, judge

P, F, E, S, XF = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED, Outcome.XFAILED
TARGET = "tests/test_a.py::test_target"
OTHER = "tests/test_b.py::test_other"
THIRD = "tests/test_b.py::test_third"
BROKEN = "tests/test_c.py"  # a module that fails to collect


def make_run(
    outcomes: dict[str, Outcome],
    status: RunStatus = RunStatus.COMPLETED,
    collection_errors: tuple[str, ...] = (),
    running_test: str | None = None,
    detail: str = "",
) -> TestRun:
    tests = {
        nodeid: TestResult(
            nodeid,
            outcome,
            "call",
            exc_type="AssertionError" if outcome is F else None,
            message="assert 1 == 2" if outcome is F else "",
        )
        for nodeid, outcome in outcomes.items()
    }
    errors = tuple(
        CollectionError(nodeid, "ImportError", "no module") for nodeid in collection_errors
    )
    return TestRun(status, 0, tests, errors, running_test=running_test, detail=detail)


BASELINE = make_run({TARGET: F, OTHER: P, THIRD: P})


@dataclass(frozen=True)
class Case:
    name: str
    run: TestRun
    targets: tuple[str, ...]
    accepted: bool
    reason: str  # a fragment the reason must contain
    require_suite: bool = True
    baseline: TestRun = BASELINE


CASES = [
    Case("fixed", make_run({TARGET: P, OTHER: P, THIRD: P}), (TARGET,), True, "accepted"),
    Case(
        "still failing",
        make_run({TARGET: F, OTHER: P, THIRD: P}),
        (TARGET,),
        False,
        f"target {TARGET} still does not pass (failed in call: AssertionError: assert 1 == 2)",
    ),
    Case(
        "skipped target",
        make_run({TARGET: S, OTHER: P, THIRD: P}),
        (TARGET,),
        False,
        "still does not pass (skipped",
    ),
    Case(
        "xfailed target",
        make_run({TARGET: XF, OTHER: P, THIRD: P}),
        (TARGET,),
        False,
        "still does not pass",
    ),
    Case("missing target", make_run({OTHER: P, THIRD: P}), (TARGET,), False, "not reported"),
    Case(
        "regression",
        make_run({TARGET: P, OTHER: F, THIRD: P}),
        (TARGET,),
        False,
        f"broke 1 test that passed or collected before: {OTHER}",
    ),
    Case("regression as error", make_run({TARGET: P, OTHER: E, THIRD: P}), (TARGET,), False, OTHER),
    Case("regression as skip", make_run({TARGET: P, OTHER: S, THIRD: P}), (TARGET,), False, OTHER),
    Case("missing suite test", make_run({TARGET: P, OTHER: P}), (TARGET,), False, THIRD),
    Case(
        "targets only run", make_run({TARGET: P}), (TARGET,), True, "accepted", require_suite=False
    ),
    Case(
        "targets only still checks",
        make_run({TARGET: P, OTHER: F}),
        (TARGET,),
        False,
        OTHER,
        require_suite=False,
    ),
    Case(
        "new collection error",
        make_run({TARGET: P, OTHER: P, THIRD: P}, collection_errors=(BROKEN,)),
        (TARGET,),
        False,
        BROKEN,
    ),
    Case(
        "old collection error",
        make_run({TARGET: P, OTHER: P, THIRD: P}, collection_errors=(BROKEN,)),
        (TARGET,),
        True,
        "accepted",
        baseline=make_run({TARGET: F, OTHER: P, THIRD: P}, collection_errors=(BROKEN,)),
    ),
    Case(
        "timed out",
        make_run(
            {TARGET: P, OTHER: P, THIRD: P},
            RunStatus.TIMED_OUT,
            detail="killed after the deadline of 5 s",
        ),
        (TARGET,),
        False,
        "the run timed out (killed after the deadline of 5 s)",
    ),
    Case(
        "crashed",
        make_run({TARGET: P}, RunStatus.CRASHED, running_test=OTHER),
        (TARGET,),
        False,
        f"the run crashed in {OTHER}",
    ),
    Case(
        "invalid",
        make_run(
            {TARGET: P, OTHER: P, THIRD: P},
            RunStatus.INVALID,
            detail="pytest exited 0 but its events show failures",
        ),
        (TARGET,),
        False,
        "the run is invalid (pytest exited 0",
    ),
    Case(
        "lint fault clean",
        make_run({TARGET: F, OTHER: P, THIRD: P}),
        (),
        True,
        "nothing that passed before fails",
    ),
    Case("lint fault regression", make_run({TARGET: F, OTHER: F, THIRD: P}), (), False, OTHER),
    Case(
        "lint fault crashed",
        make_run({OTHER: P}, RunStatus.CRASHED, running_test=THIRD),
        (),
        False,
        "crashed",
    ),
    Case(
        "parametrized target",
        make_run({f"{TARGET}[1]": P, f"{TARGET}[2]": P, OTHER: P, THIRD: P}),
        (TARGET,),
        True,
        "accepted",
    ),
    Case(
        "parametrized partly failing",
        make_run({f"{TARGET}[1]": P, f"{TARGET}[2]": F, OTHER: P, THIRD: P}),
        (TARGET,),
        False,
        "still does not pass",
    ),
    Case(
        "two targets one failing",
        make_run({TARGET: P, OTHER: F, THIRD: P}),
        (TARGET, OTHER),
        False,
        f"target {OTHER} still does not pass",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_judge_case(case: Case) -> None:
    verdict = judge(case.baseline, case.run, case.targets, require_suite=case.require_suite)

    assert verdict.accepted is case.accepted, verdict.reason
    assert case.reason in verdict.reason
    assert verdict.reason.startswith("accepted" if case.accepted else "rejected")


def test_verdict_fields_on_fix() -> None:
    verdict = judge(BASELINE, make_run({TARGET: P, OTHER: P, THIRD: P}), (TARGET,))

    assert verdict == Verdict(
        accepted=True,
        reason="accepted: the target passes and nothing that passed before fails",
        fixed=(TARGET,),
        still_failing=(),
        regressions=(),
        summary="3 passed, 0 failed; the failing test passes",
    )


def test_verdict_fields_on_regression() -> None:
    run = make_run({TARGET: F, OTHER: F, THIRD: P}, collection_errors=(BROKEN,))

    verdict = judge(BASELINE, run, (TARGET,))

    assert not verdict.accepted
    assert verdict.fixed == ()
    assert verdict.still_failing == (TARGET,)
    assert verdict.regressions == (OTHER, BROKEN)
    assert verdict.summary == "1 passed, 2 failed; 1 of 1 target not passing, 2 regressions"


def test_verdict_is_frozen() -> None:
    verdict = judge(BASELINE, BASELINE, (TARGET,))

    with pytest.raises(AttributeError):
        verdict.accepted = True  # type: ignore[misc]


def test_baseline_failures_includes_collection() -> None:
    run = make_run({TARGET: F, OTHER: E, THIRD: P}, collection_errors=(BROKEN,))

    assert baseline_failures(run) == {TARGET, OTHER, BROKEN}
