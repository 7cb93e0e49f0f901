"""The parallel validation pool, with real threads; each test fixes the order with events."""

from __future__ import annotations

import os
import threading

import pytest

from sandbox.pool import first_accepted, worker_limit

WAIT = 30  # seconds; only reached when the pool is broken


class Recorder:
    """Validation functions for the pool that record what they were called with."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.cancelled = threading.Event()
        self.lock = threading.Lock()

    def cancel(self) -> None:
        self.cancelled.set()

    def begin(self, item: int) -> None:
        with self.lock:
            self.started.append(item)


def test_smallest_accepted_wins() -> None:
    recorder = Recorder()
    late_done = threading.Event()

    def validate(item: int) -> bool:
        recorder.begin(item)
        if item == 2:
            late_done.set()
            return True
        assert late_done.wait(WAIT)  # items 0 and 1 finish after item 2
        return item == 1

    outcome = first_accepted([0, 1, 2], validate, bool, workers=3, cancel=recorder.cancel)

    assert outcome.winner == 1
    assert outcome.results[0] is False
    assert outcome.results[1] is True


def test_winner_cancels_slower_runs() -> None:
    recorder = Recorder()

    def validate(item: int) -> bool:
        recorder.begin(item)
        if item == 0:
            return True
        assert recorder.cancelled.wait(WAIT)  # a later run blocks until cancelled
        return False

    outcome = first_accepted([0, 1], validate, bool, workers=2, cancel=recorder.cancel)

    assert outcome.winner == 0
    assert recorder.cancelled.is_set()
    assert outcome.results[1] is None


def test_none_accepted() -> None:
    outcome = first_accepted([1, 2, 3], lambda item: item * 10, lambda r: r > 100, workers=2)

    assert outcome.winner is None
    assert outcome.results == (10, 20, 30)


def test_nothing_started_after_winner() -> None:
    recorder = Recorder()

    def validate(item: int) -> bool:
        recorder.begin(item)
        return item == 1

    outcome = first_accepted([0, 1, 2, 3], validate, bool, workers=1, cancel=recorder.cancel)

    assert outcome.winner == 1
    assert recorder.started == [0, 1]
    assert not recorder.cancelled.is_set()


def test_error_cancels_and_raises() -> None:
    recorder = Recorder()

    def validate(item: int) -> bool:
        if item == 0:
            raise RuntimeError("backend broke")
        assert recorder.cancelled.wait(WAIT)
        return False

    with pytest.raises(RuntimeError, match="backend broke"):
        first_accepted([0, 1], validate, bool, workers=2, cancel=recorder.cancel)

    assert recorder.cancelled.is_set()


def test_empty_items() -> None:
    outcome = first_accepted([], lambda item: True, bool, workers=4)

    assert outcome.winner is None
    assert outcome.results == ()


def test_worker_limit_bounds() -> None:
    cores = os.cpu_count() or 1

    assert worker_limit(None) == cores
    assert worker_limit(None, cpus_per_run=cores) == 1
    assert worker_limit(1 << 50) == 1  # a petabyte per run: memory allows one
