"""The heal loop: detect faults, propose candidates, validate them, commit, verify, revert.

One heal works on one committed tree at a time. It observes the tree (suite
in the sandbox plus ruff), takes the first fault it has not tried yet, and
requests candidates from each provider in turn, validating the smallest
first. The first candidate that passes the guards, the lint check and the
sandbox is committed as its own commit. The committed tree is then observed
again: that run verifies the fix (which is reverted when the fault is back or
a test regressed) and gives the faults for the next round. Every fault is tried once per heal,
so the loop ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kernel.checks import TreeState, check_lint, check_tests, observe, usable_baseline
from kernel.config import Settings
from kernel.console import Reporter
from kernel.errors import CommitRejected, KernelError
from kernel.faults import Fault, missing_package, spectrum_of
from kernel.gitops import Repository
from kernel.messages import commit_message, revert_message
from kernel.outcome import Attempt, BaselineSummary, FaultOutcome, FaultStatus, HealReport
from patches.errors import ProviderError
from patches.guards import GuardPolicy, check_candidate
from patches.provider import PatchProvider
from patches.types import Candidate, FaultKind, Usage
from sandbox.backend import SandboxBackend
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workspace:
    """The checkout a heal reads files from and, unless it is a dry run, commits fixes to."""

    root: Path
    repository: Repository | None  # None in a dry run: nothing is committed
    branch: str | None


@dataclass
class HealSession:
    heal_id: str
    workspace: Workspace
    settings: Settings
    backend: SandboxBackend
    providers: list[PatchProvider]
    reporter: Reporter
    no_verify: bool = False
    usage: Usage = field(default_factory=Usage)
    # Providers that failed outright (endpoint down, bad key) are not asked
    # again in this heal; the value is the error, repeated in later attempts.
    disabled: dict[str, str] = field(default_factory=dict)
    # Faults that a fix for another fault also removed, waiting to be reported.
    resolved: list[FaultOutcome] = field(default_factory=list)

    def run(self, snapshot: Snapshot, repository_path: Path) -> HealReport:
        """Heal every fault of ``snapshot`` that a provider can fix, and report on each."""
        self.reporter.step("detect", "running the test suite in the sandbox and ruff")
        state = observe(self.backend, snapshot, self.workspace.root, self.settings.test_timeout)
        baseline = _summarise(state)
        problem = usable_baseline(state.run)
        if problem is not None:
            raise KernelError(
                f"cannot establish a baseline: {problem}. Run the tests by hand to see why; "
                f"they ran in the {self.backend.name} sandbox, so a package missing there "
                "(see --image and --sandbox local) is a common cause."
            )
        self.reporter.faults_found(state.faults)

        outcomes: list[FaultOutcome] = []
        tried: set[str] = set()
        while (fault := _next_fault(state, tried)) is not None:
            tried.add(fault.id)
            outcome, state = self._heal_fault(fault, state)
            for done in (outcome, *self.resolved):
                outcomes.append(done)
                self.reporter.outcome(done)
            self.resolved.clear()

        remaining = _remaining(state, outcomes, dry_run=self.workspace.repository is None)
        return HealReport(
            heal_id=self.heal_id,
            repository=str(repository_path),
            branch=self.workspace.branch,
            sandbox=self.backend.name,
            providers=tuple(provider.name for provider in self.providers),
            dry_run=self.workspace.repository is None,
            baseline=baseline,
            outcomes=tuple(outcomes),
            remaining=tuple(remaining),
            usage=self.usage,
        )

    def _heal_fault(self, fault: Fault, state: TreeState) -> tuple[FaultOutcome, TreeState]:
        missing = missing_package(fault, self.workspace.root)
        if missing is not None:
            return FaultOutcome(fault, FaultStatus.ENVIRONMENT, (), missing), state

        self.reporter.step("propose", fault.summary)
        attempts: list[Attempt] = []
        for provider in self.providers:
            if provider.name in self.disabled:
                error = self.disabled[provider.name]
                reason = f"skipped: {provider.name} failed earlier in this heal: {error}"
                attempts.append(Attempt(provider.name, None, "", 0, False, reason))
                continue
            candidates = list(self._candidates(provider, fault, state, attempts))
            accepted = self._first_accepted(fault, candidates, state, attempts)
            if accepted is not None:
                return self._accept(fault, accepted, state, attempts)
        reason = attempts[-1].reason if attempts else "no provider proposed a candidate"
        return FaultOutcome(fault, FaultStatus.UNHEALED, tuple(attempts), reason), state

    def _first_accepted(
        self, fault: Fault, candidates: list[Candidate], state: TreeState, attempts: list[Attempt]
    ) -> Candidate | None:
        """Validate ``candidates`` in order and return the first accepted one.

        Every verdict is appended to ``attempts``, so the accepted candidate's
        attempt is the last one.
        """
        # TODO: validate candidates in parallel, bounded by cores and memory.
        for candidate in candidates:
            accepted, reason = self._validate(fault, candidate, state)
            attempts.append(_attempt(candidate, accepted, reason))
            self.reporter.candidate(candidate, accepted, reason)
            if accepted:
                return candidate
        return None

    def _candidates(
        self, provider: PatchProvider, fault: Fault, state: TreeState, attempts: list[Attempt]
    ) -> Iterator[Candidate]:
        """Yield the provider's candidates that pass the guards, smallest first unless ranked.

        Rejected replies and guard failures are recorded in ``attempts``.
        """
        # The offline engine's candidates cost no tokens, so it gets its own,
        # larger budget; the model's are capped by max_attempts.
        limit = (
            self.settings.offline_max_candidates
            if provider.name == "offline"
            else self.settings.max_attempts
        )
        try:
            proposal = provider.propose(
                fault.to_request(spectrum_of(state.run)), self.workspace.root, limit
            )
        except ProviderError as error:
            logger.warning(
                "provider %s failed on fault %s and is not asked again in this heal: %s",
                provider.name,
                fault.id,
                error,
            )
            self.disabled[provider.name] = str(error)
            attempts.append(Attempt(provider.name, None, "", 0, False, str(error)))
            return
        self.usage = self.usage + proposal.usage
        for rejection in proposal.rejections:
            attempts.append(Attempt(rejection.provider, None, "", 0, False, rejection.reason))
        policy = GuardPolicy(allow_test_edits=self.settings.allow_test_edits)
        ordered = (
            proposal.candidates
            if proposal.ranked
            else sorted(proposal.candidates, key=lambda c: c.changed_lines)
        )
        for candidate in ordered:
            problems = check_candidate(candidate, self.workspace.root, policy)
            if problems:
                attempts.append(_attempt(candidate, False, "; ".join(problems)))
                self.reporter.candidate(candidate, False, problems[0])
                continue
            yield candidate

    def _validate(self, fault: Fault, candidate: Candidate, state: TreeState) -> tuple[bool, str]:
        self.reporter.step("validate", f"{candidate.summary} ({_lines(candidate.changed_lines)})")
        lint_result = check_lint(fault, candidate, state, self.workspace.root)
        if not lint_result.passed:
            return False, lint_result.reason
        patched = state.snapshot.with_overlay({e.path: e.after.encode() for e in candidate.edits})
        result = check_tests(fault, patched, state, self.backend, self.settings.test_timeout)
        return result.passed, result.reason

    def _accept(
        self, fault: Fault, candidate: Candidate, state: TreeState, attempts: list[Attempt]
    ) -> tuple[FaultOutcome, TreeState]:
        repository = self.workspace.repository
        validation = attempts[-1].reason
        if repository is None:
            outcome = FaultOutcome(
                fault, FaultStatus.VALIDATED, tuple(attempts), validation, candidate.diff
            )
            return outcome, state

        self.reporter.step("commit", candidate.summary)
        message = commit_message(fault, candidate, validation, self.heal_id, self.backend.name)
        contents = {edit.path: edit.after for edit in candidate.edits}
        try:
            sha = repository.commit_files(contents, message, no_verify=self.no_verify)
        except CommitRejected as error:
            reason = f"the commit was rejected: {error}"
            attempts[-1] = _attempt(candidate, False, reason)
            return FaultOutcome(fault, FaultStatus.UNHEALED, tuple(attempts), reason), state

        self.reporter.step("verify", f"re-running the checks on commit {sha[:12]}")
        verified = observe(
            self.backend,
            Snapshot(repository.archive(sha)),
            self.workspace.root,
            self.settings.test_timeout,
        )
        problem = _verification_problem(fault, state, verified)
        if problem is None:
            self._note_resolved(fault, state, verified, sha)
            outcome = FaultOutcome(
                fault, FaultStatus.HEALED, tuple(attempts), validation, candidate.diff, sha
            )
            return outcome, verified

        self.reporter.step("revert", f"{sha[:12]}: {problem}")
        revert_sha = repository.revert(
            sha, revert_message(fault, sha, problem, self.heal_id), no_verify=self.no_verify
        )
        outcome = FaultOutcome(
            fault, FaultStatus.REVERTED, tuple(attempts), problem, candidate.diff, sha, revert_sha
        )
        return outcome, state

    def _note_resolved(self, fault: Fault, before: TreeState, after: TreeState, sha: str) -> None:
        """Record the other faults that the fix for ``fault`` removed as well."""
        still_there = {f.id for f in after.faults}
        for other in before.faults:
            if other.id != fault.id and other.id not in still_there:
                reason = f"resolved by the fix for fault {fault.id}"
                self.resolved.append(
                    FaultOutcome(other, FaultStatus.RESOLVED, (), reason, commit=sha)
                )


def _verification_problem(fault: Fault, before: TreeState, after: TreeState) -> str | None:
    """Say why the committed tree fails verification, or return None when it passes."""
    problem = usable_baseline(after.run)
    if problem is not None:
        return problem.replace("on the unpatched code", "on the committed fix")
    if fault.id in {f.id for f in after.faults} or fault.test_id in after.run.failed():
        return f"the fault is still present after the commit: {fault.summary}"
    regressions = sorted(before.run.passed() - after.run.passed())
    if regressions:
        listed = ", ".join(regressions[:5])
        return f"{len(regressions)} test(s) that passed before fail after the commit: {listed}"
    return None


def _next_fault(state: TreeState, tried: set[str]) -> Fault | None:
    return next((fault for fault in state.faults if fault.id not in tried), None)


def _remaining(state: TreeState, outcomes: list[FaultOutcome], dry_run: bool) -> list[Fault]:
    if not dry_run:
        return list(state.faults)
    # A dry run commits nothing, so the tree still has every fault; count the
    # ones without a validated fix.
    validated = {o.fault.id for o in outcomes if o.status is FaultStatus.VALIDATED}
    return [fault for fault in state.faults if fault.id not in validated]


def _summarise(state: TreeState) -> BaselineSummary:
    return BaselineSummary(
        status=state.run.status.value,
        passed=len(state.run.passed()),
        failed=len(state.run.failed()),
        collection_errors=len(state.run.collection_errors),
        lint=sum(1 for fault in state.faults if fault.kind is FaultKind.LINT),
    )


def _lines(count: int) -> str:
    return "1 changed line" if count == 1 else f"{count} changed lines"


def _attempt(candidate: Candidate, accepted: bool, reason: str) -> Attempt:
    return Attempt(
        candidate.provider,
        candidate.model,
        candidate.summary,
        candidate.changed_lines,
        accepted,
        reason,
        candidate.diff,
    )
