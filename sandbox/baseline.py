"""Baselines: how the suite behaves on an unpatched snapshot, and which tests are flaky.

A baseline is computed once per snapshot content and cached under a hash of
that content. It runs the whole suite twice in fresh sandboxes, at the same
time when the machine has the cores. A test whose outcome differs between the
two runs is flaky: it is quarantined, which means it never counts as a
regression and is never a target.

A test that passed in the baseline and fails for a candidate is run once more
in a fresh sandbox (:func:`confirm_regressions`) before it is called a
regression. When it passes then, it is flaky too.

Given a folder, the cache also keeps completed baselines on disk
(:mod:`sandbox.baseline_store`), so that the next heal of the same tree with
the same backend skips the baseline runs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.backend import RunPlan, SandboxBackend
from sandbox.baseline_store import BaselineStore, sandbox_fingerprint
from sandbox.results import Baseline, Outcome, RunStatus, TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)


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
    """Computes baselines with ``backend`` and keeps them while this object lives.

    With ``folder``, completed baselines are also stored there and read back
    by later caches; ``store_options`` are the bounds of
    :class:`~sandbox.baseline_store.BaselineStore`.
    """

    def __init__(
        self,
        backend: SandboxBackend,
        runs: int = 2,
        folder: Path | None = None,
        **store_options: Any,
    ) -> None:
        if runs < 1:
            raise ValueError(f"invalid number of baseline runs {runs}: it must be at least 1")
        self._backend = backend
        self._runs = runs
        self._store = BaselineStore(folder, **store_options) if folder is not None else None
        self._cache: dict[tuple[str, float], Baseline] = {}
        self._lock = threading.Lock()
        self.hits = 0  # from memory or disk
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

        stored_key = None
        if self._store is not None:
            stored_key = self._stored_key(key[0], timeout)
            stored = self._store.load(stored_key)
            if stored is not None:
                logger.info("baseline read from disk for snapshot %s", key[0][:12])
                with self._lock:
                    self.hits += 1
                    self._cache[key] = stored
                return stored

        with self._lock:
            self.misses += 1
        baseline = self._compute(snapshot, timeout)
        with self._lock:
            self._cache[key] = baseline
        # A run that timed out or crashed may have met a busy machine, so only
        # a completed baseline is kept for later heals.
        completed = baseline.run.status is RunStatus.COMPLETED
        if self._store is not None and stored_key is not None and completed:
            self._store.save(stored_key, baseline)
        return baseline

    def _stored_key(self, snapshot_hash: str, timeout: float) -> dict[str, Any]:
        """Return everything that decides a baseline's content, the key of its file."""
        return {
            "snapshot": snapshot_hash,
            "backend": self._backend.identity(),
            "sandbox": sandbox_fingerprint(),
            "plan": {"runs": self._runs, "timeout": timeout, "coverage": "first run"},
        }

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
