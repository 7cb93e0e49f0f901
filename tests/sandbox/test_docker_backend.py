"""The Docker backend against the real daemon and the sandbox image."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from sandbox.backend import RunPlan
from sandbox.docker_backend import (
    HOST_LABEL,
    PID_LABEL,
    SANDBOX_LABEL,
    DockerBackend,
    _reason,
    docker_available,
    sweep_leftovers,
)
from sandbox.errors import BackendUnavailable
from sandbox.results import Outcome, RunStatus
from sandbox.workspace import Snapshot

pytestmark = pytest.mark.docker

MakeSnapshot = Callable[[dict[str, str]], Snapshot]


def our_containers(client: docker.DockerClient) -> list[Container]:
    """Sandbox containers created by this test process."""
    label_filter = [f"{SANDBOX_LABEL}=1", f"{PID_LABEL}={os.getpid()}"]
    return client.containers.list(all=True, filters={"label": label_filter})


@pytest.fixture
def client(docker_image: str) -> Iterator[docker.DockerClient]:
    connection = docker.from_env()
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def no_leftovers(client: docker.DockerClient) -> Iterator[None]:
    yield
    assert our_containers(client) == [], "a sandbox container was left behind"


@pytest.fixture
def backend(docker_image: str) -> Iterator[DockerBackend]:
    sandbox = DockerBackend(docker_image)
    yield sandbox
    sandbox.close()


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


def test_passing_suite(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "app/__init__.py": "",
            "app/calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": """\
                from app.calc import add

                def test_add():
                    assert add(2, 3) == 5

                def test_add_negative():
                    assert add(-1, 1) == 0
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.exit_code == 0
    assert run.backend == "docker"
    assert run.passed() == {"tests/test_calc.py::test_add", "tests/test_calc.py::test_add_negative"}
    assert "2 passed" in run.output


def test_failing_test_frames(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "app/calc.py": "def mean(values):\n    return sum(values) / len(values)\n",
            "tests/test_calc.py": """\
                from app.calc import mean

                def test_mean_empty():
                    assert mean([]) == 0
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    result = run.tests["tests/test_calc.py::test_mean_empty"]
    assert result.outcome is Outcome.FAILED
    assert result.exc_type == "ZeroDivisionError"
    assert result.message == "division by zero"
    innermost = result.frames[-1]
    assert innermost.path == "app/calc.py"
    assert innermost.line == 2
    assert innermost.function == "mean"
    assert innermost.source == "return sum(values) / len(values)"
    assert innermost.in_workspace


def test_failing_target_skips_suite(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_target.py": "def test_target():\n    assert 'a' == 'b'\n",
            "tests/test_other.py": "def test_other():\n    pass\n",
        }
    )
    plan = RunPlan(targets=("tests/test_target.py::test_target",), full_suite=True, timeout=60)

    run = backend.run(snapshot, plan)

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.tests["tests/test_target.py::test_target"].outcome is Outcome.FAILED
    assert "tests/test_other.py::test_other" not in run.tests
    assert "suite phase did not run" in run.detail


def test_passing_target_then_suite(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_target.py": "def test_target():\n    pass\n",
            "tests/test_other.py": "def test_other():\n    raise KeyError('missing')\n",
        }
    )
    plan = RunPlan(targets=("tests/test_target.py::test_target",), full_suite=True, timeout=60)

    run = backend.run(snapshot, plan)

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_target.py::test_target"}
    assert run.failed() == {"tests/test_other.py::test_other"}
    assert run.exit_code == 1


def test_hang_killed_at_deadline(
    backend: DockerBackend, make_snapshot: MakeSnapshot, client: docker.DockerClient
) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_hang.py": """\
                import time

                def test_quick():
                    pass

                def test_hang():
                    time.sleep(600)
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=5))

    assert run.status is RunStatus.TIMED_OUT
    assert run.running_test == "tests/test_hang.py::test_hang"
    assert run.exit_code == 124  # the driver killed pytest at the deadline
    assert "deadline of 5 s" in run.detail
    assert run.tests["tests/test_hang.py::test_quick"].outcome is Outcome.PASSED
    assert run.tests["tests/test_hang.py::test_hang"].outcome is Outcome.ERROR
    assert our_containers(client) == []


