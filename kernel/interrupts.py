"""Interrupts of a run: SIGINT and SIGTERM become KeyboardInterrupt, and none is lost.

Python runs a signal handler between two bytecodes of the main thread, and
that may be inside a finalizer (``__del__``) that the garbage collector is
running. An exception raised there is printed as "Exception ignored" and
dropped, so the run would go on. The handler therefore also records the
signal, and :func:`checkpoint`, called at every stage of a heal, raises it
again.

``checkpoint`` also serves fault-injection tests: with the environment
variable ``AGENTOS_TEST_PAUSE_AT=<stage>`` (test-only, never needed in use)
it prints ``agentos-test-pause <stage>`` to standard error and sleeps at that
stage, so a test can send a signal there.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

PAUSE_VARIABLE = "AGENTOS_TEST_PAUSE_AT"  # test-only: stage name at which to pause
PAUSE_SECONDS = 120.0  # long enough for any test to send its signal

_received: int | None = None


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt inside the block, remembering each."""
    global _received
    _received = None
    previous = {
        number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, _restorable(handler))
        _received = None


def checkpoint(stage: str) -> None:
    """Raise KeyboardInterrupt if a signal arrived earlier.

    Pause here instead when AGENTOS_TEST_PAUSE_AT names ``stage`` (test-only).
    """
    if _received is not None:
        logger.warning("signal %d was caught late, at stage %s", _received, stage)
        raise KeyboardInterrupt(f"signal {_received}")
    if os.environ.get(PAUSE_VARIABLE) == stage:
        print(f"agentos-test-pause {stage}", file=sys.stderr, flush=True)
        time.sleep(PAUSE_SECONDS)


def _interrupt(signal_number: int, frame: object) -> None:
    global _received
    _received = signal_number
    raise KeyboardInterrupt(f"signal {signal_number}")


def _restorable(handler: Callable | int | None) -> Callable | int:
    # signal.signal returns None for a handler not installed from Python.
    return signal.SIG_DFL if handler is None else handler
