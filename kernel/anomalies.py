"""Anomalies found in the check history: slow tests, flaky tests, rising crash rates.

=============  ==============================================================
kind           flagged when
=============  ==============================================================
slow           the latest duration of a test exceeds the mean of at least
               ``MIN_HISTORY`` earlier runs by more than ``SIGMAS`` standard
               deviations, and by at least ``MIN_JUMP`` seconds
flaky          a test both passed and failed on the same tree (same files)
crash-rate     the last ``RECENT`` runs of a supervised command crashed at
               least twice, at a rate ``RATE_RISE`` or more above the rate of
               at least ``RECENT`` earlier runs
=============  ==============================================================

A flaky test is never patched: its failures say nothing about the code.
"""

from __future__ import annotations

import enum
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kernel.run_history import PROGRAMS_FILE, TESTS_FILE, read_history

MIN_HISTORY = 10  # earlier runs needed before a duration can be called a jump
SIGMAS = 3.0
MIN_JUMP = 0.05  # seconds; smaller jumps are noise however steady the history
HISTORY_WINDOW = 50  # earlier runs a duration is compared with
RECENT = 5  # supervised runs in the recent window
RATE_RISE = 0.3


class AnomalyKind(enum.Enum):
    SLOW = "slow"
    FLAKY = "flaky"
    CRASH_RATE = "crash-rate"


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    subject: str  # a test's node id, or a supervised command
    detail: str  # one line for people


def find_anomalies(root: Path) -> list[Anomaly]:
    """Return every anomaly of the repository at ``root``: flaky, slow, then crash rates."""
    flaky = [
        Anomaly(AnomalyKind.FLAKY, nodeid, "passed and failed on the same files")
        for nodeid in sorted(flaky_tests(root))
    ]
    return flaky + slow_tests(root) + rising_crash_rates(root)


def flaky_tests(root: Path) -> set[str]:
    """Return the node ids of tests that both passed and failed on one tree."""
    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in read_history(root, TESTS_FILE):
        for nodeid, (outcome, _seconds) in record.get("tests", {}).items():
            outcomes[(record.get("tree", ""), nodeid)].add(outcome)
    failing = {"failed", "error"}
    return {
        nodeid for (_tree, nodeid), seen in outcomes.items() if "passed" in seen and seen & failing
    }


def slow_tests(root: Path) -> list[Anomaly]:
    durations: dict[str, list[float]] = defaultdict(list)
    for record in read_history(root, TESTS_FILE):
        for nodeid, (_outcome, seconds) in record.get("tests", {}).items():
            durations[nodeid].append(float(seconds))

    found = []
    for nodeid, series in sorted(durations.items()):
        if len(series) <= MIN_HISTORY:
            continue
        earlier, latest = series[-HISTORY_WINDOW - 1 : -1], series[-1]
        mean = statistics.fmean(earlier)
        deviation = statistics.pstdev(earlier)
        if latest > mean + SIGMAS * deviation and latest - mean >= MIN_JUMP:
            detail = (
                f"took {latest:.2f} s; its last {len(earlier)} runs took {mean:.2f} s on average"
            )
            found.append(Anomaly(AnomalyKind.SLOW, nodeid, detail))
    return found


def rising_crash_rates(root: Path) -> list[Anomaly]:
    crashes: dict[str, list[bool]] = defaultdict(list)
    for record in read_history(root, PROGRAMS_FILE):
        crashes[str(record.get("command", ""))].append(bool(record.get("crashed")))

    found = []
    for command, series in sorted(crashes.items()):
        if len(series) < 2 * RECENT:
            continue
        recent, earlier = series[-RECENT:], series[:-RECENT]
        recent_rate = sum(recent) / len(recent)
        earlier_rate = sum(earlier) / len(earlier)
        if sum(recent) >= 2 and recent_rate - earlier_rate >= RATE_RISE:
            detail = (
                f"{sum(recent)} of the last {len(recent)} runs crashed, "
                f"against {earlier_rate:.0%} of the {len(earlier)} runs before"
            )
            found.append(Anomaly(AnomalyKind.CRASH_RATE, command, detail))
    return found
