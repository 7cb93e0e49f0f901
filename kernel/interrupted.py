"""A heal stopped by a signal: the report of what it did, and the message the user reads last.

SIGINT and SIGTERM become KeyboardInterrupt (:mod:`kernel.interrupts`). The
heal loop raises :class:`HealInterrupted` in its place, so the heal record
is still written and the final message names the fix commits that stay. A
fix whose verification was cut short stays as well, because it passed
validation in the sandbox. Its committed tree was not checked again, so the
message gives the commands to check or undo it.
"""

from __future__ import annotations

from kernel.outcome import FaultOutcome, FaultStatus, HealReport

NOTHING_LEFT = "no fix was left half-applied"


class HealInterrupted(KeyboardInterrupt):
    """A heal stopped by Ctrl-C or SIGTERM, with the report of what it did before."""

    def __init__(self, report: HealReport, separate_branch: bool) -> None:
        super().__init__(f"heal {report.heal_id} was interrupted")
        self.report = report
        self.separate_branch = separate_branch  # the fixes went to a branch not checked out


def interrupted_message(interrupt: KeyboardInterrupt) -> str:
    """Return the last message after ``interrupt``: the fix commits kept, and how to undo them."""
    if not isinstance(interrupt, HealInterrupted):
        return NOTHING_LEFT
    report = interrupt.report
    kept = [
        outcome
        for outcome in report.outcomes
        if outcome.commit and outcome.status in (FaultStatus.HEALED, FaultStatus.UNVERIFIED)
    ]
    if not kept:
        return NOTHING_LEFT

    where = f"branch {report.branch}" + (
        ", outside your checkout" if interrupt.separate_branch else ""
    )
    listed = ", ".join(_describe(outcome) for outcome in kept)
    text = f"{NOTHING_LEFT}. Kept on {where}: {listed}."
    unverified = [o.commit or "" for o in kept if o.status is FaultStatus.UNVERIFIED]
    if not unverified:
        return text
    sha = unverified[-1][:12]
    if interrupt.separate_branch:
        return (
            f"{text} Review it with 'git log -p HEAD..{report.branch}'. To undo it, run "
            f"'git revert {sha}' on that branch, or delete the branch with "
            f"'git branch -D {report.branch}'."
        )
    return (
        f"{text} Check it with 'agentos show {sha}' and your tests, "
        f"and undo it with 'agentos undo' or 'git revert {sha}'."
    )


def _describe(outcome: FaultOutcome) -> str:
    sha = (outcome.commit or "")[:12]
    if outcome.status is FaultStatus.UNVERIFIED:
        return f"{sha} (validated, but its verification did not finish)"
    return f"{sha} (verified)"
