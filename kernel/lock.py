"""One writer per repository: a lock file under ``.agentos/`` that names its holder.

The lock is a file created with O_CREAT | O_EXCL, so only one process can create
it, holding JSON with the holder's pid, hostname and start time. A lock left
behind by a process that died (same host, the pid no longer exists) is taken
over with a warning. A lock from another host is never taken over, because the
pid cannot be checked from here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from kernel.errors import LockedError

logger = logging.getLogger(__name__)

LOCK_FILE = Path(".agentos") / "lock"


class RepositoryLock:
    """Context manager that holds ``ROOT/.agentos/lock`` for the duration of a ``with`` block.

    Raises LockedError on entry when a live process holds the lock. The lock is
    not reentrant: a second RepositoryLock on the same root in the same process
    raises LockedError too.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / LOCK_FILE
        self._holder: dict[str, object] | None = None  # what we wrote, while we hold the lock

    def __enter__(self) -> RepositoryLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Create the lock file, taking over a stale one. Raises LockedError if it is held."""
        self.path.parent.mkdir(exist_ok=True)
        holder: dict[str, object] = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

        # Two rounds: the second follows the removal of a stale lock.
        for _ in range(2):
            if self._create(holder):
                self._holder = holder
                logger.debug("acquired %s", self.path)
                return
            existing = self._read()
            if existing is None:
                continue  # removed between our attempt and our read; try again
            self._raise_unless_stale(existing)
            self._remove_stale(existing)
        raise LockedError(
            f"cannot acquire {self.path}: another process keeps creating it. "
            "Wait for the other agentos run to finish, then try again."
        )

    def release(self) -> None:
        """Remove the lock file, unless another process has replaced it since."""
        holder, self._holder = self._holder, None
        if holder is None or holder["pid"] != os.getpid():
            return  # never acquired, or this is a forked child of the holder
        try:
            current = self._read()
        except LockedError as error:
            logger.warning("not removing %s: %s", self.path, error)
            return
        if current != holder:
            logger.warning(
                "not removing %s: it no longer contains this process's lock (%s)",
                self.path,
                current,
            )
            return
        self.path.unlink(missing_ok=True)
        logger.debug("released %s", self.path)

    def _create(self, holder: dict[str, object]) -> bool:
        """Create the lock file with ``holder`` in it; return False if it already exists."""
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump(holder, stream)
        except BaseException:
            # A half-written lock would block every later run, so remove it before re-raising.
            self.path.unlink(missing_ok=True)
            raise
        return True

    def _read(self) -> dict[str, object] | None:
        """Return the lock's JSON, or None if the file is gone. Raises LockedError if unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            content = json.loads(text)
        except json.JSONDecodeError:
            content = None
        pid = content.get("pid") if isinstance(content, dict) else None
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            # An empty file is also what another process holds for the instant
            # between creating the lock and writing its JSON.
            raise LockedError(
                f"{self.path} exists but does not name the process holding it ({text[:80]!r}). "
                f"If no agentos run is active in this repository, delete {self.path} and try again."
            )
        return content

    def _raise_unless_stale(self, existing: dict[str, object]) -> None:
        """Raise LockedError unless ``existing`` names a dead process on this host."""
        pid = existing["pid"]
        assert isinstance(pid, int)  # checked by _read
        hostname = existing.get("hostname")
        started = existing.get("started", "an unknown time")

        if hostname == socket.gethostname() and not process_exists(pid):
            return
        where = "this host" if hostname == socket.gethostname() else f"host {hostname}"
        raise LockedError(
            f"{self.path} is held by pid {pid} on {where}, started at {started}. "
            f"Wait for that agentos run to finish; if it is no longer running, delete {self.path}.",
            pid=pid,
        )

    def _remove_stale(self, existing: dict[str, object]) -> None:
        """Delete the stale lock ``existing``, unless another process replaced it first.

        A second file created with O_EXCL guards the check and the removal, so of
        two processes that found the same stale lock, the second one re-reads the
        lock after the first has replaced it and finds the new holder.
        """
        guard = self.path.with_name(self.path.name + ".takeover")
        try:
            descriptor = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError as error:
            raise LockedError(
                f"another process is taking over the stale lock {self.path} right now. "
                f"Try again; if this persists and no agentos run is active, delete {guard}.",
                pid=None,
            ) from error
        os.close(descriptor)
        try:
            if self._read() == existing:
                logger.warning(
                    "taking over stale lock %s of pid %s, which no longer runs",
                    self.path,
                    existing["pid"],
                )
                self.path.unlink(missing_ok=True)
        finally:
            guard.unlink(missing_ok=True)


def process_exists(pid: int) -> bool:
    """Return whether a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, but belongs to another user
    return True
