"""The local backend: the same runs as in Docker, in a temporary folder on the host."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import local_backend
from sandbox.backend import RunPlan
from sandbox.local_backend import LocalBackend
from sandbox.results import Outcome, RunStatus
from sandbox.workspace import Snapshot

MakeSnapshot = Callable[[dict[str, str]], Snapshot]


@pytest.fixture
def make_snapshot(make_repo: Callable[[dict[str, str]], Path]) -> MakeSnapshot:
    """Commit ``files`` to a new repository and snapshot it with git archive."""

    def create(files: dict[str, str]) -> Snapshot:
        repo = make_repo({path: textwrap.dedent(text) for path, text in files.items()})
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
        )
        return Snapshot(archive.stdout)

    return create


def test_passing_suite(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "app/__init__.py": "",
            "app/calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": """\
                from app.calc import add

                def test_add():
                    assert add(1, 2) == 3
                """,
        }
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.backend == "local"
    assert run.exit_code == 0
    assert run.passed() == {"tests/test_calc.py::test_add"}
    assert "1 passed" in run.output


def test_failing_test_frames(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "app/parse.py": "def port(text):\n    return int(text.split(':')[1])\n",
            "tests/test_parse.py": """\
                from app.parse import port

                def test_port_missing():
                    assert port("localhost") == 80
                """,
        }
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    result = run.tests["tests/test_parse.py::test_port_missing"]
    assert result.outcome is Outcome.FAILED
    assert result.exc_type == "IndexError"
    assert result.message == "list index out of range"
    assert [(f.path, f.line, f.function) for f in result.frames] == [
        ("tests/test_parse.py", 4, "test_port_missing"),
        ("app/parse.py", 2, "port"),
    ]
    assert result.frames[1].source == "return int(text.split(':')[1])"


def test_failing_target_skips_suite(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_target.py": "def test_target():\n    assert [] == [1]\n",
            "tests/test_other.py": "def test_other():\n    pass\n",
        }
    )
    plan = RunPlan(targets=("tests/test_target.py::test_target",), timeout=60)

    run = LocalBackend().run(snapshot, plan)

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.tests["tests/test_target.py::test_target"].outcome is Outcome.FAILED
    assert "tests/test_other.py::test_other" not in run.tests
    assert "suite phase did not run" in run.detail


def test_collection_error_keeps_suite(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_broken.py": "def test_broken(:\n    pass\n",
            "tests/test_fine.py": "def test_fine():\n    pass\n",
        }
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert [error.nodeid for error in run.collection_errors] == ["tests/test_broken.py"]
    assert run.collection_errors[0].exc_type == "SyntaxError"
    assert run.passed() == {"tests/test_fine.py::test_fine"}


def test_targets_only_plan(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_target.py": "def test_target():\n    pass\n",
            "tests/test_other.py": "def test_other():\n    pass\n",
        }
    )
    plan = RunPlan(targets=("tests/test_target.py",), full_suite=False, timeout=60)

    run = LocalBackend().run(snapshot, plan)

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_target.py::test_target"}
    assert run.detail == ""


def test_empty_plan_rejected(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot({"tests/test_a.py": "def test_a():\n    pass\n"})

    with pytest.raises(ValueError, match="nothing to run"):
        LocalBackend().run(snapshot, RunPlan(targets=(), full_suite=False))


def test_hang_kills_process_group(make_snapshot: MakeSnapshot, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    snapshot = make_snapshot(
        {
            "tests/test_hang.py": f"""\
                import subprocess
                import sys
                import time

                def test_hang():
                    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
                    open({str(pid_file)!r}, "w").write(str(child.pid))
                    time.sleep(600)
                """,
        }
    )

    run = LocalBackend(bubblewrap=False).run(snapshot, RunPlan(timeout=5))

    assert run.status is RunStatus.TIMED_OUT
    assert run.running_test == "tests/test_hang.py::test_hang"
    assert run.tests["tests/test_hang.py::test_hang"].outcome is Outcome.ERROR
    assert not process_alive(int(pid_file.read_text()))


def process_alive(pid: int, grace: float = 10.0) -> bool:
    """Whether ``pid`` still runs after ``grace`` seconds; a zombie counts as dead.

    A process killed with SIGKILL tears down asynchronously: for a moment it
    is still in state R with its memory already released, so one look can
    catch it dying.
    """
    deadline = time.monotonic() + grace
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


def test_os_exit_crashed(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {"tests/test_exit.py": "import os\n\ndef test_exits():\n    os._exit(1)\n"}
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.CRASHED
    assert run.running_test == "tests/test_exit.py::test_exits"


def test_segfault_crashed(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {"tests/test_crash.py": "import ctypes\n\ndef test_crash():\n    ctypes.string_at(0)\n"}
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.CRASHED
    assert run.running_test == "tests/test_crash.py::test_crash"
    assert run.exit_code == 128 + 11
    assert "exit code -11" in run.detail


def test_environment_cleared(make_snapshot: MakeSnapshot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOS_TEST_SECRET", "do-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    snapshot = make_snapshot(
        {
            "tests/test_env.py": """\
                import os

                def test_secrets_absent():
                    assert "AGENTOS_TEST_SECRET" not in os.environ
                    assert "OPENAI_API_KEY" not in os.environ

                def test_home_is_temporary():
                    assert os.path.dirname(os.environ["HOME"]) == os.path.dirname(os.getcwd())
                """,
        }
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    assert run.failed() == set(), {n: r.message for n, r in run.tests.items()}
    assert len(run.passed()) == 2


def test_temporary_folder_removed(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_where.py": """\
                import os

                def test_report_cwd():
                    raise AssertionError("cwd=" + os.getcwd())
                """,
        }
    )

    run = LocalBackend().run(snapshot, RunPlan(timeout=60))

    message = run.tests["tests/test_where.py::test_report_cwd"].message
    workspace = Path(message.split("cwd=")[1].split()[0])
    assert workspace.name == "work"
    assert not workspace.parent.exists()


def test_not_isolated_from_host_loopback(make_snapshot: MakeSnapshot) -> None:
    # The counterpart of the Docker backend's network test: here the host is reachable.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    snapshot = make_snapshot(
        {
            "tests/test_net.py": f"""\
                import socket

                def test_reach_host_server():
                    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                """,
        }
    )

    try:
        run = LocalBackend(bubblewrap=False).run(snapshot, RunPlan(timeout=60))
    finally:
        server.close()

    assert LocalBackend(bubblewrap=False).isolated is False
    assert run.passed() == {"tests/test_net.py::test_reach_host_server"}


def test_warns_once_per_process(
    make_snapshot: MakeSnapshot,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_backend, "_warned_not_isolated", False)
    snapshot = make_snapshot({"tests/test_a.py": "def test_a():\n    pass\n"})
    backend = LocalBackend(bubblewrap=False)

    with caplog.at_level(logging.WARNING, logger="sandbox.local_backend"):
        backend.run(snapshot, RunPlan(timeout=60))
        LocalBackend(bubblewrap=False).run(snapshot, RunPlan(timeout=60))

    warnings = [r for r in caplog.records if "not isolated" in r.getMessage()]
    assert len(warnings) == 1


def test_output_truncated(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {"tests/test_noisy.py": "def test_noisy():\n    print('x' * 100_000)\n    assert False\n"}
    )

    run = LocalBackend(output_limit=5_000).run(snapshot, RunPlan(timeout=60))

    assert len(run.output) < 5_200
    assert "bytes cut" in run.output
    assert "1 failed" in run.output


needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"
)


@needs_bwrap
def test_bubblewrap_blocks_network(make_snapshot: MakeSnapshot) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    snapshot = make_snapshot(
        {
            "tests/test_net.py": f"""\
                import socket

                def test_reach_host_server():
                    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                """,
        }
    )
    backend = LocalBackend(bubblewrap=True)

    try:
        run = backend.run(snapshot, RunPlan(timeout=60))
    finally:
        server.close()

    assert backend.isolation == "bubblewrap"
    assert backend.isolated is True
    assert run.status is RunStatus.COMPLETED, run.detail
    reach = run.tests["tests/test_net.py::test_reach_host_server"]
    assert reach.outcome is Outcome.FAILED
    assert reach.exc_type == "ConnectionRefusedError"


@needs_bwrap
def test_bubblewrap_read_only_system(make_snapshot: MakeSnapshot, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    snapshot = make_snapshot(
        {
            "tests/test_write.py": f"""\
                from pathlib import Path

                import pytest

                def test_system_read_only():
                    with pytest.raises(OSError):
                        Path("/usr/agentos-probe").write_text("x")

                def test_host_tmp_hidden():
                    try:
                        Path({str(outside)!r}).write_text("x")
                    except OSError:
                        pass

                def test_workspace_writable():
                    Path("scratch.txt").write_text("x")
                """,
        }
    )

    run = LocalBackend(bubblewrap=True).run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.failed() == set(), {n: r.message for n, r in run.tests.items()}
    assert not outside.exists()
    assert not Path("/usr/agentos-probe").exists()


def test_rlimits_mode_reported() -> None:
    backend = LocalBackend(bubblewrap=False)

    assert backend.isolation == "rlimits"
    assert backend.isolated is False


def test_file_size_limit(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_big.py": """\
                import errno

                def test_big_file():
                    try:
                        with open("big.bin", "wb") as big:
                            big.write(b"x" * (4 * 1024 * 1024))
                    except OSError as error:
                        assert error.errno == errno.EFBIG
                        return
                    raise AssertionError("wrote 4 MB past a 1 MB limit")
                """,
        }
    )

    run = LocalBackend(bubblewrap=False, file_size=1024 * 1024).run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_big.py::test_big_file"}, run.output[-2000:]


def test_memory_limit_raises(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_memory.py": """\
                import pytest

                def test_allocate():
                    with pytest.raises(MemoryError):
                        bytearray(2 * 1024**3)
                """,
        }
    )

    backend = LocalBackend(bubblewrap=False, memory=1024**3)
    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_memory.py::test_allocate"}, run.output[-2000:]
