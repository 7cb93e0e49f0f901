"""Baselines kept on disk, so that a later heal of the same tree skips the baseline runs.

Each baseline is one JSON file, named by a SHA-256 of everything that can
change the suite's behaviour on the same tree. That is the snapshot's content,
the backend's identity (image id or interpreter, and limits), the run plan,
and the source of the sandbox's own plugin and parser. Files are written to a
temporary name and renamed, so a reader never sees half a file.

A file whose format version differs, whose key does not match, that is older
than ``max_age`` or that does not parse is a miss. The last case is logged as
a warning and the file is removed. After each write the oldest files go until
at most ``max_entries`` files and ``max_bytes`` bytes remain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.results import (
    Baseline,
    CollectionError,
    Frame,
    Outcome,
    RunStatus,
    TestResult,
    TestRun,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_ENTRIES = 20
MAX_BYTES = 256 * 1024**2
MAX_AGE = 7 * 24 * 3600.0  # seconds
TEMPORARY = ".partial"  # the suffix of a file being written
TEMPORARY_AGE = 3600.0  # seconds after which a file being written was left by a dead writer

# The code that writes and reads the events: a change to it can change what a
# run reports on the same tree, so it is part of every key.
_SANDBOX_SOURCES = ("pytest_plugin.py", "coverage_plugin.py", "events.py", "results.py")


class BaselineStore:
    """A folder of baseline files; see the module docstring for the key and the bounds."""

    def __init__(
        self,
        folder: Path,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_age: float = MAX_AGE,
    ) -> None:
        if max_entries < 1 or max_bytes < 1 or max_age <= 0:
            raise ValueError(
                f"invalid baseline store bounds (entries {max_entries}, bytes {max_bytes}, "
                f"age {max_age} s): each must be positive"
            )
        self.folder = folder
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_age = max_age

    def load(self, key: Mapping[str, Any]) -> Baseline | None:
        """Return the baseline stored under ``key``, or None on a miss."""
        path = self._path(key)
        try:
            age = time.time() - path.stat().st_mtime
            if age > self.max_age:
                logger.info("baseline file %s is %.0f s old: recomputing", path.name, age)
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return self._discard(path, error)

        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            logger.info("baseline file %s has another format version: recomputing", path.name)
            return None
        if data.get("key") != _plain(key):
            return None  # a hash collision, or a file renamed by hand
        try:
            return _baseline_from_dict(data["baseline"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return self._discard(path, error)

    def save(self, key: Mapping[str, Any], baseline: Baseline) -> None:
        """Write ``baseline`` under ``key`` atomically, then prune; a failure only warns."""
        data = {
            "format": FORMAT_VERSION,
            "key": _plain(key),
            "baseline": _baseline_to_dict(baseline),
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=TEMPORARY)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    json.dump(data, file)
                os.replace(temporary, self._path(key))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            # The cache only saves time, so a full disk must not fail the heal.
            logger.warning("failed to store the baseline in %s: %s", self.folder, error)
            return
        self._prune()

    def _path(self, key: Mapping[str, Any]) -> Path:
        text = json.dumps(_plain(key), sort_keys=True)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()}.json"

    def _discard(self, path: Path, error: Exception) -> None:
        logger.warning("ignoring corrupt baseline file %s (%s); recomputing it", path, error)
        path.unlink(missing_ok=True)
        return None

    def _prune(self) -> None:
        """Remove old files, then the oldest ones beyond the count and size bounds."""
        entries: list[tuple[float, int, Path]] = []
        for path in self.folder.glob("*.json"):
            try:
                status = path.stat()
            except FileNotFoundError:
                continue  # removed meanwhile by another process
            entries.append((status.st_mtime, status.st_size, path))
        entries.sort(reverse=True)  # newest first

        now = time.time()
        for path in self.folder.glob(f"*{TEMPORARY}"):
            try:
                if now - path.stat().st_mtime > TEMPORARY_AGE:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                continue
        kept_bytes = 0
        for index, (mtime, size, path) in enumerate(entries):
            kept_bytes += size
            too_many = index >= self.max_entries or (index > 0 and kept_bytes > self.max_bytes)
            if now - mtime > self.max_age or too_many:
                logger.debug("removing baseline file %s", path.name)
                path.unlink(missing_ok=True)


def sandbox_fingerprint() -> str:
    """Return a SHA-256 of the sandbox's own plugin and parser sources."""
    digest = hashlib.sha256()
    for name in _SANDBOX_SOURCES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()


