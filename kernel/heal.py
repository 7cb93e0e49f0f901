"""The heal loop: detect faults, propose candidates, validate them, commit, verify, revert.

One heal works on one committed tree at a time. It observes the tree (suite
in the sandbox plus ruff), takes the first fault it has not tried yet, and
requests candidates from each provider in turn, validating the smallest
first. A provider that accepts feedback is asked again, up to
``max_rounds`` times, with the reason its earlier replies failed. The
first candidate that passes the guards, the lint check and the sandbox is
committed as its own commit. The committed tree is then observed again:
that run verifies the fix (which is reverted when the fault is back or a
test regressed) and lists the faults that remain. Every fault is
tried once per heal, so the loop ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from kernel.budget import Budget
from kernel.checks import (
    CheckResult,
    TreeState,
    check_lint,
    check_tests,
    observe,
    usable_baseline,
)
from kernel.config import Settings
from kernel.console import Reporter
from kernel.errors import CommitRejected, DirtyTreeError, KernelError
from kernel.faults import Fault, missing_package, spectrum_of
from kernel.gitops import Repository
from kernel.interrupted import HealInterrupted
from kernel.interrupts import checkpoint
from kernel.journal import reverting
from kernel.messages import commit_message, revert_message
from kernel.outcome import Attempt, BaselineSummary, FaultOutcome, FaultStatus, HealReport
from patches.cheats import failing_test_literals
from patches.errors import ProviderError
from patches.guards import GuardPolicy, check_candidate
from patches.provider import PatchProvider
from patches.types import Candidate, FaultKind, FeedbackKind, RepairRequest, Turn, Usage
from sandbox.backend import SandboxBackend
from sandbox.baseline import BaselineCache
from sandbox.errors import SandboxError
from sandbox.pool import first_accepted
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

_MAX_FAILURE_CHARS = 2_000  # end of a failing test's report sent back to the model
# Baselines kept between heals, under the repository being healed.
BASELINES_FOLDER = Path(".agentos") / "cache" / "baselines"


class FixTarget(Protocol):
    """Destination of an accepted fix, which commits it, names the tree to verify, and reverts it."""

    def commit(
        self, candidate: Candidate, snapshot: Snapshot, message: str, no_verify: bool
    ) -> str: ...

    def verify_snapshot(self, sha: str) -> Snapshot: ...

    def revert(self, sha: str, message: str, no_verify: bool) -> str: ...


@dataclass(frozen=True)
class BranchTarget:
    """Commits fixes to the checked-out branch of a checkout whose files they touch are clean."""

    repository: Repository

    def commit(
        self, candidate: Candidate, snapshot: Snapshot, message: str, no_verify: bool
    ) -> str:
        contents = {edit.path: edit.after for edit in candidate.edits}
        return self.repository.commit_files(contents, message, no_verify=no_verify)

    def verify_snapshot(self, sha: str) -> Snapshot:
        return Snapshot(self.repository.archive(sha))

    def revert(self, sha: str, message: str, no_verify: bool) -> str:
        return self.repository.revert(sha, message, no_verify=no_verify)


@dataclass(frozen=True)
class Workspace:
    """The checkout a heal reads files from and, unless it is a dry run, commits fixes to."""

    root: Path
    repository: Repository | None  # None in a dry run: nothing is committed
    branch: str | None
    target: FixTarget | None = None  # None: a BranchTarget on ``repository``


class Reproducer(Protocol):
    """Runs a supervised program's command on a snapshot to see whether its crash is gone."""

    def check(self, fault: Fault, snapshot: Snapshot) -> CheckResult: ...


