"""The offline engine's second stage: exception-driven rules, then the mutation search."""

from __future__ import annotations

import logging
from pathlib import Path

from patches.repair.rules import apply_rules
from patches.repair.search import Budget, search
from patches.repair.sources import Repository
from patches.types import Candidate, FaultKind, RepairRequest

logger = logging.getLogger(__name__)

# Exceptions that name what is missing: the rules fix them, and mutating
# arbitrary lines near them only adds candidates that cannot help.
# NOTE: arguments swapped so that a value of the wrong type gets an
# attribute also raise AttributeError, and the search does not try those.
_NOT_SEARCHED = frozenset(
    {
        "NameError",
        "AttributeError",
        "ImportError",
        "ModuleNotFoundError",
        "SyntaxError",
        "IndentationError",
    }
)


def propose_repairs(
    request: RepairRequest, root: Path, provider: str, budget: Budget
) -> tuple[list[Candidate], list[str]]:
    """Return the rules' candidates, then the search's, with the reasons each gave up."""
    outcome = apply_rules(request, root, provider)
    candidates = list(outcome.candidates)
    reasons = list(outcome.reasons)
    room = budget.max_candidates - len(candidates)
    if request.kind is not FaultKind.TEST or request.exc_type in _NOT_SEARCHED or room <= 0:
        return candidates, reasons

    repository = Repository(root)
    result = search(
        request, repository.read, Budget(room, budget.seconds, budget.max_lines), provider
    )
    candidates.extend(result.candidates)
    if not result.candidates:
        reasons.append(
            f"the mutation search found no candidate at {result.lines_tried} suspicious line(s)"
        )
    if result.exhausted:
        logger.info("offline search stopped at its %s budget", result.exhausted)
    return candidates, reasons
