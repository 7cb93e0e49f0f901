"""Per-check history under ``.agentos/history``: test outcomes and durations, program runs.

Each file is JSON Lines, one record per run, appended and never rewritten,
so a crash loses at most the line being written. :mod:`kernel.anomalies`
reads them back.

- ``tests.jsonl``: ``{"time", "source", "tree", "tests": {nodeid: [outcome, seconds]}}``,
  where ``tree`` is a hash of the exact files the tests ran on.
- ``programs.jsonl``: ``{"time", "command", "exit_code", "signal", "crashed", "seconds",
  "fault"}`` for each run of a supervised program, where ``fault`` is the id of
  its crash fault or null.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from sandbox.results import TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

HISTORY_FOLDER = Path(".agentos") / "history"
TESTS_FILE = "tests.jsonl"
PROGRAMS_FILE = "programs.jsonl"


def tree_id(snapshot: Snapshot) -> str:
    """Return a hash of the files of ``snapshot``: equal trees give equal ids."""
    digest = hashlib.sha256(snapshot.base_tar)
    for path, content in sorted(snapshot.overlay.items()):
        digest.update(b"\0" + path.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def record_test_run(root: Path, run: TestRun, tree: str, source: str) -> None:
    """Append the outcome and duration of every test of ``run``."""
    tests = {
        nodeid: [result.outcome.value, round(result.duration, 4)]
        for nodeid, result in run.tests.items()
    }
    if tests:
        _append(root, TESTS_FILE, {"source": source, "tree": tree, "tests": tests})


def record_program_run(
    root: Path,
    command: str,
    exit_code: int | None,
    signal_number: int | None,
    crashed: bool,
    seconds: float,
    fault_id: str | None = None,
) -> None:
    """Append one run of a supervised program; ``fault_id`` names its crash fault."""
    record = {
        "command": command,
        "exit_code": exit_code,
        "signal": signal_number,
        "crashed": crashed,
        "seconds": round(seconds, 3),
        "fault": fault_id,
    }
    _append(root, PROGRAMS_FILE, record)


def read_history(root: Path, name: str) -> Iterator[dict]:
    """Yield the records of one history file, oldest first, skipping unreadable lines."""
    path = root / HISTORY_FOLDER / name
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                logger.warning("skipping unreadable line %d of %s", number, path)
                continue
            if isinstance(record, dict):
                yield record


def _append(root: Path, name: str, record: dict) -> None:
    folder = root / HISTORY_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / name).open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")
    except OSError as error:
        # History is a convenience: a full disk must not stop a heal or a program.
        logger.warning("cannot append to %s: %s", folder / name, error)
