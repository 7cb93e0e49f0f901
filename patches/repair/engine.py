"""The offline engine's second stage: exception-driven rules, then the name or mutation search."""

from __future__ import annotations

import logging
from pathlib import Path

from patches.repair.names import SEARCHED, search_names
from patches.repair.rules import apply_rules
from patches.repair.search import Budget, search
from patches.repair.sources import Repository
from patches.types import Candidate, FaultKind, RepairRequest

logger = logging.getLogger(__name__)

# Mutating lines cannot define a missing name or module, nor make code
# parse, so these exceptions get the name search or nothing after the rules.
# AttributeError is not among them: arguments passed in the wrong order give
# a value the wrong type, which lacks the attribute, so the mutation search
# runs after the name search for it.
_NOT_MUTATED = frozenset(
    {"NameError", "ImportError", "ModuleNotFoundError", "SyntaxError", "IndentationError"}
)


def propose_repairs(
    request: RepairRequest, root: Path, provider: str, budget: Budget, *, rule_fired: bool = False
) -> tuple[list[Candidate], list[str]]:
    """Return the rules' candidates, then the search's, with the reasons each gave up.

    ``rule_fired`` is True when the caller's own rules already proposed a
    candidate. For a missing name, attribute or import the searches are
    only for faults that no rule fits, so they do not run then.
    """
    outcome = apply_rules(request, root, provider)
    candidates = list(outcome.candidates)
    reasons = list(outcome.reasons)
    room = budget.max_candidates - len(candidates)
    if request.kind is not FaultKind.TEST or room <= 0:
        return candidates, reasons
    repository = Repository(root)
    if request.exc_type in SEARCHED:
        if rule_fired or candidates:
            return candidates, reasons
        found, why_not = search_names(request, repository, provider, room)
        candidates += found
        reasons += why_not
        room -= len(found)
    if request.exc_type in _NOT_MUTATED or room <= 0:
        return candidates, reasons

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
