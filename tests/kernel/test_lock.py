"""RepositoryLock with real processes: a live holder, a dead holder, and release."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.errors import LockedError
from kernel.lock import RepositoryLock

# A child process that takes the lock, reports it, and holds it until its stdin closes.
HOLDER_SCRIPT = """
import sys
from pathlib import Path
from kernel.lock import RepositoryLock

with RepositoryLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def write_lock(root: Path, pid: int, hostname: str | None = None) -> Path:
    path = root / ".agentos" / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = {
        "pid": pid,
        "hostname": hostname or socket.gethostname(),
        "started": "2024-01-01T00:00:00+00:00",
    }
    path.write_text(json.dumps(holder))
    return path


def dead_pid() -> int:
    """Return the pid of a process that has finished and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert process.wait() == 0
    return process.pid


def start_holder(root: Path) -> subprocess.Popen[str]:
    """Start a process that holds the lock of ``root``; return once it holds it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "locked\n"
    return process


def stop_holder(process: subprocess.Popen[str]) -> int:
    """Close the holder's stdin so it releases the lock; return its exit status."""
    process.communicate()
    return process.returncode


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = start_holder(tmp_path)
    yield process
    stop_holder(process)


def test_lock_file_names_this_process(tmp_path: Path) -> None:
    with RepositoryLock(tmp_path) as lock:
        content = json.loads(lock.path.read_text())
    assert content["pid"] == os.getpid()
    assert content["hostname"] == socket.gethostname()
    assert "started" in content


def test_lock_held_by_other_process(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockedError, match=f"held by pid {holder.pid} on this host") as raised:
        with RepositoryLock(tmp_path):
            pass
    assert raised.value.pid == holder.pid
    assert (tmp_path / ".agentos" / "lock").exists()


def test_lock_released_when_holder_exits(tmp_path: Path) -> None:
    process = start_holder(tmp_path)
    assert stop_holder(process) == 0

    assert not (tmp_path / ".agentos" / "lock").exists()
    with RepositoryLock(tmp_path):
        pass


def test_lock_second_holder_in_same_process(tmp_path: Path) -> None:
    with RepositoryLock(tmp_path):
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
            RepositoryLock(tmp_path).acquire()


def test_lock_stale_taken_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pid = dead_pid()
    path = write_lock(tmp_path, pid)

    with caplog.at_level(logging.WARNING, logger="kernel.lock"):
        with RepositoryLock(tmp_path):
            assert json.loads(path.read_text())["pid"] == os.getpid()

    assert f"pid {pid}" in caplog.text
    assert "stale" in caplog.text
    assert not path.exists()
    assert not path.with_name("lock.takeover").exists()


def test_lock_other_host_not_taken_over(tmp_path: Path) -> None:
    path = write_lock(tmp_path, dead_pid(), hostname="another-machine.example")
    with pytest.raises(LockedError, match="host another-machine.example"):
        RepositoryLock(tmp_path).acquire()
    assert path.exists()


def test_lock_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / ".agentos" / "lock"
    path.parent.mkdir()
    path.write_text("not json")
    with pytest.raises(LockedError, match="delete .*lock") as raised:
        RepositoryLock(tmp_path).acquire()
    assert raised.value.pid is None


def test_lock_removed_after_exit(tmp_path: Path) -> None:
    with RepositoryLock(tmp_path) as lock:
        assert lock.path.exists()
    assert not lock.path.exists()


def test_lock_removed_after_error(tmp_path: Path) -> None:
    lock = RepositoryLock(tmp_path)
    with pytest.raises(RuntimeError), lock:
        raise RuntimeError("heal failed")
    assert not lock.path.exists()


def test_lock_not_ours_left_alone(tmp_path: Path) -> None:
    with RepositoryLock(tmp_path) as lock:
        replaced = write_lock(tmp_path, os.getppid())
    assert replaced == lock.path
    assert json.loads(lock.path.read_text())["pid"] == os.getppid()
