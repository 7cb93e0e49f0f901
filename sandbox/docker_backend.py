"""Run a snapshot's tests in a fresh, locked-down Docker container.

Each run gets its own container: no network, no capabilities, a non-root
user, and limits on memory, processes and CPU. Its root filesystem is
read-only, the workspace and ``/tmp`` are size-limited tmpfs mounts, and
nothing is bind-mounted, so the container cannot reach the user's checkout.

The daemon refuses ``put_archive`` on a read-only root filesystem, tmpfs
mounts included, so the snapshot and the plugin reach the container as a tar
on its standard input: a few lines of Python (``_BOOTSTRAP``) extract it and
then run the driver. The driver writes the events to the container's standard
error and pytest's clipped console output to its standard output, and both are
read back from the container's log, because a tmpfs is gone once the
container stops. For the same reason, when a plan requests coverage, the
coverage plugin's records come back as events in that stream, bounded by
``coverage_limit`` so that they cannot fill the log.
:meth:`DockerBackend.run_command` runs a program the same way under
``sandbox/bootstrap.py``, which writes its crash record where the driver
writes the events.

The driver kills pytest at the run's deadline; the host kills the container
``HOST_GRACE`` seconds later if it is still running. The container is removed
whatever happens, Ctrl-C included, and :meth:`DockerBackend.cancel` kills the
runs in progress from another thread.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from sandbox import coverage_plugin
from sandbox.backend import CANCELLED_DETAIL, RunPlan, cancelled_command
from sandbox.command import (
    BOOTSTRAP,
    BOOTSTRAP_NAME,
    CRASH_FILE_VARIABLE,
    ROOT_VARIABLE,
    CommandPlan,
    CommandResult,
    parse_crash,
    working_folder,
)
from sandbox.errors import BackendUnavailable, SandboxError
from sandbox.events import parse_events, with_coverage
from sandbox.pool import worker_limit
from sandbox.pytest_plugin import EVENTS_VARIABLE, MODULE_NAME, clip
from sandbox.results import RunStatus, TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

SANDBOX_LABEL = "org.llmagentos.sandbox"
PID_LABEL = "org.llmagentos.pid"
HOST_LABEL = "org.llmagentos.host"
RUN_LABEL = "org.llmagentos.run"

SANDBOX_UID = 1000  # the image's unprivileged user, see sandbox/image/build-base.sh
WORKSPACE = "/work"
PLUGIN_DIR = "/tmp/agentos"
EVENTS_FD = 3  # the bootstrap makes this a copy of the container's standard error
RESULTS_TARGET = f"fd:{EVENTS_FD}"  # for the events and the crash record alike
KILL_GRACE = 10.0  # seconds to wait for a killed container to stop
HOST_GRACE = 15.0  # seconds past the driver's deadline before the host kills the container
LOG_LIMIT = "64m"  # of the container log, which carries the events and the clipped output
LOG_LIMIT_BYTES = 64 * 1024**2  # LOG_LIMIT in bytes
# Bytes of coverage records per run. Half the log leaves the other half for
# the events and the output, so the records alone cannot make the log rotate,
# which would drop its head.
COVERAGE_LIMIT = LOG_LIMIT_BYTES // 2

# Runs as the container's command, with the arguments WORKING_FOLDER SCRIPT
# ARGS...: extract the tar from standard input, move standard error to fd 3
# for the results (so stray text on standard error lands in the console output
# instead), then replace itself with SCRIPT. The working folder is created
# when missing, because git keeps no empty folder.
_BOOTSTRAP = """\
import io, os, sys, tarfile
data = sys.stdin.buffer.read()
with tarfile.open(fileobj=io.BytesIO(data)) as archive:
    archive.extractall("/")
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.dup2(2, 3)
os.dup2(1, 2)
os.makedirs(sys.argv[1], exist_ok=True)
os.chdir(sys.argv[1])
os.execv(sys.executable, [sys.executable] + sys.argv[2:])
"""
_BASE_ENVIRONMENT = {
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}
_START_HINT = "start the daemon (for example 'dockerd &' or 'systemctl start docker')"
_BUILD_HINT = "build the image with sandbox/image/build-base.sh"


@dataclass(frozen=True)
class _Launch:
    """One container to run: a script of the tools folder, where, with what, for how long."""

    arguments: tuple[str, ...]  # the script's path and its arguments
    environment: dict[str, str]  # the whole environment: nothing of the host's enters
    working_folder: str
    deadline: float  # seconds after the start at which the host kills the container
    output_limit: int  # characters of standard output to keep
    coverage: bool = False  # whether to ship the coverage plugin


@dataclass(frozen=True)
class _Finished:
    """Results read from a stopped container."""

    exit_code: int | None  # None when it was killed at the deadline
    timed_out: bool
    duration: float
    events: str
    output: str
    out_of_memory: bool


class DockerBackend:
    """Runs pytest in one new container per run; see the module docstring for the confinement."""

    name = "docker"
    isolated = True

    def __init__(
        self,
        image: str = "agentos-sandbox:latest",
        *,
        memory: str = "1g",
        pids: int = 256,
        cpus: float = 1.0,
        workspace_size: str = "512m",
        tmp_size: str = "256m",
        output_limit: int = 200_000,
        coverage_limit: int = COVERAGE_LIMIT,
        host_grace: float = HOST_GRACE,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.image = image
        self.memory = memory
        self.pids = pids
        self.cpus = cpus
        self.workspace_size = workspace_size  # tmpfs sizes count against ``memory``
        self.tmp_size = tmp_size
        self.output_limit = output_limit
        if not 0 < coverage_limit <= COVERAGE_LIMIT:
            raise ValueError(
                f"invalid coverage_limit {coverage_limit}: it must be between 1 and "
                f"{COVERAGE_LIMIT} bytes, half of the container log"
            )
        self.coverage_limit = coverage_limit  # bytes of coverage records per run
        self.host_grace = host_grace
        self._owns_client = client is None
        self._client = client if client is not None else _connect()
        self._tools = {
            f"{MODULE_NAME}.py": Path(__file__).with_name("pytest_plugin.py").read_bytes(),
            BOOTSTRAP_NAME: BOOTSTRAP.read_bytes(),
        }
        self._coverage_tool = {
            f"{coverage_plugin.MODULE_NAME}.py": Path(coverage_plugin.__file__).read_bytes()
        }
        self._running: dict[str, Container] = {}  # run id -> container, for cancel()
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._generation = 0  # counts cancel() calls, to catch runs that start during one

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        """Run ``plan`` on ``snapshot``; raise SandboxError only when Docker itself fails."""
        if not plan.targets and not plan.full_suite:
            raise ValueError("the run plan has no targets and full_suite is off: nothing to run")
        launch = self._test_launch(plan)

        run_id = uuid.uuid4().hex[:12]
        finished = self._run_container(snapshot, launch, run_id)
        if finished is None:
            return _cancelled_run(self.name)

        run = parse_events(
            finished.events,
            finished.exit_code,
            targets=plan.targets,
            output=finished.output,
            duration=finished.duration,
            backend=self.name,
            timed_out_after=plan.timeout if finished.timed_out else None,
        )
        if plan.coverage:
            run = with_coverage(run, finished.events)
        if finished.out_of_memory:
            run = _with_detail(run, f"the container ran out of memory (limit {self.memory})")
        logger.info(
            "sandbox %s: %s, %d passed, %d failed in %.1f s",
            run_id,
            run.status.value,
            len(run.passed()),
            len(run.failed()),
            run.duration,
        )
        return run

    def run_command(self, snapshot: Snapshot, plan: CommandPlan) -> CommandResult:
        """Run a program under the bootstrap in a new container, confined as ``run`` is.

        The crash record comes back on the container's standard error, as the
        events of a test run do, because the tmpfs is gone once it stops.
        """
        folder = working_folder(plan.cwd)
        environment = {
            **plan.environment,
            **_BASE_ENVIRONMENT,
            CRASH_FILE_VARIABLE: RESULTS_TARGET,
            ROOT_VARIABLE: WORKSPACE,
        }
        launch = _Launch(
            (f"{PLUGIN_DIR}/{BOOTSTRAP_NAME}", *plan.arguments),
            environment,
            f"{WORKSPACE}/{folder}".rstrip("/"),
            plan.timeout,
            self.output_limit,
        )

        run_id = uuid.uuid4().hex[:12]
        finished = self._run_container(snapshot, launch, run_id)
        if finished is None:
            return cancelled_command()
        if finished.out_of_memory:
            logger.warning(
                "sandbox %s: the command ran out of memory (limit %s)", run_id, self.memory
            )
        logger.info(
            "sandbox %s: command exited with %s in %.1f s",
            run_id,
            "a timeout" if finished.timed_out else finished.exit_code,
            finished.duration,
        )
        return CommandResult(
            exit_code=finished.exit_code,
            timed_out=finished.timed_out,
            crash=parse_crash(_last_line(finished.events)),
            output=finished.output,
            duration=finished.duration,
        )

    def cancel(self) -> None:
        """Kill every run of this backend in progress; their ``run`` calls return INVALID.

        Runs that start after this call are not affected.
        """
        with self._lock:
            running = dict(self._running)
            self._cancelled.update(running)
            self._generation += 1
        for run_id, container in running.items():
            logger.info("sandbox %s: cancelling container %s", run_id, container.short_id)
            _remove(container)

    def parallel_limit(self) -> int:
        return worker_limit(_parse_size(self.memory), self.cpus)

    def identity(self) -> str:
        """Return the image id, which changes when the tag is rebuilt, and the limits."""
        try:
            image_id = self._client.images.get(self.image).id
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise _translate(error, self.image, "identity") from error
        limits = f"memory={self.memory} pids={self.pids} cpus={self.cpus:g}"
        return f"docker {image_id} {limits} workspace={self.workspace_size} tmp={self.tmp_size}"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _was_cancelled(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._cancelled

    def _test_launch(self, plan: RunPlan) -> _Launch:
        """Return the container that runs the pytest driver for ``plan``."""
        # The driver runs by path rather than with -m, so that the workspace is
        # not first on its sys.path and a module of the repository cannot
        # shadow one of the standard library that the driver imports.
        arguments = [f"{PLUGIN_DIR}/{MODULE_NAME}.py"]
        arguments.extend(
            ["--timeout", f"{plan.timeout:g}", "--output-limit", str(self.output_limit)]
        )
        arguments.append("--own-process-group")
        if plan.full_suite:
            arguments.append("--full-suite")
        if not plan.stop_at_first_failure:
            arguments.append("--keep-going")
        arguments.extend(["--", *plan.targets])
        # Only what pytest needs: nothing of the host's environment enters.
        environment = {
            **_BASE_ENVIRONMENT,
            EVENTS_VARIABLE: RESULTS_TARGET,
            "PYTHONPATH": PLUGIN_DIR,
        }
        if plan.coverage:
            # Each pytest process bounds its own records, so the targets and
            # the suite phase share the run's bound.
            phases = int(bool(plan.targets)) + int(plan.full_suite)
            environment["PYTEST_PLUGINS"] = coverage_plugin.MODULE_NAME
            environment[coverage_plugin.COVERAGE_VARIABLE] = coverage_plugin.EVENTS_TARGET
            environment[coverage_plugin.LIMIT_VARIABLE] = str(self.coverage_limit // phases)
        # The driver already clipped its output; the limit only bounds what arrives anyway.
        return _Launch(
            tuple(arguments),
            environment,
            WORKSPACE,
            plan.timeout + self.host_grace,
            2 * self.output_limit,
            coverage=plan.coverage,
        )

    def _run_container(self, snapshot: Snapshot, launch: _Launch, run_id: str) -> _Finished | None:
        """Run ``launch`` in a new container and remove it; return None when it was cancelled."""
        tools = {**self._tools, **self._coverage_tool} if launch.coverage else self._tools
        archive = self._input_archive(snapshot, tools)
        with self._lock:
            generation = self._generation

        container = None
        try:
            container = self._create(launch, run_id)
            with self._lock:
                self._running[run_id] = container
                if self._generation != generation:
                    # cancel() ran while the container was being created.
                    self._cancelled.add(run_id)
            if self._was_cancelled(run_id):
                return None
            finished = self._execute(container, archive, launch, run_id)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            if self._was_cancelled(run_id):
                return None
            raise _translate(error, self.image, run_id) from error
        finally:
            with self._lock:
                self._running.pop(run_id, None)
                cancelled = run_id in self._cancelled
                self._cancelled.discard(run_id)
            if container is not None:
                _remove(container)
            else:
                # An interrupt can land after the daemon created the container
                # but before create() returned it.
                _remove_run(self._client, run_id)
        return None if cancelled else finished

    def _input_archive(self, snapshot: Snapshot, tools: dict[str, bytes]) -> bytes:
        """Return one tar with the workspace and the tools, for the bootstrap to extract at /."""
        archive = snapshot.to_tar(prefix=WORKSPACE.lstrip("/"), uid=SANDBOX_UID, gid=SANDBOX_UID)
        buffer = io.BytesIO()
        with (
            tarfile.open(fileobj=io.BytesIO(archive)) as source,
            tarfile.open(fileobj=buffer, mode="w") as target,
        ):
            for member in source.getmembers():
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
            _add_tools(target, tools)
        return buffer.getvalue()

    def _execute(
        self, container: Container, archive: bytes, launch: _Launch, run_id: str
    ) -> _Finished:
        logger.info("sandbox %s: starting container %s", run_id, container.short_id)
        started = time.monotonic()
        stdin = container.attach_socket(params={"stdin": 1, "stream": 1})
        try:
            container.start()
            _send(stdin, archive)
        finally:
            stdin.close()
        exit_code, timed_out = _wait(container, launch.deadline)
        duration = time.monotonic() - started

        return _Finished(
            exit_code=exit_code,
            timed_out=timed_out,
            duration=duration,
            events=_read_log(container, stdout=False, stderr=True),
            output=clip(_read_log(container, stdout=True, stderr=False), launch.output_limit),
            out_of_memory=_out_of_memory(container),
        )

    def _create(self, launch: _Launch, run_id: str) -> Container:
        command = ["python3", "-c", _BOOTSTRAP, launch.working_folder, *launch.arguments]
        tmpfs_options = f"uid={SANDBOX_UID},gid={SANDBOX_UID},mode=0755,exec,nosuid,nodev"
        return self._client.containers.create(
            self.image,
            command=command,
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
            working_dir="/",
            stdin_open=True,
            read_only=True,
            tmpfs={
                WORKSPACE: f"size={self.workspace_size},{tmpfs_options}",
                "/tmp": f"size={self.tmp_size},{tmpfs_options}",
            },
            # docker-init as PID 1 reaps the zombies that a fork bomb leaves.
            init=True,
            environment=launch.environment,
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=self.memory,
            memswap_limit=self.memory,
            pids_limit=self.pids,
            nano_cpus=int(self.cpus * 1e9),
            # Bounds what a chatty test can write to the daemon's disk.
            log_config={"type": "json-file", "config": {"max-size": LOG_LIMIT, "max-file": "1"}},
            labels={
                SANDBOX_LABEL: "1",
                PID_LABEL: str(os.getpid()),
                HOST_LABEL: socket.gethostname(),
                RUN_LABEL: run_id,
            },
        )


def docker_available(image: str) -> str | None:
    """Return why the Docker backend cannot run with ``image``, or None when it can."""
    try:
        client = docker.from_env(timeout=5)
    except docker.errors.DockerException as error:
        return f"no Docker daemon responds ({error}); {_START_HINT}"
    try:
        client.ping()
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"sandbox image {image} not found; {_BUILD_HINT}"
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        return f"the Docker daemon failed to respond ({error}); {_START_HINT}"
    finally:
        client.close()
    return None


def sweep_leftovers(client: docker.DockerClient | None = None) -> int:
    """Remove sandbox containers left by kernels that died; return how many were removed.

    A container made on this host is left over when the process that created
    it no longer exists, so that kernels running at the same time keep theirs.
    One made on another host is left over once it has stopped.
    """
    owns_client = client is None
    if client is None:
        client = _connect()
    removed = 0
    try:
        # The plain listing, without inspecting each container: one that another
        # process removes meanwhile would make an inspection fail.
        found = client.api.containers(all=True, filters={"label": f"{SANDBOX_LABEL}=1"})
        for entry in found:
            if is_leftover(entry.get("Labels") or {}, str(entry.get("State", ""))):
                container = client.containers.prepare_model({"Id": entry["Id"]})
                logger.info("removing leftover sandbox container %s", container.short_id)
                _remove(container)
                removed += 1
    except docker.errors.APIError as error:
        raise SandboxError(f"failed to remove leftover sandbox containers: {error}") from error
    except requests.exceptions.ConnectionError as error:
        raise BackendUnavailable(f"lost the Docker daemon ({error}); {_START_HINT}") from error
    finally:
        if owns_client:
            client.close()
    return removed


def _connect() -> docker.DockerClient:
    try:
        return docker.from_env(timeout=30)
    except docker.errors.DockerException as error:
        raise BackendUnavailable(f"no Docker daemon responds ({error}); {_START_HINT}") from error


def is_leftover(labels: dict[str, str], state: str) -> bool:
    """Return whether a container with these labels and state was left by a dead process."""
    if labels.get(HOST_LABEL) != socket.gethostname():
        # NOTE: the creating process cannot be seen from here, so a stopped
        # container whose results another host is still reading may be removed.
        return state in ("exited", "dead")
    try:
        os.kill(int(labels.get(PID_LABEL, "")), 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False  # the process exists but belongs to another user
    return False


def _add_tools(target: tarfile.TarFile, files: dict[str, bytes]) -> None:
    """Add the driver and the bootstrap, in a read-only folder outside the workspace."""
    folder = tarfile.TarInfo(PLUGIN_DIR.lstrip("/"))
    folder.type, folder.mode = tarfile.DIRTYPE, 0o555
    folder.uid = folder.gid = SANDBOX_UID
    for name, source in files.items():
        member = tarfile.TarInfo(f"{PLUGIN_DIR.lstrip('/')}/{name}")
        member.size, member.mode = len(source), 0o444
        member.uid = member.gid = SANDBOX_UID
        target.addfile(member, io.BytesIO(source))
    # The files come before their read-only folder, which tarfile then chmods last.
    target.addfile(folder)


def _send(stdin: socket.SocketIO, data: bytes) -> None:
    """Write ``data`` to an attached standard input and close it, so the bootstrap sees EOF."""
    raw = stdin._sock  # type: ignore[attr-defined]  # docker-py returns a SocketIO over a socket
    raw.sendall(data)
    raw.shutdown(socket.SHUT_WR)


def _wait(container: Container, timeout: float) -> tuple[int | None, bool]:
    """Wait for the container to exit; kill it at the deadline. Return (exit code, timed out)."""
    try:
        return container.wait(timeout=timeout)["StatusCode"], False
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        # docker-py reports a wait that outlived its timeout as a read timeout.
        pass
    container.reload()
    if container.status != "running":
        return container.attrs["State"]["ExitCode"], False  # it exited just at the deadline
    logger.info("sandbox container %s passed its %g s deadline", container.short_id, timeout)
    container.kill()
    container.wait(timeout=KILL_GRACE)
    return None, True


def _read_log(container: Container, *, stdout: bool, stderr: bool) -> str:
    return container.logs(stdout=stdout, stderr=stderr).decode("utf-8", errors="replace")


def _last_line(text: str) -> str:
    """Return the last non-empty line: the crash record, after any stray text on the stream."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _out_of_memory(container: Container) -> bool:
    container.reload()
    return bool(container.attrs.get("State", {}).get("OOMKilled"))