def test_os_exit_crashed(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_exit.py": """\
                import os

                def test_exits():
                    os._exit(3)
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.CRASHED
    assert run.running_test == "tests/test_exit.py::test_exits"
    assert "tests/test_exit.py::test_exits" in run.detail


def test_memory_limit_kills(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_memory.py": """\
                def test_allocate():
                    blocks = [bytearray(64 * 1024 * 1024) for _ in range(16)]
                    assert len(blocks) == 16
                """,
        }
    )
    sandbox = DockerBackend(docker_image, memory="128m")
    try:
        run = sandbox.run(snapshot, RunPlan(timeout=60))
    finally:
        sandbox.close()

    assert run.status is RunStatus.CRASHED
    assert run.running_test == "tests/test_memory.py::test_allocate"
    assert "out of memory (limit 128m)" in run.detail


def test_process_limit(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_threads.py": """\
                import threading

                def test_many_threads():
                    stop = threading.Event()
                    started = []
                    try:
                        for _ in range(200):
                            thread = threading.Thread(target=stop.wait)
                            thread.start()
                            started.append(thread)
                    except RuntimeError:
                        return
                    finally:
                        stop.set()
                    raise AssertionError(f"started {len(started)} threads")
                """,
        }
    )
    sandbox = DockerBackend(docker_image, pids=64)
    try:
        run = sandbox.run(snapshot, RunPlan(timeout=60))
    finally:
        sandbox.close()

    assert run.passed() == {"tests/test_threads.py::test_many_threads"}, run.output[-2000:]


def test_collection_error_reported(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_broken.py": "import requests_not_installed\n",
            "tests/test_fine.py": "def test_fine():\n    pass\n",
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert [error.nodeid for error in run.collection_errors] == ["tests/test_broken.py"]
    assert run.collection_errors[0].exc_type == "ModuleNotFoundError"
    # The rest of the suite still runs.
    assert run.passed() == {"tests/test_fine.py::test_fine"}


def test_no_network_inside(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    # A server on the host's loopback: reachable from any process on the host,
    # but not from a container whose only interface is its own loopback.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    snapshot = make_snapshot(
        {
            "tests/test_network.py": f"""\
                import os
                import socket

                def test_interfaces():
                    assert sorted(os.listdir("/sys/class/net")) == ["lo"]

                def test_reach_host_server():
                    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                """,
        }
    )

    try:
        run = backend.run(snapshot, RunPlan(timeout=60))
    finally:
        server.close()

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.tests["tests/test_network.py::test_interfaces"].outcome is Outcome.PASSED
    reach = run.tests["tests/test_network.py::test_reach_host_server"]
    assert reach.outcome is Outcome.FAILED
    assert reach.exc_type == "ConnectionRefusedError"


def test_runs_unprivileged(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_user.py": """\
                import os

                def test_uid():
                    assert os.getuid() == 1000
                    assert os.getgid() == 1000

                def test_no_capabilities():
                    status = open("/proc/self/status").read()
                    effective = [l for l in status.splitlines() if l.startswith("CapEff:")][0]
                    assert int(effective.split()[1], 16) == 0

                def test_cannot_write_system():
                    try:
                        open("/etc/agentos-probe", "w")
                    except OSError:  # read-only file system, or no permission
                        return
                    raise AssertionError("wrote into /etc")
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.failed() == set(), {n: r.message for n, r in run.tests.items()}
    assert len(run.passed()) == 3


def test_repository_not_mounted(
    backend: DockerBackend,
    make_repo: Callable[[dict[str, str]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTOS_TEST_SECRET", "do-not-leak")
    probe = """\
        import os
        from pathlib import Path

        HOST_REPO = {repo!r}

        def test_copy_only():
            assert Path.cwd() == Path("/work")
            assert not Path(HOST_REPO).exists()
            Path("written-inside.txt").write_text("x")
            Path("tests/test_probe.py").write_text("# overwritten inside")

        def test_environment_clean():
            assert "AGENTOS_TEST_SECRET" not in os.environ
            assert os.environ["HOME"] == "/tmp"
        """
    repo = make_repo({"tests/test_probe.py": "placeholder\n"})
    (repo / "tests" / "test_probe.py").write_text(textwrap.dedent(probe.format(repo=str(repo))))
    subprocess.run(["git", "commit", "-qam", "probe"], cwd=repo, check=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
    )
    before = (repo / "tests" / "test_probe.py").read_text()

    run = backend.run(Snapshot(archive.stdout), RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.failed() == set(), {n: r.message for n, r in run.tests.items()}
    assert len(run.passed()) == 2
    assert not (repo / "written-inside.txt").exists()
    assert (repo / "tests" / "test_probe.py").read_text() == before


def test_overlay_applied(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "app.py": "def answer():\n    return 41\n",
            "tests/test_app.py": """\
                from app import answer

                def test_answer():
                    assert answer() == 42
                """,
        }
    )
    target = "tests/test_app.py::test_answer"

    before = backend.run(snapshot, RunPlan(targets=(target,), timeout=60))
    after = backend.run(
        snapshot.with_overlay({"app.py": b"def answer():\n    return 42\n"}),
        RunPlan(targets=(target,), timeout=60),
    )

    assert before.tests[target].outcome is Outcome.FAILED
    assert after.tests[target].outcome is Outcome.PASSED


def test_interrupt_removes_container(
    backend: DockerBackend, make_snapshot: MakeSnapshot, client: docker.DockerClient
) -> None:
    snapshot = make_snapshot(
        {"tests/test_hang.py": "import time\n\ndef test_hang():\n    time.sleep(600)\n"}
    )

    def interrupt_when_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(c.status == "running" for c in our_containers(client)):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=interrupt_when_running, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        backend.run(snapshot, RunPlan(timeout=60))
    watcher.join()

    assert our_containers(client) == []


def test_sweep_removes_orphans_only(client: docker.DockerClient, docker_image: str) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    host = socket.gethostname()

    def create(pid: int) -> Container:
        labels = {SANDBOX_LABEL: "1", PID_LABEL: str(pid), HOST_LABEL: host}
        return client.containers.create(docker_image, command=["true"], labels=labels)

    orphan = create(finished.pid)
    ours = create(os.getpid())
    try:
        removed = sweep_leftovers()
        remaining = {container.id for container in client.containers.list(all=True)}
    finally:
        for container in (orphan, ours):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass

    assert removed >= 1
    assert orphan.id not in remaining
    assert ours.id in remaining


def test_availability_reports_missing_image(docker_image: str) -> None:
    assert docker_available(docker_image) is None

    problem = docker_available("agentos-sandbox:no-such-tag")

    assert problem is not None
    assert "not found" in problem
    assert "build-base.sh" in problem


def test_missing_image_raises_unavailable(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    sandbox = DockerBackend("agentos-sandbox:no-such-tag")
    try:
        with pytest.raises(BackendUnavailable, match="build-base.sh"):
            sandbox.run(make_snapshot({"tests/test_a.py": "def test_a():\n    pass\n"}), RunPlan())
    finally:
        sandbox.close()


def test_segfault_names_test(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_crash.py": """\
                import ctypes

                def test_fine():
                    pass

                def test_crash():
                    ctypes.string_at(0)
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.CRASHED
    assert run.running_test == "tests/test_crash.py::test_crash"
    assert "tests/test_crash.py::test_crash" in run.detail
    assert run.tests["tests/test_crash.py::test_crash"].outcome is Outcome.ERROR
    assert run.tests["tests/test_crash.py::test_fine"].outcome is Outcome.PASSED


def test_fork_bomb_contained(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_bomb.py": """\
                import os

                def test_bomb():
                    while True:
                        try:
                            os.fork()
                        except OSError:
                            pass
                """,
        }
    )
    sandbox = DockerBackend(docker_image, pids=64)
    try:
        run = sandbox.run(snapshot, RunPlan(timeout=8))
    finally:
        sandbox.close()

    assert run.status is RunStatus.TIMED_OUT, run.detail
    assert run.running_test == "tests/test_bomb.py::test_bomb"
    assert run.tests["tests/test_bomb.py::test_bomb"].outcome is Outcome.ERROR


def test_frozen_driver_host_deadline(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    # Stopping the driver defeats the deadline inside the container, so only
    # the host's deadline can end this run.
    snapshot = make_snapshot(
        {
            "tests/test_freeze.py": """\
                import os
                import signal
                import time

                def test_freeze_driver():
                    os.kill(os.getppid(), signal.SIGSTOP)
                    time.sleep(600)
                """,
        }
    )
    sandbox = DockerBackend(docker_image, host_grace=3)
    try:
        run = sandbox.run(snapshot, RunPlan(timeout=3))
    finally:
        sandbox.close()

    assert run.status is RunStatus.TIMED_OUT
    assert run.exit_code is None
    assert run.running_test == "tests/test_freeze.py::test_freeze_driver"
    assert "deadline of 3 s" in run.detail


def test_writes_outside_workspace_fail(backend: DockerBackend, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_write.py": """\
                import errno
                from pathlib import Path

                import pytest

                @pytest.mark.parametrize("folder", ["/var/tmp", "/usr/lib", "/opt", "/"])
                def test_read_only(folder):
                    with pytest.raises(OSError) as caught:
                        (Path(folder) / "agentos-probe").write_text("x")
                    assert caught.value.errno in (errno.EROFS, errno.EACCES)

                def test_workspace_writable():
                    Path("scratch.txt").write_text("x")
                    assert Path("/work/scratch.txt").read_text() == "x"

                def test_tmp_writable(tmp_path):
                    (tmp_path / "a.txt").write_text("x")
                """,
        }
    )

    run = backend.run(snapshot, RunPlan(timeout=60))

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.failed() == set(), {n: r.message for n, r in run.tests.items()}
    assert len(run.passed()) == 6


def test_workspace_size_limited(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot(
        {
            "tests/test_fill.py": """\
                import errno

                def test_fill_workspace():
                    chunk = b"x" * (1024 * 1024)
                    try:
                        with open("big.bin", "wb") as big:
                            for _ in range(200):
                                big.write(chunk)
                                big.flush()
                    except OSError as error:
                        assert error.errno == errno.ENOSPC
                        return
                    raise AssertionError("wrote 200 MB into a 64 MB workspace")
                """,
        }
    )
    sandbox = DockerBackend(docker_image, workspace_size="64m")
    try:
        run = sandbox.run(snapshot, RunPlan(timeout=60))
    finally:
        sandbox.close()

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_fill.py::test_fill_workspace"}, run.output[-2000:]


def test_gigabyte_output_truncated(docker_image: str, make_snapshot: MakeSnapshot) -> None:
    # With -s the test writes straight to the driver's pipe, past pytest's capture.
    snapshot = make_snapshot(
        {
            "pytest.ini": "[pytest]\naddopts = -s\n",
            "tests/test_noisy.py": """\
                import os

                def test_noisy():
                    line = b"y" * 1023 + b"\\n"
                    block = line * 1024
                    for _ in range(1024):
                        os.write(1, block)
                """,
        }
    )
    sandbox = DockerBackend(docker_image, output_limit=100_000)
    try:
        run = sandbox.run(snapshot, RunPlan(timeout=120))
    finally:
        sandbox.close()

    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_noisy.py::test_noisy"}
    assert len(run.output) < 120_000
    assert "bytes cut" in run.output


def test_cancel_stops_running(
    backend: DockerBackend, make_snapshot: MakeSnapshot, client: docker.DockerClient
) -> None:
    snapshot = make_snapshot(
        {"tests/test_hang.py": "import time\n\ndef test_hang():\n    time.sleep(600)\n"}
    )
    results = []
    worker = threading.Thread(
        target=lambda: results.append(backend.run(snapshot, RunPlan(timeout=120)))
    )
    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        c.status == "running" for c in our_containers(client)
    ):
        time.sleep(0.1)

    backend.cancel()
    worker.join(60)

    assert not worker.is_alive()
    assert results[0].status is RunStatus.INVALID
    assert "cancelled" in results[0].detail
    assert our_containers(client) == []


def test_cancel_logs_no_removal_warning(
    backend: DockerBackend,
    make_snapshot: MakeSnapshot,
    client: docker.DockerClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # cancel() and each run's own clean-up remove the same container, so the
    # daemon often rejects the second request with 409 "already in progress".
    snapshot = make_snapshot(
        {"tests/test_hang.py": "import time\n\ndef test_hang():\n    time.sleep(600)\n"}
    )
    caplog.set_level(logging.DEBUG, logger="sandbox.docker_backend")
    results: list = []
    for _ in range(3):
        workers = [
            threading.Thread(
                target=lambda: results.append(backend.run(snapshot, RunPlan(timeout=120)))
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            sum(c.status == "running" for c in our_containers(client)) < len(workers)
        ):
            time.sleep(0.1)

        backend.cancel()
        for worker in workers:
            worker.join(60)

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    assert [run.status for run in results] == [RunStatus.INVALID] * 6
    assert our_containers(client) == []


def test_daemon_error_reason_omits_url(client: docker.DockerClient) -> None:
    missing = f"agentos-missing-{os.getpid()}"
    with pytest.raises(docker.errors.APIError) as raised:
        client.api.remove_container(missing, force=True)

    reason = _reason(raised.value)

    assert missing in reason
    assert "HTTP 404" in reason
    assert "http+docker" not in reason
    assert "/containers/" not in reason