@dataclass
class HealSession:
    heal_id: str
    workspace: Workspace
    settings: Settings
    backend: SandboxBackend
    providers: list[PatchProvider]
    reporter: Reporter
    no_verify: bool = False
    reproducer: Reproducer | None = None  # judges crash faults; required to heal one
    protected: tuple[tuple[str, str], ...] = ()  # (path, reason) no candidate may write
    usage: Usage = field(default_factory=Usage)
    _fault_start: Usage = field(default_factory=Usage)  # self.usage when the current fault began
    # Providers that failed outright (endpoint down, bad key) are not asked
    # again in this heal; the value is the error, repeated in later attempts.
    disabled: dict[str, str] = field(default_factory=dict)
    # Faults that a fix for another fault also removed, waiting to be reported.
    resolved: list[FaultOutcome] = field(default_factory=list)
    flaky: set[str] = field(default_factory=set)  # quarantined tests, reported at the end
    baselines: BaselineCache | None = None
    budget: Budget = field(default_factory=Budget)
    patch_folder: Path | None = None  # where a validated fix that was not applied is saved
    # Diffs of blocked fixes already saved, with their fault and file: a fix
    # that would also remove a later fault is proposed again for it.
    _saved_patches: dict[str, tuple[str, Path]] = field(default_factory=dict)
    _root: Path | None = None  # the repository being healed; its .agentos/ contains the journal
    # A fix committed during this run whose verification an interrupt cut short.
    _unverified: FaultOutcome | None = None

    def run(
        self,
        snapshot: Snapshot,
        repository_path: Path,
        *,
        extra_faults: Iterable[Fault] = (),
        select: Callable[[Fault], bool] | None = None,
    ) -> HealReport:
        """Heal every fault of ``snapshot`` that a provider can fix, and report on each.

        ``extra_faults`` are faults that observing the tree cannot find, such as
        the crash of a supervised program; they are tried first. Only faults for
        which ``select`` returns True are tried, when it is given.
        """
        self._root = repository_path
        self._stage("detect", "running the test suite in the sandbox and ruff")
        if self.baselines is None:
            self.baselines = BaselineCache(self.backend, folder=repository_path / BASELINES_FOLDER)
        state = observe(
            self.backend, snapshot, self.workspace.root, self.settings.test_timeout, self.baselines
        )
        state = self._quarantine(state)
        state = replace(state, faults=(*extra_faults, *state.faults))
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
        started = time.monotonic()
        try:
            while (fault := _next_fault(state, tried, select)) is not None:
                tried.add(fault.id)
                started, self._fault_start = time.monotonic(), self.usage
                outcome, state = self._heal_fault(fault, state)
                outcome = replace(
                    outcome,
                    usage=_spent(self.usage, self._fault_start),
                    seconds=time.monotonic() - started,
                )
                for done in (outcome, *self.resolved):
                    outcomes.append(done)
                    self.reporter.outcome(done)
                self.resolved.clear()
        except KeyboardInterrupt as interrupt:
            if self._unverified is not None:
                spent = _spent(self.usage, self._fault_start)
                seconds = time.monotonic() - started
                outcomes.append(replace(self._unverified, usage=spent, seconds=seconds))
            report = self._report(repository_path, baseline, outcomes, state, interrupted=True)
            separate = self.workspace.root.resolve() != repository_path.resolve()
            raise HealInterrupted(report, separate_branch=separate) from interrupt

        return self._report(repository_path, baseline, outcomes, state)

    def _report(
        self,
        repository_path: Path,
        baseline: BaselineSummary,
        outcomes: list[FaultOutcome],
        state: TreeState,
        interrupted: bool = False,
    ) -> HealReport:
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
            flaky=tuple(sorted(self.flaky)),
            interrupted=interrupted,
        )

    def _stage(self, stage: str, text: str) -> None:
        """Report the start of ``stage``; a signal the handler could not deliver is raised here."""
        checkpoint(stage)
        self.reporter.step(stage, text)

    def _quarantine(self, state: TreeState) -> TreeState:
        """Record the state's flaky tests and drop every fault of a test known to be flaky."""
        self.flaky |= state.flaky
        kept = tuple(fault for fault in state.faults if fault.test_id not in self.flaky)
        return replace(state, faults=kept)

    def _heal_fault(self, fault: Fault, state: TreeState) -> tuple[FaultOutcome, TreeState]:
        missing = missing_package(fault, self.workspace.root)
        if missing is not None:
            return FaultOutcome(fault, FaultStatus.ENVIRONMENT, (), missing), state

        self._stage("propose", fault.summary)
        attempts: list[Attempt] = []
        for provider in self.providers:
            if provider.name in self.disabled:
                error = self.disabled[provider.name]
                reason = f"skipped: {provider.name} failed earlier in this heal: {error}"
                attempts.append(Attempt(provider.name, None, "", 0, False, reason))
                continue
            accepted = self._converse(provider, fault, state, attempts)
            if accepted is not None:
                return self._accept(fault, accepted, state, attempts)
        reason = attempts[-1].reason if attempts else "no provider proposed a candidate"
        return FaultOutcome(fault, FaultStatus.UNHEALED, tuple(attempts), reason), state

    def _converse(
        self, provider: PatchProvider, fault: Fault, state: TreeState, attempts: list[Attempt]
    ) -> Candidate | None:
        """Ask ``provider`` for a fix, round after round while it accepts feedback.

        Each round after the first carries the earlier replies and what went
        wrong with them. Rounds stop at ``max_rounds``, when the budget runs
        out, or when a round gives nothing to send back.
        """
        request = fault.to_request(spectrum_of(state.run))
        rounds = self.settings.max_rounds if getattr(provider, "accepts_feedback", False) else 1
        for number in range(1, rounds + 1):
            spent = self.budget.exhausted()
            if spent is not None:
                logger.warning("not asking %s about fault %s: %s", provider.name, fault.id, spent)
                attempts.append(Attempt(provider.name, None, "", 0, False, spent))
                self.reporter.step("budget", spent)
                return None
            if number > 1:
                self.reporter.step("propose", f"round {number} of {rounds} with {provider.name}")
            accepted, turn = self._round(provider, fault, request, state, attempts)
            if accepted is not None or turn is None:
                return accepted
            request = replace(request, history=request.history + (turn,))
        return None

    def _round(
        self,
        provider: PatchProvider,
        fault: Fault,
        request: RepairRequest,
        state: TreeState,
        attempts: list[Attempt],
    ) -> tuple[Candidate | None, Turn | None]:
        """Run one request and validate its guarded candidates, smallest first.

        Returns the accepted candidate, or else the feedback for the next
        round: the first validation failure, or else the first reply that
        could not be applied.
        """
        # The offline engine's candidates cost no tokens, so it gets its own,
        # larger budget; the model's are capped by max_attempts.
        limit = (
            self.settings.offline_max_candidates
            if provider.name == "offline"
            else self.settings.max_attempts
        )
        try:
            proposal = provider.propose(request, self.workspace.root, limit)
        except ProviderError as error:
            logger.warning(
                "provider %s failed on fault %s and is not asked again in this heal: %s",
                provider.name,
                fault.id,
                error,
            )
            self.disabled[provider.name] = str(error)
            attempts.append(Attempt(provider.name, None, "", 0, False, str(error)))
            return None, None
        self.usage = self.usage + proposal.usage
        self.budget.charge(proposal.usage, getattr(provider, "model", None))

        not_applied: list[Turn] = []
        for rejection in proposal.rejections:
            attempts.append(Attempt(rejection.provider, None, "", 0, False, rejection.reason))
            if rejection.reply:
                not_applied.append(
                    Turn(rejection.reply, FeedbackKind.NOT_APPLIED, rejection.reason)
                )

        policy = GuardPolicy(
            allow_test_edits=self.settings.allow_test_edits, protected=self.protected
        )
        literals = failing_test_literals(self.workspace.root, request.test_ids)
        guarded: list[Candidate] = []
        # A ranked proposal (the offline search) is already in the order to try.
        ordered = (
            proposal.candidates
            if proposal.ranked
            else sorted(proposal.candidates, key=lambda c: c.changed_lines)
        )
        for candidate in ordered:
            problems = check_candidate(candidate, self.workspace.root, policy, literals)
            if problems:
                attempts.append(_attempt(candidate, False, "; ".join(problems)))
                self.reporter.candidate(candidate, False, problems[0])
                not_applied.append(Turn(candidate.reply, FeedbackKind.NOT_APPLIED, problems[0]))
                continue
            guarded.append(candidate)

        accepted, failed = self._first_accepted(fault, guarded, state, attempts)
        if accepted is not None:
            return accepted, None
        turns = [turn for turn in failed + not_applied if turn.reply]
        return None, (turns[0] if turns else None)

    def _first_accepted(
        self, fault: Fault, candidates: list[Candidate], state: TreeState, attempts: list[Attempt]
    ) -> tuple[Candidate | None, list[Turn]]:
        """Validate ``candidates`` in parallel and return the first accepted one in their order.

        The verdicts up to the accepted candidate are appended to ``attempts``
        in order, so the accepted candidate's attempt is the last one. Later
        candidates still running are cancelled and not recorded. The second
        item contains the validation failures to show a model.
        """
        if not candidates:
            return None, []
        # The stage checkpoint runs here, in the main thread, because signals
        # are delivered there and the validations below run in worker threads.
        self._stage("validate", f"{len(candidates)} candidate(s) for {fault.id}")
        outcome = first_accepted(
            candidates,
            lambda candidate: self._validate(fault, candidate, state),
            lambda verdict: verdict[0],
            workers=self.backend.parallel_limit(),
            cancel=self.backend.cancel,
        )
        counted = len(candidates) if outcome.winner is None else outcome.winner + 1
        failed: list[Turn] = []
        for candidate, verdict in zip(candidates[:counted], outcome.results[:counted], strict=True):
            accepted, reason, detail = (
                verdict if verdict is not None else (False, "not validated", "")
            )
            attempts.append(_attempt(candidate, accepted, reason))
            self.reporter.candidate(candidate, accepted, reason)
            if not accepted and detail:
                failed.append(Turn(candidate.reply, FeedbackKind.VALIDATION_FAILED, detail))
        winner = None if outcome.winner is None else candidates[outcome.winner]
        return winner, failed

    def _validate(
        self, fault: Fault, candidate: Candidate, state: TreeState
    ) -> tuple[bool, str, str]:
        """Return whether ``candidate`` passes, the reason, and the failure to show a model."""
        self.reporter.step("validate", f"{candidate.summary} ({_lines(candidate.changed_lines)})")
        lint_result = check_lint(fault, candidate, state, self.workspace.root)
        if not lint_result.passed:
            return False, lint_result.reason, lint_result.reason
        patched = state.snapshot.with_overlay({e.path: e.after.encode() for e in candidate.edits})
        result = check_tests(fault, patched, state, self.backend, self.settings.test_timeout)
        self.flaky.update(result.flaky)
        if not result.passed:
            return False, result.reason, _failure_detail(fault, result)
        if fault.kind is not FaultKind.CRASH:
            return True, result.reason, ""
        if self.reproducer is None:
            reason = "crash faults need the program's command to validate a fix"
            return False, reason, ""
        reproduced = self.reproducer.check(fault, patched)
        reason = f"{result.reason}; {reproduced.reason}"
        return reproduced.passed, reason, "" if reproduced.passed else reproduced.reason

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

        changed = _changed_since(state.snapshot, self.workspace.root, candidate)
        if changed:
            reason = f"{', '.join(changed)} changed since the fix was validated"
            return self._blocked(fault, candidate, attempts, reason), state

        self._stage("commit", candidate.summary)
        usage = _spent(self.usage, self._fault_start)
        message = commit_message(
            fault,
            candidate,
            validation,
            self.heal_id,
            self.backend.name,
            usage=usage,
            cost=self.settings.cost(usage),
        )
        target = self.workspace.target or BranchTarget(repository)
        parent = repository.head()
        try:
            sha = target.commit(candidate, state.snapshot, message, self.no_verify)
        except DirtyTreeError as error:
            # The user edited a file of the fix after it was checked above.
            return self._blocked(fault, candidate, attempts, str(error)), state
        except CommitRejected as error:
            reason = f"the commit was rejected: {error}"
            attempts[-1] = _attempt(candidate, False, reason)
            outcome = FaultOutcome(
                fault, FaultStatus.UNHEALED, tuple(attempts), reason, commit_output=error.output
            )
            return outcome, state

        try:
            verified, problem = self._verify(fault, state, target, sha)
        except KeyboardInterrupt:
            # The commit stays: it passed validation, and a revert is itself a
            # commit that a second Ctrl-C could cut short.
            reason = f"committed after validation ({validation}); verification was interrupted"
            self._unverified = FaultOutcome(
                fault, FaultStatus.UNVERIFIED, tuple(attempts), reason, candidate.diff, sha
            )
            raise
        except (KernelError, SandboxError) as error:
            # TODO: the heal record is written only for interrupts, so this
            # commit is named in the error but not recorded as unverified.
            raise KernelError(
                f"{error}. Fix commit {sha[:12]} for fault {fault.id} passed validation "
                "but could not be verified, and it stays on the branch; check it with "
                f"'agentos show {sha[:12]}' and your tests, "
                f"or undo it with 'git revert {sha[:12]}'."
            ) from error
        if problem is None:
            self._note_resolved(fault, state, verified, sha)
            outcome = FaultOutcome(
                fault, FaultStatus.HEALED, tuple(attempts), validation, candidate.diff, sha
            )
            return outcome, verified

        # An error or interrupt before the revert commit exists drops the
        # unverified commit instead, so the branch ends as it was.
        root = self._root or repository.root
        if isinstance(target, BranchTarget):
            guard: AbstractContextManager[None] = reverting(
                root, repository, self.heal_id, sha, parent, problem
            )
        else:
            # TODO: journal the revert of a fix applied to the working tree;
            # a SIGKILL during it leaves the fix commit in place.
            guard = nullcontext()
        with guard:
            self._stage("revert", f"{sha[:12]}: {problem}")
            revert_sha = target.revert(
                sha, revert_message(fault, sha, problem, self.heal_id), self.no_verify
            )
        outcome = FaultOutcome(
            fault, FaultStatus.REVERTED, tuple(attempts), problem, candidate.diff, sha, revert_sha
        )
        return outcome, state

    def _verify(
        self, fault: Fault, before: TreeState, target: FixTarget, sha: str
    ) -> tuple[TreeState, str | None]:
        """Observe the committed tree of fix ``sha``; return it and why it fails, or None."""
        self._stage("verify", f"re-running the checks on commit {sha[:12]}")
        verified = observe(
            self.backend,
            target.verify_snapshot(sha),
            self.workspace.root,
            self.settings.test_timeout,
            self.baselines,
        )
        verified = self._quarantine(verified)
        problem = _verification_problem(fault, before, verified)
        if problem is None and fault.kind is FaultKind.CRASH and self.reproducer is not None:
            reproduced = self.reproducer.check(fault, verified.snapshot)
            problem = None if reproduced.passed else reproduced.reason
        return verified, problem

    def _blocked(
        self, fault: Fault, candidate: Candidate, attempts: list[Attempt], problem: str
    ) -> FaultOutcome:
        """Report a validated fix that was not applied, and save its diff when a folder is set."""
        reason = f"not applied: {problem}"
        patch = None
        saved = self._saved_patches.get(candidate.diff)
        if saved is not None:
            first_fault, patch = saved
            reason += f". It is the same fix as for fault {first_fault}, saved in {patch}"
        elif self.patch_folder is not None:
            self.patch_folder.mkdir(parents=True, exist_ok=True)
            patch = self.patch_folder / f"{self.heal_id}-{fault.id}.patch"
            patch.write_text(candidate.diff, encoding="utf-8")
            self._saved_patches[candidate.diff] = (fault.id, patch)
            reason += f". The validated fix is saved in {patch}; apply it with 'git apply {patch}'"
        self.reporter.step("blocked", reason)
        return FaultOutcome(
            fault,
            FaultStatus.BLOCKED,
            tuple(attempts),
            reason,
            candidate.diff,
            patch=None if patch is None else str(patch),
        )

    def _note_resolved(self, fault: Fault, before: TreeState, after: TreeState, sha: str) -> None:
        """Record the other faults that the fix for ``fault`` removed as well."""
        still_there = {f.id for f in after.faults}
        for other in before.faults:
            if other.id != fault.id and other.id not in still_there:
                reason = f"resolved by the fix for fault {fault.id}"
                self.resolved.append(
                    FaultOutcome(other, FaultStatus.RESOLVED, (), reason, commit=sha)
                )


