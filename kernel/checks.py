"""The checks a candidate must pass, and the state of a tree they are compared against.

A :class:`TreeState` records what was observed on one committed tree: its
snapshot, the sandbox baseline run and ruff's diagnostics. A candidate is
judged against the state it was made on, and after a commit the verification
run becomes the state for the next fault.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kernel import lint
from kernel.faults import Fault, LintDiagnostic, file_reader, lint_faults, test_faults
from patches.types import Candidate, FaultKind
from sandbox.backend import RunPlan, SandboxBackend
from sandbox.baseline import Baseline, BaselineCache, confirm_regressions
from sandbox.results import RunStatus, TestRun
from sandbox.validation import Verdict, judge
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TreeState:
    snapshot: Snapshot
    run: TestRun
    diagnostics: tuple[LintDiagnostic, ...]
    faults: tuple[Fault, ...]
    flaky: frozenset[str] = frozenset()  # quarantined tests: never a fault or a regression


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    reason: str
    run: TestRun | None = None
    flaky: tuple[str, ...] = ()  # tests that failed once and passed on a rerun


def observe(
    backend: SandboxBackend,
    snapshot: Snapshot,
    root: Path,
    timeout: float,
    baselines: BaselineCache | None = None,
) -> TreeState:
    """Run the suite and ruff on one tree and collect its faults.

    ``root`` is a checkout of the same tree, which ruff reads. With
    ``baselines`` the suite result comes from that cache, which also finds
    the flaky tests; their failures are not faults.

    Per-test coverage is requested for the offline engine's fault
    localisation. When it is missing or truncated, the engine ranks lines by
    the traceback alone.
    """
    if baselines is None:
        plan = RunPlan(full_suite=True, timeout=timeout, coverage=True)
        baseline = Baseline(backend.run(snapshot, plan))
    else:
        baseline = baselines.get(snapshot, timeout)
    diagnostics = tuple(lint.check_tree(root))
    tests = [f for f in test_faults(baseline.run, root) if f.test_id not in baseline.flaky]
    faults = lint_faults(list(diagnostics), file_reader(root)) + tests
    return TreeState(
        snapshot, baseline.run, diagnostics, tuple(_by_priority(faults)), baseline.flaky
    )


def _by_priority(faults: list[Fault]) -> list[Fault]:
    # Lint faults with a safe fix cost nothing to heal and often also fix a
    # failing test, because an undefined name is both, so they go first.
    # Collection errors hide whole modules of tests, so they come before
    # single failing tests.
    def rank(fault: Fault) -> tuple[int, str]:
        if fault.kind is FaultKind.LINT:
            safe = fault.lint_fix is not None and fault.lint_fix.applicability == "safe"
            return (0 if safe else 1, fault.summary)
        return (2 if fault.kind is FaultKind.COLLECTION else 3, fault.summary)

    return sorted(faults, key=rank)


def check_lint(fault: Fault, candidate: Candidate, state: TreeState, root: Path) -> CheckResult:
    """Check that the candidate removes a lint fault and adds none in the files it touches.

    Findings are counted by rule, enclosing symbol and message rather than by
    line, because a patch moves lines: the target's count must drop and no
    other count may grow.
    """
    after_texts = {edit.path: edit.after for edit in candidate.edits}

    def read_after(path: str) -> str | None:
        return after_texts.get(path, file_reader(root)(path))

    for path, text in after_texts.items():
        if not path.endswith(".py"):
            continue
        before = _lint_counts(f for f in state.faults if f.location and f.location.path == path)
        after = _lint_counts(lint_faults(lint.check_text(root, path, text), read_after))
        if fault.kind is FaultKind.LINT and fault.location and fault.location.path == path:
            key = _lint_key(fault)
            if after[key] >= before[key]:
                return CheckResult(False, f"ruff still reports {fault.lint_code} in {path}")
        # Growth is counted by rule and symbol alone: some messages quote the
        # code (PLR1730 names the min or max it suggests), so a patch that
        # changes the code changes the message without adding a finding.
        coarse_before, coarse_after = _by_rule(before), _by_rule(after)
        grown = [key for key, count in coarse_after.items() if count > coarse_before[key]]
        if grown:
            codes = ", ".join(sorted({code for code, _ in grown}))
            return CheckResult(False, f"the patch adds ruff findings in {path}: {codes}")
    return CheckResult(True, "lint clean")


def _lint_key(fault: Fault) -> tuple[str, str, str]:
    symbol = fault.location.symbol if fault.location else None
    return (fault.lint_code or "", symbol or "", fault.message)


def _by_rule(counts: Counter[tuple[str, str, str]]) -> Counter[tuple[str, str]]:
    coarse: Counter[tuple[str, str]] = Counter()
    for (code, symbol, _), count in counts.items():
        coarse[(code, symbol)] += count
    return coarse


def _lint_counts(faults: Iterable[Fault]) -> Counter[tuple[str, str, str]]:
    return Counter(_lint_key(fault) for fault in faults if fault.kind is FaultKind.LINT)


def check_tests(
    fault: Fault,
    snapshot: Snapshot,
    state: TreeState,
    backend: SandboxBackend,
    timeout: float,
) -> CheckResult:
    """Run the suite on ``snapshot`` and judge it against the baseline in ``state``."""
    targets = (fault.test_id,) if fault.test_id else ()
    timeout = candidate_timeout(state.run, timeout)
    run = backend.run(snapshot, RunPlan(targets=targets, full_suite=True, timeout=timeout))
    verdict = judge(state.run, run, targets, quarantined=state.flaky)
    flaky: tuple[str, ...] = ()
    if _only_regressions(verdict, run):
        # A test can fail once by chance, so it counts as a regression only
        # when it fails again in a fresh sandbox.
        confirmation = confirm_regressions(backend, snapshot, verdict.regressions, timeout)
        flaky = confirmation.flaky
        verdict = judge(state.run, run, targets, quarantined=state.flaky | frozenset(flaky))
    if not verdict.accepted:
        return CheckResult(False, verdict.reason, run, flaky)
    if fault.kind is FaultKind.COLLECTION:
        still_broken = {error.nodeid for error in run.collection_errors}
        if fault.module in still_broken:
            return CheckResult(False, f"{fault.module} still fails to collect", run, flaky)
    summary = verdict.summary
    if flaky:
        summary += f"; quarantined as flaky: {', '.join(flaky)}"
    return CheckResult(True, summary, run, flaky)


def _only_regressions(verdict: Verdict, run: TestRun) -> bool:
    """Whether the candidate is rejected for broken tests alone, which a rerun may clear."""
    collection_errors = {error.nodeid for error in run.collection_errors}
    broken_tests = [nodeid for nodeid in verdict.regressions if nodeid not in collection_errors]
    return (
        not verdict.accepted
        and run.status is RunStatus.COMPLETED
        and not verdict.still_failing
        and len(broken_tests) == len(verdict.regressions) > 0
    )


# A candidate's run may take this many times the baseline's, plus a margin in
# seconds, before it counts as hanging. Mutants such as a loop condition that
# never turns false hang, and a full test_timeout for each would dominate a heal.
CANDIDATE_TIME_FACTOR = 4.0
CANDIDATE_TIME_MARGIN = 10.0


def candidate_timeout(baseline: TestRun, timeout: float) -> float:
    """Return the deadline in seconds for a candidate's run, at most ``timeout``."""
    if baseline.duration <= 0:
        return timeout
    return min(timeout, CANDIDATE_TIME_FACTOR * baseline.duration + CANDIDATE_TIME_MARGIN)


_STATUS_PHRASES = {
    RunStatus.TIMED_OUT: "timed out",
    RunStatus.CRASHED: "crashed",
    RunStatus.INVALID: "gave no usable result",
}


def usable_baseline(run: TestRun) -> str | None:
    """Return why a baseline run cannot be compared against, or None when it can."""
    if run.status is RunStatus.COMPLETED:
        return None
    where = f" while running {run.running_test}" if run.running_test else ""
    detail = f": {run.detail}" if run.detail else ""
    return f"the test suite {_STATUS_PHRASES[run.status]}{where} on the unpatched code{detail}"
