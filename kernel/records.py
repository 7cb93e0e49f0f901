"""Heal records: one JSON file per heal under ``.agentos/heals`` in the target repository.

The folder is kept out of git through ``.git/info/exclude``. A record holds
the report of the heal with every candidate's diff, for review and later
reuse.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from kernel.outcome import HealReport, report_to_dict
from patches.secrets import environment_secrets, redact, shareable_secrets

logger = logging.getLogger(__name__)

RECORDS_FOLDER = Path(".agentos") / "heals"


def save_record(root: Path, report: HealReport) -> Path:
    """Write the record of ``report`` atomically and return its path."""
    folder = root / RECORDS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    data = report_to_dict(report)
    for outcome, entry in zip(report.outcomes, data["faults"], strict=True):
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


def _redacted(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, secrets) for item in value]
    return value