def _changed_since(snapshot: Snapshot, root: Path, candidate: Candidate) -> list[str]:
    """List the files of ``candidate`` whose content under ``root`` differs from ``snapshot``.

    The candidate was validated on the snapshot, so writing it over a file
    that differs would discard that difference, such as an edit the user made
    meanwhile.
    """
    changed = []
    for edit in candidate.edits:
        path = root / edit.path
        on_disk = path.read_bytes() if path.is_file() else None
        if on_disk != snapshot.read(edit.path):
            changed.append(edit.path)
    return changed


def _failure_detail(fault: Fault, result: CheckResult) -> str:
    """Return the validation failure with the target test's own report, trimmed for a prompt."""
    run = result.run
    test = run.tests.get(fault.test_id) if run is not None and fault.test_id else None
    report = (test.longrepr or test.message).strip() if test is not None else ""
    if not report:
        return result.reason
    if len(report) > _MAX_FAILURE_CHARS:
        report = "[...]\n" + report[-_MAX_FAILURE_CHARS:]
    return f"{result.reason}\n\n{report}"


def _verification_problem(fault: Fault, before: TreeState, after: TreeState) -> str | None:
    """Say why the committed tree fails verification, or return None when it passes."""
    problem = usable_baseline(after.run)
    if problem is not None:
        return problem.replace("on the unpatched code", "on the committed fix")
    if fault.id in {f.id for f in after.faults} or fault.test_id in after.run.failed():
        return f"the fault is still present after the commit: {fault.summary}"
    regressions = sorted(before.run.passed() - after.run.passed() - before.flaky - after.flaky)
    if regressions:
        listed = ", ".join(regressions[:5])
        return f"{len(regressions)} test(s) that passed before fail after the commit: {listed}"
    return None


def _next_fault(
    state: TreeState, tried: set[str], select: Callable[[Fault], bool] | None
) -> Fault | None:
    untried = (fault for fault in state.faults if fault.id not in tried)
    return next((fault for fault in untried if select is None or select(fault)), None)


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


def _spent(now: Usage, before: Usage) -> Usage:
    return Usage(
        now.prompt_tokens - before.prompt_tokens,
        now.completion_tokens - before.completion_tokens,
        now.requests - before.requests,
    )


def _attempt(candidate: Candidate, accepted: bool, reason: str) -> Attempt:
    return Attempt(
        candidate.provider,
        candidate.model,
        candidate.summary,
        candidate.changed_lines,
        accepted,
        reason,
        candidate.diff,
        candidate.unsafe_fixes,
    )
