"""Running a program's command in a sandbox, and the crash record the bootstrap writes.

A supervised program runs under ``sandbox/bootstrap.py``, on the host and in
the sandbox alike, so a crash is read from the same JSON record in both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sandbox.results import Frame

logger = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
BOOTSTRAP_NAME = "agentos_bootstrap.py"  # its name in a sandbox, unlikely to clash with a module
CRASH_FILE_VARIABLE = "AGENTOS_CRASH_FILE"
ROOT_VARIABLE = "AGENTOS_CRASH_ROOT"


@dataclass(frozen=True)
class CommandPlan:
    """A program to run in a sandbox under the bootstrap."""

    arguments: tuple[str, ...]  # what follows the interpreter: SCRIPT ARGS or -m MODULE ARGS
    cwd: str = ""  # working folder, relative to the repository root
    environment: Mapping[str, str] = field(default_factory=dict)  # variables allowed by name
    timeout: float = 60.0  # seconds; a program still running then has not crashed


@dataclass(frozen=True)
class CrashFrame(Frame):
    """A traceback frame of a crash, with a summary of its local variables."""

    variables: tuple[tuple[str, str], ...] = ()  # (name, repr), secrets redacted


@dataclass(frozen=True)
class CrashRecord:
    """An uncaught exception as the bootstrap recorded it, frames innermost last."""

    exc_type: str
    message: str
    frames: tuple[CrashFrame, ...] = ()


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None when the program was killed at the deadline
    timed_out: bool
    crash: CrashRecord | None
    output: str  # standard output and error, truncated
    duration: float = 0.0


def working_folder(cwd: str) -> str:
    """Return ``cwd`` as a clean relative POSIX path ("" for the root); reject one that escapes.

    A plan's working folder is relative to the repository root, and a
    sandbox must not start its program outside its workspace.
    """
    path = PurePosixPath(cwd.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(
            f"the command's working folder {cwd!r} is not inside the repository; "
            "give a path relative to the repository root, without '..'"
        )
    return "" if str(path) == "." else str(path)


def parse_crash(text: str) -> CrashRecord | None:
    """Parse a crash record; return None for an empty or unreadable one."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
        frames = tuple(
            CrashFrame(
                path=str(entry["path"]),
                line=int(entry["line"]),
                function=str(entry["function"]),
                source=str(entry.get("source", "")),
                in_workspace=bool(entry.get("in_workspace", False)),
                variables=tuple((str(k), str(v)) for k, v in entry.get("locals", {}).items()),
            )
            for entry in data.get("frames", [])
        )
        return CrashRecord(str(data["exc_type"]), str(data.get("message", "")), frames)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        logger.warning("ignoring an unreadable crash record: %s", error)
        return None
