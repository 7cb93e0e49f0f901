"""Validate items in parallel and pick the first one, in the given order, that is accepted.

The caller orders the items by preference (for candidates: smallest patch
first). Up to ``workers`` validations run at once. Item ``i`` wins as soon as
it is accepted and every item before it has been rejected, so the winner does
not wait for later items. Once an item is accepted, no item after it is
started, and once the winner is known the runs still in progress are
cancelled. On Ctrl-C (or a SIGTERM turned into KeyboardInterrupt) the runs in
progress are cancelled too before the interrupt goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class PoolOutcome(Generic[Result]):
    """The winner's index and every result that counts.

    ``results[i]`` is None for an item that was not started or whose run was
    cancelled; the items before the winner always have a result.
    """

    winner: int | None
    results: tuple[Result | None, ...]


def worker_limit(memory_per_run: int | None, cpus_per_run: float = 1.0) -> int:
    """Return how many runs fit at once in this machine's cores and available memory."""
    cores = os.cpu_count() or 1
    by_cores = max(int(cores / max(cpus_per_run, 0.1)), 1)
    available = _available_memory()
    if memory_per_run is None or available is None:
        return by_cores
    return max(min(by_cores, available // max(memory_per_run, 1)), 1)


def first_accepted(
    items: Sequence[Item],
    validate: Callable[[Item], Result],
    is_accepted: Callable[[Result], bool],
    *,
    workers: int,
    cancel: Callable[[], None] = lambda: None,
) -> PoolOutcome[Result]:
    """Validate ``items`` with up to ``workers`` threads; see the module docstring.

    ``cancel`` stops the validations in progress (for a sandbox backend, by
    killing their containers); their ``validate`` calls must then return soon.
    An exception from ``validate`` cancels the rest and is raised here.
    """
    results: list[Result | None] = [None] * len(items)
    finished: set[int] = set()
    running: dict[Future[Result], int] = {}
    next_item = 0
    best: int | None = None  # the earliest accepted item so far

    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="validate") as pool:
        try:
            while True:
                while len(running) < max(workers, 1) and next_item < len(items):
                    if best is not None and next_item > best:
                        break  # a later item cannot beat one already accepted
                    running[pool.submit(validate, items[next_item])] = next_item
                    next_item += 1
                if not running:
                    return PoolOutcome(best if _decided(best, finished) else None, tuple(results))

                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    results[index] = future.result()
                    finished.add(index)
                    if is_accepted(results[index]) and (best is None or index < best):
                        best = index

                if _decided(best, finished):
                    if running:
                        logger.info("item %d accepted; cancelling %d run(s)", best, len(running))
                        cancel()
                    return PoolOutcome(best, tuple(results))
        except BaseException:
            # Ctrl-C, or a validation that raised: stop the others before leaving.
            if running:
                cancel()
            raise


def _decided(best: int | None, finished: set[int]) -> bool:
    return best is not None and all(index in finished for index in range(best))


def _available_memory() -> int | None:
    """Return MemAvailable from /proc/meminfo in bytes, or None where there is none."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
