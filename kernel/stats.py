"""Figures over the tool's fixes and heal records, for ``agentos stats``.

Fixes come from commit trailers (see kernel/history.py). Heal records under
``.agentos/heals`` add what a commit cannot tell, such as the faults that
were never healed and their kinds. Without records those figures are None
(unknown), never guessed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from kernel.history import Fix, FixState


@dataclass(frozen=True)
class Stats:
    fixes: int  # fix commits reachable from HEAD
    reverted: int  # of those, fixes that are reverted now
    faults_healed: int  # distinct faults with a fix that is not reverted
    faults_seen: int | None  # distinct faults in heal records and fixes; None without records
    median_seconds: float | None  # median time to a fix; kernel/history.py defines it
    tokens_per_fix: float | None  # mean over fixes whose tokens are known
    cost_per_fix: float | None  # US dollars, mean over fixes whose cost is known
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    flaky_tests: tuple[str, ...] | None = None  # None when no record lists flaky tests

    @property
    def healed_share(self) -> float | None:
        if not self.faults_seen:
            return None
        return self.faults_healed / self.faults_seen


def compute_stats(fixes: list[Fix], records: list[dict]) -> Stats:
    """Summarise ``fixes`` (from load_history) and heal ``records`` (from load_records)."""
    live = [fix for fix in fixes if fix.state is not FixState.REVERTED]
    healed = {fix.fault_id for fix in live}

    kinds: dict[str, str] = {fix.fault_id: fix.fault_kind or "unknown" for fix in fixes}
    flaky: set[str] = set()
    flaky_recorded = False
    for record in records:
        if record.get("dry_run"):
            continue
        for entry in [*record.get("faults", []), *record.get("remaining", [])]:
            if isinstance(entry, dict) and "id" in entry:
                kinds[entry["id"]] = entry.get("kind") or kinds.get(entry["id"], "unknown")
        if isinstance(record.get("flaky"), list):
            flaky_recorded = True
            flaky.update(str(test) for test in record["flaky"])

    seconds = [fix.seconds for fix in fixes if fix.seconds is not None]
    tokens = [fix.tokens for fix in fixes if fix.tokens is not None]
    costs = [fix.cost for fix in fixes if fix.cost is not None]
    return Stats(
        fixes=len(fixes),
        reverted=len(fixes) - len(live),
        faults_healed=len(healed),
        faults_seen=len(kinds) if records else None,
        median_seconds=statistics.median(seconds) if seconds else None,
        tokens_per_fix=statistics.fmean(tokens) if tokens else None,
        cost_per_fix=statistics.fmean(costs) if costs else None,
        faults_by_kind=dict(sorted(Counter(kinds.values()).items())),
        flaky_tests=tuple(sorted(flaky)) if flaky_recorded else None,
    )


def stats_to_dict(stats: Stats) -> dict:
    """Return ``stats`` as plain JSON data, the shape of ``agentos stats --json``."""
    return {
        "fixes": stats.fixes,
        "reverted": stats.reverted,
        "faults_healed": stats.faults_healed,
        "faults_seen": stats.faults_seen,
        "healed_share": stats.healed_share,
        "median_seconds": stats.median_seconds,
        "tokens_per_fix": stats.tokens_per_fix,
        "cost_per_fix": stats.cost_per_fix,
        "faults_by_kind": stats.faults_by_kind,
        "flaky_tests": None if stats.flaky_tests is None else list(stats.flaky_tests),
    }
