"""Baselines: how the suite behaves on an unpatched snapshot, and which tests are flaky.

A baseline is computed once per snapshot content and cached under a hash of
that content. It runs the whole suite twice in fresh sandboxes, at the same
time when the machine has the cores. A test whose outcome differs between the
two runs is flaky: it is quarantined, which means it never counts as a
regression and is never a target.

A test that passed in the baseline and fails for a candidate is run once more
in a fresh sandbox (:func:`confirm_regressions`) before it is called a
regression. When it passes then, it is flaky too.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sandbox.backend import RunPlan, SandboxBackend
from sandbox.results import Outcome, RunStatus, TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Baseline:
    """The suite's outcome on one snapshot, with the tests found flaky on it."""

    run: TestRun  # the first run; the others only serve to find flaky tests
    flaky: frozenset[str] = frozenset()
    runs: int = 1


@dataclass(frozen=True)
class Confirmation:
    """The regressions of a candidate after a rerun in a fresh sandbox."""

    confirmed: tuple[str, ...]  # failed again
    flaky: tuple[str, ...]  # passed on the rerun


def snapshot_key(snapshot: Snapshot) -> str:
    """Return a SHA-256 of the snapshot's tree and overlay, the baseline cache's key."""
    digest = hashlib.sha256(snapshot.base_tar)
    for path, content in sorted(snapshot.overlay.items()):
        digest.update(b"\0" + path.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


class BaselineCache:
    """Computes baselines with ``backend`` and keeps them for as long as this object lives."""

    def __init__(self, backend: SandboxBackend, runs: int = 2) -> None:
        if runs < 1:
            raise ValueError(f"invalid number of baseline runs {runs}: it must be at least 1")
        self._backend = backend
        self._runs = runs
        self._cache: dict[tuple[str, float], Baseline] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, snapshot: Snapshot, timeout: float) -> Baseline:
        """Return the baseline of ``snapshot``, running the suite only on a cache miss."""
        key = (snapshot_key(snapshot), timeout)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.hits += 1
                logger.info("baseline cache hit for snapshot %s", key[0][:12])
                return cached
            self.misses += 1

        baseline = self._compute(snapshot, timeout)
        with self._lock:
            self._cache[key] = baseline
        return baseline

    def _compute(self, snapshot: Snapshot, timeout: float) -> Baseline:
        # The first run also records per-test coverage, for fault localisation;
        # the others run without the tracer, which slows a suite down.
        plans = [
            RunPlan(full_suite=True, timeout=timeout, coverage=index == 0)
            for index in range(self._runs)
        ]
        workers = max(min(self._runs, self._backend.parallel_limit()), 1)
        logger.info("running the baseline suite %d time(s), %d at once", self._runs, workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="baseline") as pool:
            runs = list(pool.map(lambda plan: self._backend.run(snapshot, plan), plans))
        flaky = differing_outcomes(runs)
        if flaky:
            logger.warning("quarantined %d flaky test(s): %s", len(flaky), ", ".join(sorted(flaky)))
        return Baseline(runs[0], flaky, len(runs))


def differing_outcomes(runs: list[TestRun]) -> frozenset[str]:
    """Return the tests whose outcome differs between completed runs that all reported them."""
    completed = [run for run in runs if run.status is RunStatus.COMPLETED]
    if len(completed) < 2:
        return frozenset()
    shared = set(completed[0].tests).intersection(*(run.tests for run in completed[1:]))
    return frozenset(
        nodeid for nodeid in shared if len({run.tests[nodeid].outcome for run in completed}) > 1
    )


def confirm_regressions(
    backend: SandboxBackend, snapshot: Snapshot, regressions: tuple[str, ...], timeout: float
) -> Confirmation:
    """Rerun ``regressions`` on ``snapshot`` in a fresh sandbox; the ones that pass are flaky.

    A rerun that does not complete confirms every regression, because it
    proves nothing about them.
    """
    plan = RunPlan(
        targets=regressions, full_suite=False, stop_at_first_failure=False, timeout=timeout
    )
    run = backend.run(snapshot, plan)
    if run.status is not RunStatus.COMPLETED:
        return Confirmation(regressions, ())
    passed = tuple(
        nodeid
        for nodeid in regressions
        if nodeid in run.tests and run.tests[nodeid].outcome is Outcome.PASSED
    )
    confirmed = tuple(nodeid for nodeid in regressions if nodeid not in passed)
    if passed:
        listed = ", ".join(passed)
        logger.warning("quarantined flaky test(s) that passed on a rerun: %s", listed)
    return Confirmation(confirmed, passed)
