"""``agentos watch`` run as a real process: its JSON stream, and Ctrl-C in the middle of a check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker
import pytest

from kernel.gitops import TOOL_EMAIL
from sandbox.docker_backend import PID_LABEL
from tests.conftest import git

# The subprocess starts here, so it runs this checkout's code and not the installed copy.
WORKTREE_ROOT = Path(__file__).resolve().parents[2]

# The kinds documented on kernel.watch_events.Event.
EVENT_KINDS = {
    "start",
    "change",
    "ignored",
    "checks",
    "fault",
    "skip",
    "heal",
    "candidate",
    "blocked",
    "commit",
    "revert",
    "outcome",
    "branch",
    "anomaly",
    "stop",
    "error",
}

GOOD_CALC = """import math


def double(x):
    return x * 2


def area(r):
    return math.pi * r * r
"""

BROKEN_CALC = GOOD_CALC.replace("import math\n\n\n", "")

TEST_CALC = """from calc import area, double


def test_double():
    assert double(2) == 4


def test_area():
    assert round(area(1), 2) == 3.14
"""

# Sleeps once calc.py sets DELAY, so an edit can make a check run last.
DELAYED_TEST = """import time

import calc


def test_double():
    assert calc.double(2) == 4


def test_wait():
    time.sleep(getattr(calc, "DELAY", 0))
"""

# Sleeps only on code where calc imports math, that is on a candidate fix.
SLOW_ONCE_FIXED_TEST = (
    TEST_CALC
    + """

def test_wait():
    import time

    import calc

    time.sleep(30 if hasattr(calc, "math") else 0)
"""
)


class Watch:
    """An ``agentos watch`` process whose standard output is read line by line as it comes."""

    def __init__(self, root: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kernel.cli", "watch", str(root), "--json", *options],
            cwd=WORKTREE_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        self.lines: list[str] = []
        self.stderr_lines: list[str] = []
        # Both pipes are drained as they fill, so the process never blocks on a full one.
        self._readers = [
            threading.Thread(target=_drain, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.lines),
                (self.process.stderr, self.stderr_lines),
            )
        ]
        for reader in self._readers:
            reader.start()

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def kinds(self) -> list[str]:
        kinds = []
        for line in list(self.lines):
            try:
                kinds.append(json.loads(line).get("kind"))
            except json.JSONDecodeError:
                kinds.append(None)
        return kinds

    def wait_for(self, kind: str, count: int = 1, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while self.kinds().count(kind) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"no {kind!r} event; events so far: {self.kinds()}\n{self.stderr}")
            time.sleep(0.1)

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.stop()

    def stop(self) -> int:
        """Wait for the process to end (killing it when it hangs); return its exit code."""
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            pytest.fail(f"agentos watch did not stop within 60 s:\n{self.stderr}")
        for reader in self._readers:
            reader.join(10)
        return self.process.returncode


def _drain(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def snapshot_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".agentos" not in path.parts
    }


def sandbox_containers(pid: int, running_only: bool = False) -> list:
    """Return the sandbox containers created by process ``pid``; other tests may run their own."""
    client = docker.from_env()
    try:
        return client.containers.list(all=not running_only, filters={"label": f"{PID_LABEL}={pid}"})
    finally:
        client.close()


def wait_for_sandbox_container(watch: Watch, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not sandbox_containers(watch.process.pid, running_only=True):
        if watch.process.poll() is not None or time.monotonic() > deadline:
            watch.stop()
            pytest.fail(f"no sandbox container appeared; events: {watch.kinds()}\n{watch.stderr}")
        time.sleep(0.2)


def assert_left_clean(root: Path, pid: int) -> None:
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (root / ".agentos" / "lock").exists()
    assert sandbox_containers(pid) == []


def test_json_stream_reports_heal(make_repo):
    root = make_repo({"calc.py": GOOD_CALC, "tests/test_calc.py": TEST_CALC})
    watch = Watch(
        root,
        *("--provider", "offline", "--sandbox", "local", "--test-timeout", "120"),
        *("--debounce-ms", "100", "--quiet-seconds", "0.5", "--max-cycles", "10"),
    )
    watch.wait_for("checks")

    # The user commits code that lost its import: a fault in HEAD, healed on main.
    (root / "calc.py").write_text(BROKEN_CALC)
    git(root, "commit", "-q", "-am", "drop an import")
    # "commit" marks the start of the commit stage; "outcome" follows once the
    # fix is committed and verified, so the interrupt cannot cut it short.
    watch.wait_for("commit")
    watch.wait_for("outcome")
    exit_code = watch.interrupt()

    records = [json.loads(line) for line in watch.lines]
    kinds = [record["kind"] for record in records]
    assert exit_code == 130, watch.stderr
    assert set(kinds) <= EVENT_KINDS
    assert {"start", "change", "checks", "fault", "heal", "commit", "stop"} <= set(kinds)
    assert kinds[0] == "start"
    assert kinds[-1] == "stop"
    assert all(isinstance(record["time"], float) for record in records)
    assert git(root, "log", "-1", "--format=%ae").strip() == TOOL_EMAIL
    assert (root / "calc.py").read_text() == GOOD_CALC


@pytest.mark.docker
def test_interrupt_during_check_leaves_nothing(make_repo, docker_image):
    root = make_repo({"calc.py": GOOD_CALC, "tests/test_calc.py": DELAYED_TEST})
    watch = Watch(
        root,
        *("--provider", "offline", "--sandbox", "docker", "--image", docker_image),
        *("--debounce-ms", "100", "--quiet-seconds", "60"),
    )
    watch.wait_for("checks")

    (root / "calc.py").write_text(GOOD_CALC + "\nDELAY = 60\n")
    (root / "notes.txt").write_text("untracked notes\n")
    files_before = snapshot_files(root)
    head_before = git(root, "rev-parse", "HEAD")
    wait_for_sandbox_container(watch)
    exit_code = watch.interrupt()

    assert exit_code == 130, watch.stderr
    assert "interrupted" in watch.stderr
    assert json.loads(watch.lines[-1])["kind"] == "stop"
    assert snapshot_files(root) == files_before
    assert git(root, "rev-parse", "HEAD") == head_before
    assert_left_clean(root, watch.process.pid)


@pytest.mark.docker
def test_interrupt_during_branch_heal_leaves_nothing(make_repo, docker_image):
    root = make_repo(
        {"calc.py": BROKEN_CALC, "tests/test_calc.py": SLOW_ONCE_FIXED_TEST, "notes.md": "a\n"}
    )
    (root / "notes.md").write_text("a\nuncommitted line\n")
    files_before = snapshot_files(root)
    head_before = git(root, "rev-parse", "HEAD")
    watch = Watch(
        root,
        *("--provider", "offline", "--sandbox", "docker", "--image", docker_image),
        *("--debounce-ms", "100", "--quiet-seconds", "0.5"),
    )
    watch.wait_for("branch")
    wait_for_sandbox_container(watch)
    exit_code = watch.interrupt()

    branch = json.loads(next(line for line in watch.lines if '"branch"' in line))["branch"]
    assert exit_code == 130, watch.stderr
    assert snapshot_files(root) == files_before
    assert git(root, "rev-parse", "HEAD") == head_before
    assert_left_clean(root, watch.process.pid)
    # The fix branch may be left, made before the interrupt, but contains no commit.
    if branch in git(root, "branch", "--list"):
        assert git(root, "rev-list", f"{head_before.strip()}..{branch}") == ""
