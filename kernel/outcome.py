"""What a heal did: per-fault outcomes and the report of the whole run.

The same report feeds the console summary, the ``--json`` output and the
heal record under ``.agentos/``; :func:`report_to_dict` defines that shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kernel.faults import Fault
from patches.types import Usage


class FaultStatus(enum.Enum):
    HEALED = "healed"  # a fix was committed and verified
    VALIDATED = "validated"  # a fix passed validation in a dry run; nothing was committed
    REVERTED = "reverted"  # a fix was committed, failed verification and was reverted
    UNHEALED = "unhealed"  # no candidate passed validation
    RESOLVED = "resolved"  # gone after the fix of another fault; ``commit`` is that fix
    ENVIRONMENT = "environment"  # the sandbox lacks something the code needs; no patch can help
    BLOCKED = "blocked"  # a fix passed validation, but a file it touches changed since
    # A fix was committed after validation, but the heal was interrupted while verifying it.
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Attempt:
    """One candidate and what validation made of it."""

    provider: str
    model: str | None
    summary: str
    changed_lines: int
    accepted: bool
    reason: str
    diff: str = ""
    unsafe_fixes: tuple[str, ...] = ()  # ruff rule codes whose unsafe fixes the candidate applies


@dataclass(frozen=True)
class FaultOutcome:
    fault: Fault
    status: FaultStatus
    attempts: tuple[Attempt, ...] = ()
    reason: str = ""  # why the fault is not healed, or what the verification found
    diff: str = ""  # the accepted diff
    commit: str | None = None
    revert_commit: str | None = None
    usage: Usage = field(default_factory=Usage)  # model tokens spent on this fault
    seconds: float = 0.0  # wall-clock time spent on this fault, from propose to verify
    commit_output: str = ""  # git's and the hooks' output when the commit was rejected
    patch: str | None = None  # file with the diff of a blocked fix, to apply by hand

    @property
    def unsafe_fixes(self) -> tuple[str, ...]:
        """Return the ruff rule codes whose unsafe fixes the accepted candidate applies."""
        accepted = [attempt for attempt in self.attempts if attempt.accepted]
        return accepted[-1].unsafe_fixes if accepted else ()


@dataclass(frozen=True)
class BaselineSummary:
    status: str
    passed: int
    failed: int
    collection_errors: int
    lint: int


@dataclass(frozen=True)
class HealReport:
    heal_id: str
    repository: str
    branch: str | None  # the branch that received the fixes, None in a dry run
    sandbox: str
    providers: tuple[str, ...]
    dry_run: bool
    baseline: BaselineSummary
    outcomes: tuple[FaultOutcome, ...] = ()
    remaining: tuple[Fault, ...] = ()  # faults still present when the heal ended
    usage: Usage = field(default_factory=Usage)
    flaky: tuple[str, ...] = ()  # tests quarantined because their outcome changed between runs
    interrupted: bool = False  # stopped by a signal; ``remaining`` then lists unverified faults too

    @property
    def exit_code(self) -> int:
        """0 when nothing is left to heal, 1 when faults remain."""
        return 1 if self.remaining else 0


def report_to_dict(report: HealReport) -> dict:
    """Return the report as plain JSON data; the README documents this shape."""
    return {
        "heal_id": report.heal_id,
        "repository": report.repository,
        "branch": report.branch,
        "sandbox": report.sandbox,
        "providers": list(report.providers),
        "dry_run": report.dry_run,
        "baseline": vars(report.baseline).copy(),
        "faults": [_outcome_to_dict(outcome) for outcome in report.outcomes],
        "remaining": [_fault_to_dict(fault) for fault in report.remaining],
        "flaky": list(report.flaky),
        "usage": _usage_to_dict(report.usage),
        "interrupted": report.interrupted,
        "exit_code": report.exit_code,
    }


def _usage_to_dict(usage: Usage) -> dict:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "requests": usage.requests,
    }


def _fault_to_dict(fault: Fault) -> dict:
    location = fault.location
    return {
        "id": fault.id,
        "kind": fault.kind.value,
        "summary": fault.summary,
        "location": None
        if location is None
        else {"path": location.path, "line": location.line, "symbol": location.symbol},
    }


def _outcome_to_dict(outcome: FaultOutcome) -> dict:
    return {
        **_fault_to_dict(outcome.fault),
        "status": outcome.status.value,
        "reason": outcome.reason,
        "commit": outcome.commit,
        "revert_commit": outcome.revert_commit,
        "diff": outcome.diff,
        "commit_output": outcome.commit_output,
        "patch": outcome.patch,
        "usage": _usage_to_dict(outcome.usage),
        "seconds": round(outcome.seconds, 3),
        "unsafe_fixes": list(outcome.unsafe_fixes),
        "attempts": [
            {
                "provider": attempt.provider,
                "model": attempt.model,
                "summary": attempt.summary,
                "changed_lines": attempt.changed_lines,
                "accepted": attempt.accepted,
                "reason": attempt.reason,
                "unsafe_fixes": list(attempt.unsafe_fixes),
            }
            for attempt in outcome.attempts
        ],
    }