def _plain(key: Mapping[str, Any]) -> Any:
    """Return ``key`` as it reads back from JSON, so that a stored key compares equal."""
    return json.loads(json.dumps(key, sort_keys=True))


def _baseline_to_dict(baseline: Baseline) -> dict[str, Any]:
    run = baseline.run
    return {
        "flaky": sorted(baseline.flaky),
        "runs": baseline.runs,
        "run": {
            "status": run.status.value,
            "exit_code": run.exit_code,
            "tests": [_result_to_dict(result) for result in run.tests.values()],
            "collection_errors": [_error_to_dict(error) for error in run.collection_errors],
            "running_test": run.running_test,
            "output": run.output,
            "duration": run.duration,
            "backend": run.backend,
            "detail": run.detail,
            "coverage": {
                nodeid: {path: sorted(lines) for path, lines in files.items()}
                for nodeid, files in run.coverage.items()
            },
            "coverage_truncated": run.coverage_truncated,
        },
    }


def _baseline_from_dict(data: dict[str, Any]) -> Baseline:
    run = data["run"]
    results = [_result_from_dict(item) for item in run["tests"]]
    test_run = TestRun(
        status=RunStatus(run["status"]),
        exit_code=run["exit_code"],
        tests={result.nodeid: result for result in results},
        collection_errors=tuple(_error_from_dict(item) for item in run["collection_errors"]),
        running_test=run["running_test"],
        output=str(run["output"]),
        duration=float(run["duration"]),
        backend=str(run["backend"]),
        detail=str(run["detail"]),
        coverage={
            str(nodeid): {
                str(path): frozenset(int(n) for n in lines) for path, lines in files.items()
            }
            for nodeid, files in run["coverage"].items()
        },
        coverage_truncated=bool(run["coverage_truncated"]),
    )
    return Baseline(test_run, frozenset(str(t) for t in data["flaky"]), int(data["runs"]))


def _frame_to_dict(frame: Frame) -> dict[str, Any]:
    return {
        "path": frame.path,
        "line": frame.line,
        "function": frame.function,
        "source": frame.source,
        "in_workspace": frame.in_workspace,
    }


def _frame_from_dict(data: dict[str, Any]) -> Frame:
    return Frame(
        str(data["path"]),
        int(data["line"]),
        str(data["function"]),
        str(data["source"]),
        bool(data["in_workspace"]),
    )


def _result_to_dict(result: TestResult) -> dict[str, Any]:
    return {
        "nodeid": result.nodeid,
        "outcome": result.outcome.value,
        "phase": result.phase,
        "duration": result.duration,
        "exc_type": result.exc_type,
        "message": result.message,
        "frames": [_frame_to_dict(frame) for frame in result.frames],
        "longrepr": result.longrepr,
    }


def _result_from_dict(data: dict[str, Any]) -> TestResult:
    return TestResult(
        nodeid=str(data["nodeid"]),
        outcome=Outcome(data["outcome"]),
        phase=str(data["phase"]),
        duration=float(data["duration"]),
        exc_type=data["exc_type"],
        message=str(data["message"]),
        frames=tuple(_frame_from_dict(item) for item in data["frames"]),
        longrepr=str(data["longrepr"]),
    )


def _error_to_dict(error: CollectionError) -> dict[str, Any]:
    return {
        "nodeid": error.nodeid,
        "exc_type": error.exc_type,
        "message": error.message,
        "frames": [_frame_to_dict(frame) for frame in error.frames],
        "longrepr": error.longrepr,
    }


def _error_from_dict(data: dict[str, Any]) -> CollectionError:
    return CollectionError(
        nodeid=str(data["nodeid"]),
        exc_type=data["exc_type"],
        message=str(data["message"]),
        frames=tuple(_frame_from_dict(item) for item in data["frames"]),
        longrepr=str(data["longrepr"]),
    )