def _remove_run(client: docker.DockerClient, run_id: str) -> None:
    try:
        found = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
        for container in found:
            _remove(container)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        logger.warning(
            "failed to look for the container of sandbox run %s: %s", run_id, _reason(error)
        )
        logger.debug("the lookup of sandbox run %s failed", run_id, exc_info=error)


def _remove(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        if _removal_in_progress(error):
            # cancel() and the run's own clean-up both remove the container,
            # so the second request finds the first one's removal under way.
            logger.debug("sandbox container %s is already being removed", container.short_id)
            return
        # Cleanup must not hide the run's own error; sweep_leftovers retries at next start.
        reason = _reason(error).replace(container.id or container.short_id, container.short_id)
        logger.warning(
            "failed to remove sandbox container %s: %s. The next heal removes it, "
            "or run 'docker rm -f %s'",
            container.short_id,
            reason,
            container.short_id,
        )
        logger.debug("removing sandbox container %s failed", container.short_id, exc_info=error)


def _removal_in_progress(error: Exception) -> bool:
    """Return whether ``error`` is the daemon's 409 for a container that is being removed."""
    return (
        isinstance(error, docker.errors.APIError)
        and error.status_code == 409
        and "already in progress" in str(error.explanation or "")
    )


def _reason(error: Exception) -> str:
    """Return the daemon's own explanation of ``error``, without the request's URL."""
    if isinstance(error, docker.errors.APIError):
        explanation = str(error.explanation or "").strip()
        status = f"HTTP {error.status_code}" if error.status_code else "no HTTP status"
        return f"{explanation} ({status})" if explanation else status
    if isinstance(error, requests.exceptions.RequestException):
        # Their message quotes the request's URL, so only the class name is shown.
        return f"no answer from the Docker daemon ({type(error).__name__})"
    return str(error)


def _translate(error: Exception, image: str, run_id: str) -> SandboxError:
    if isinstance(error, docker.errors.ImageNotFound):
        return BackendUnavailable(f"sandbox image {image} not found; {_BUILD_HINT}")
    if isinstance(error, docker.errors.APIError):
        return SandboxError(f"Docker failed during sandbox run {run_id}: {error}")
    return BackendUnavailable(
        f"lost the Docker daemon during sandbox run {run_id} ({error}); {_START_HINT}"
    )


def _parse_size(size: str) -> int | None:
    """Return a Docker size such as "512m" or "1g" in bytes, or None when it does not parse."""
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    text = size.strip().lower()
    factor = units.get(text[-1:], None)
    number = text[:-1] if factor is not None else text
    try:
        return int(float(number) * (factor or 1))
    except ValueError:
        return None


def _cancelled_run(backend: str) -> TestRun:
    detail = CANCELLED_DETAIL
    return TestRun(RunStatus.INVALID, None, backend=backend, detail=detail)


def _with_detail(run: TestRun, note: str) -> TestRun:
    return replace(run, detail=f"{run.detail}; {note}" if run.detail else note)
