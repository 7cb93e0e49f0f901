"""Decide whether a candidate's test run fixes the fault without breaking anything.

    the run                                              verdict
    not COMPLETED (timed out, crashed, invalid)          rejected
    a target did not pass (skipped counts as not)        rejected
    a collection error that the baseline did not have    rejected
    a test that passed in the baseline fails             rejected
    a test that passed in the baseline is missing        rejected when require_suite
    otherwise                                            accepted

With no targets (a lint fault, for example) only the last three rows apply.
Quarantined (flaky) tests never count as regressions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.events import matching_results
from sandbox.results import Outcome, RunStatus, TestResult, TestRun

_MAX_LISTED = 5  # node ids named in a reason before the rest are counted


@dataclass(frozen=True)
class Verdict:
    """The judgement of one candidate's run against the baseline."""

    accepted: bool
    reason: str  # one sentence for a person or a model
    fixed: tuple[str, ...] = ()  # tests that did not pass in the baseline and pass now
    still_failing: tuple[str, ...] = ()  # targets that still do not pass
    regressions: tuple[str, ...] = ()  # tests or collection errors that the candidate broke
    summary: str = ""  # for example "3 passed, 0 failed; target fixed"


def judge(
    baseline: TestRun,
    run: TestRun,
    targets: tuple[str, ...],
    require_suite: bool = True,
    quarantined: frozenset[str] = frozenset(),
) -> Verdict:
    """Judge ``run`` (the candidate's) against ``baseline`` (before the patch).

    ``require_suite`` means that the run covered the whole suite, so a test
    that passed in the baseline and is absent from the run is a regression.
    Pass False for a run of the targets alone. Tests in ``quarantined`` are
    flaky, so their outcome does not count.
    """
    fixed = tuple(sorted(nodeid for nodeid in run.passed() if nodeid not in baseline.passed()))
    still_failing = tuple(target for target in targets if not _target_passed(run, target))
    regressions = tuple(
        nodeid for nodeid in _regressions(baseline, run, require_suite) if nodeid not in quarantined
    )
    summary = _summary(run, targets, still_failing, regressions)

    def verdict(accepted: bool, reason: str) -> Verdict:
        return Verdict(accepted, reason, fixed, still_failing, regressions, summary)

    if run.status is not RunStatus.COMPLETED:
        return verdict(False, _not_completed_reason(run))
    if still_failing:
        return verdict(False, _still_failing_reason(run, still_failing))
    if regressions:
        return verdict(False, f"rejected: the candidate broke {_listing(regressions)}")
    if targets:
        passing = "the target passes" if len(targets) == 1 else f"all {len(targets)} targets pass"
        return verdict(True, f"accepted: {passing} and nothing that passed before fails")
    return verdict(True, "accepted: nothing that passed before fails")


def baseline_failures(run: TestRun) -> set[str]:
    """Node ids that fail, error or do not collect in ``run``."""
    return run.failed() | {error.nodeid for error in run.collection_errors}


def _target_passed(run: TestRun, target: str) -> bool:
    results = matching_results(run.tests, target)
    return bool(results) and all(result.outcome is Outcome.PASSED for result in results)


def _regressions(baseline: TestRun, run: TestRun, require_suite: bool) -> tuple[str, ...]:
    broken: list[str] = []
    for nodeid in sorted(baseline.passed()):
        result = run.tests.get(nodeid)
        if result is None:
            if require_suite:
                broken.append(nodeid)
        elif result.outcome is not Outcome.PASSED:
            broken.append(nodeid)
    known_errors = {error.nodeid for error in baseline.collection_errors}
    broken.extend(
        error.nodeid for error in run.collection_errors if error.nodeid not in known_errors
    )
    return tuple(broken)


def _not_completed_reason(run: TestRun) -> str:
    if run.status is RunStatus.TIMED_OUT:
        reason = "rejected: the run timed out"
    elif run.status is RunStatus.CRASHED:
        where = f" in {run.running_test}" if run.running_test else ""
        reason = f"rejected: the run crashed{where}"
    else:
        reason = "rejected: the run is invalid"
    return f"{reason} ({run.detail})" if run.detail else reason


def _still_failing_reason(run: TestRun, still_failing: tuple[str, ...]) -> str:
    first = still_failing[0]
    results = [r for r in matching_results(run.tests, first) if r.outcome is not Outcome.PASSED]
    described = _describe(results[0]) if results else "not reported"
    more = len(still_failing) - 1
    others = f" and {_plural(more, 'more target')}" if more else ""
    return f"rejected: target {first} still does not pass ({described}){others}"


def _describe(result: TestResult) -> str:
    lines = result.message.strip().splitlines()
    first_line = lines[0][:200] if lines else ""
    parts = [f"{result.outcome.value} in {result.phase}", result.exc_type, first_line]
    return ": ".join(part for part in parts if part)


def _summary(
    run: TestRun,
    targets: tuple[str, ...],
    still_failing: tuple[str, ...],
    regressions: tuple[str, ...],
) -> str:
    counts = f"{len(run.passed())} passed, {len(run.failed())} failed"
    if not targets:
        outcome = "no test regressed"
    elif not still_failing:
        outcome = "the failing test passes" if len(targets) == 1 else "the failing tests pass"
    else:
        outcome = f"{len(still_failing)} of {_plural(len(targets), 'target')} not passing"
    if regressions:
        outcome += f", {_plural(len(regressions), 'regression')}"
    return f"{counts}; {outcome}"


def _listing(nodeids: tuple[str, ...]) -> str:
    shown = ", ".join(nodeids[:_MAX_LISTED])
    rest = len(nodeids) - _MAX_LISTED
    noun = "test" if len(nodeids) == 1 else "tests"
    return f"{len(nodeids)} {noun} that passed or collected before: {shown}" + (
        f" and {rest} more" if rest > 0 else ""
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
