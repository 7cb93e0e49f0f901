"""Commit messages for fixes and reverts, with the trailers that identify them.

``agentos`` finds its own commits by these trailers, so they are part of the
tool's interface: keep their names stable.
"""

from __future__ import annotations

from kernel.faults import Fault
from patches.types import Candidate, Usage

SUBJECT_LIMIT = 72

TRAILER_FAULT = "Agentos-Fault"
TRAILER_PROVIDER = "Agentos-Provider"
TRAILER_MODEL = "Agentos-Model"
TRAILER_VALIDATION = "Agentos-Validation"
TRAILER_HEAL = "Agentos-Heal"
TRAILER_REVERTS = "Agentos-Reverts"
TRAILER_TOKENS = "Agentos-Tokens"  # model tokens spent on the fault, when a model was asked
TRAILER_COST = "Agentos-Cost"  # their price in US dollars, when prices are configured
TRAILER_UNSAFE_FIX = "Agentos-Unsafe-Fix"  # ruff rule codes whose unsafe fixes the commit applies


def commit_message(
    fault: Fault,
    candidate: Candidate,
    validation: str,
    heal_id: str,
    sandbox: str,
    usage: Usage | None = None,
    cost: float | None = None,
) -> str:
    """Return the message of the commit that applies an accepted candidate.

    ``usage`` is what the model calls for this fault cost in tokens, and ``cost``
    their price in US dollars; each becomes a trailer only when it is known.
    """
    where = _where(fault)
    body = (
        f"Heals fault {fault.id}: {_one_line(fault.summary)}\n"
        f"Cause{where}: {_one_line(fault.message) or fault.summary}\n"
        f"Change: {_one_line(candidate.summary)}\n"
        f"Validated in the {sandbox} sandbox before committing."
    )
    if candidate.unsafe_fixes:
        codes = ", ".join(candidate.unsafe_fixes)
        body += (
            f"\nUnsafe fix: ruff marks its fix for {codes} as unsafe because it can\n"
            "change behaviour, so it was committed only after validation passed."
        )
    trailers = {
        TRAILER_FAULT: fault.id,
        TRAILER_PROVIDER: candidate.provider,
        TRAILER_MODEL: candidate.model or "none",
        TRAILER_VALIDATION: _one_line(validation),
        TRAILER_HEAL: heal_id,
    }
    if usage is not None and usage.total_tokens:
        trailers[TRAILER_TOKENS] = (
            f"{usage.total_tokens} (prompt {usage.prompt_tokens}, "
            f"completion {usage.completion_tokens})"
        )
    if cost is not None and cost > 0:
        trailers[TRAILER_COST] = f"{cost:.6f} USD"
    if candidate.unsafe_fixes:
        trailers[TRAILER_UNSAFE_FIX] = ", ".join(candidate.unsafe_fixes)
    return _compose(f"fix: {_lower_first(candidate.summary)}", body, trailers)


def revert_message(fault: Fault, sha: str, problem: str, heal_id: str) -> str:
    """Return the message of the commit that reverts a fix whose verification failed."""
    body = (
        f"The fix in {sha[:12]} for fault {fault.id} passed validation, but the checks\n"
        f"run again on the committed tree failed: {_one_line(problem)}"
    )
    trailers = {TRAILER_REVERTS: sha, TRAILER_FAULT: fault.id, TRAILER_HEAL: heal_id}
    return _compose(f"revert: fix for {fault.id} failed verification", body, trailers)


def user_revert_message(subject: str, sha: str, fault_id: str, heal_id: str) -> str:
    """Return the message of the commit that reverts a fix at the user's request."""
    body = (
        f"This reverts commit {sha}.\n"
        f"The fix for fault {fault_id} was reverted with agentos revert or agentos undo."
    )
    trailers = {TRAILER_REVERTS: sha, TRAILER_FAULT: fault_id, TRAILER_HEAL: heal_id}
    return _compose(f'Revert "{subject}"', body, trailers)


def _compose(subject: str, body: str, trailers: dict[str, str]) -> str:
    subject = _one_line(subject)
    if len(subject) > SUBJECT_LIMIT:
        # Cut at a word boundary so the subject never ends mid-word.
        cut = subject[: SUBJECT_LIMIT - 3].rsplit(" ", 1)[0]
        subject = cut.rstrip(" ,:;") + "..."
    lines = "\n".join(f"{key}: {value}" for key, value in trailers.items())
    return f"{subject}\n\n{body}\n\n{lines}\n"


def _where(fault: Fault) -> str:
    location = fault.location
    if location is None:
        return ""
    symbol = f" ({location.symbol})" if location.symbol else ""
    return f" at {location.path}:{location.line}{symbol}"


def _lower_first(text: str) -> str:
    # "Rename x" reads as "fix: rename x", but an acronym or code such as "F401" stays.
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
