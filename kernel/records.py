"""Heal records: one JSON file per heal under ``.agentos/heals`` in the target repository.

The folder is kept out of git through ``.git/info/exclude``. A record holds
the report of the heal with every candidate's diff and, per fault, the
context the providers received, for review and later reuse. History and
statistics work without records (from commit trailers); records add what a
commit cannot hold.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernel.faults import Fault
from kernel.outcome import HealReport, report_to_dict
from patches.secrets import environment_secrets, redact, shareable_secrets
from patches.types import Usage

logger = logging.getLogger(__name__)

RECORDS_FOLDER = Path(".agentos") / "heals"


def save_record(
    root: Path, report: HealReport, price: Callable[[Usage], float | None] = lambda usage: None
) -> Path:
    """Write the record of ``report`` atomically and return its path.

    ``price`` returns the estimated US dollars of a usage, or None when no
    price is configured, in which case no cost is recorded.
    """
    folder = root / RECORDS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    data = report_to_dict(report)
    for outcome, entry in zip(report.outcomes, data["faults"], strict=True):
        entry["context"] = _context(outcome.fault)
        cost = price(outcome.usage)
        if cost is not None:
            entry["cost"] = round(cost, 6)
        for attempt, attempt_entry in zip(outcome.attempts, entry["attempts"], strict=True):
            attempt_entry["diff"] = attempt.diff
    path = folder / f"{report.heal_id}.json"
    partial = path.with_suffix(".json.partial")
    # Replies, diffs and test output may quote secrets, so every string is redacted.
    data = _redacted(data, environment_secrets() + shareable_secrets(root))
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)  # a reader never sees half a record
    logger.info("saved heal record %s", path)
    return path


def load_records(root: Path) -> list[dict]:
    """Return the heal records under ``root``, oldest first; unreadable ones are skipped."""
    folder = root / RECORDS_FOLDER
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            logger.warning("skipped heal record %s: %s", path, error)
            continue
        if isinstance(data, dict) and isinstance(data.get("heal_id"), str):
            records.append(data)
        else:
            logger.warning("skipped heal record %s: it has no heal_id", path)
    return records


def _context(fault: Fault) -> dict:
    """Return what the providers were sent about ``fault``, as JSON data.

    NOTE: the code excerpt a model provider builds around the location is not
    stored; the location and the traceback frames point at it.
    """
    return {
        "message": fault.message,
        "exc_type": fault.exc_type,
        "test_id": fault.test_id,
        "lint_code": fault.lint_code,
        "frames": [
            {"path": frame.path, "line": frame.line, "function": frame.function}
            for frame in fault.frames
        ],
        "output": fault.output,
    }


def _redacted(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, secrets) for item in value]
    return value
