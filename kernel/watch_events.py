"""Events of watch mode: one line each for people, or one JSON object a line.

``agentos watch`` reports what it does as a stream of :class:`Event` values.
:class:`LineSink` prints one line per event to standard error, and
:class:`JsonSink` writes one JSON object per line to standard output, for
scripts. :class:`EventReporter` turns the progress of a heal into
events too, so a heal started by either mode reports through the same stream.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from rich.console import Console
from rich.markup import escape

from kernel.console import Reporter
from kernel.faults import Fault
from kernel.outcome import FaultOutcome
from patches.types import Candidate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Something watch mode did or saw.

    ``kind`` is one of: start, change, ignored, checks, fault, skip, heal,
    candidate, blocked, commit, revert, outcome, branch, anomaly, stop, error.
    """

    kind: str
    text: str  # one line for people
    data: dict[str, Any] = field(default_factory=dict)  # the same facts for scripts


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class LineSink:
    """Prints ``kind text`` per event to standard error, so standard output stays the program's."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def emit(self, event: Event) -> None:
        style = "red" if event.kind in ("error", "crash", "revert") else "cyan"
        self.console.print(f"[bold {style}]{event.kind:>9}[/] {escape(event.text)}")


class JsonSink:
    """Writes one JSON object per event and line: ``{"time", "kind", "text", ...data}``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, event: Event) -> None:
        record = {"time": round(time.time(), 3), "kind": event.kind, "text": event.text}
        record.update(event.data)
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()


class CollectingSink:
    """Keeps every event in a list, for callers that inspect them afterwards."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


class EventReporter(Reporter):
    """A heal's Reporter that sends its progress to an event sink instead of the console."""

    def __init__(self, sink: EventSink) -> None:
        super().__init__(quiet=True)
        self.sink = sink

    def step(self, phase: str, text: str) -> None:
        kind = {"commit": "commit", "revert": "revert", "blocked": "blocked"}.get(phase)
        if kind is not None:
            self.sink.emit(Event(kind, text))
        else:
            logger.info("%s: %s", phase, text)

    def warn(self, text: str) -> None:
        self.sink.emit(Event("error", text))

    def faults_found(self, faults: Sequence[Fault]) -> None:
        logger.info("the heal baseline has %d fault(s)", len(faults))

    def candidate(self, candidate: Candidate, accepted: bool, reason: str) -> None:
        verdict = "accepted" if accepted else "rejected"
        self.sink.emit(
            Event(
                "candidate",
                f"{verdict} {candidate.summary}: {reason}",
                {"accepted": accepted, "provider": candidate.provider, "reason": reason},
            )
        )

    def outcome(self, outcome: FaultOutcome) -> None:
        commit = f" as {outcome.commit[:12]}" if outcome.commit else ""
        self.sink.emit(
            Event(
                "outcome",
                f"{outcome.status.value} {outcome.fault.summary}{commit}",
                {
                    "fault": outcome.fault.id,
                    "status": outcome.status.value,
                    "commit": outcome.commit,
                    "reason": outcome.reason,
                },
            )
        )


def fault_event(fault: Fault, seen: int) -> Event:
    where = fault.location.path if fault.location else None
    note = "" if seen < 2 else " (seen twice with no edit between: confirmed)"
    return Event(
        "fault",
        f"{fault.id} {fault.summary}{note}",
        {"fault": fault.id, "fault_kind": fault.kind.value, "path": where, "seen": seen},
    )
