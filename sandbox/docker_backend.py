"""Run a snapshot's tests in a fresh, locked-down Docker container.

Each run gets its own container: no network, no capabilities, a non-root
user, limits on memory, processes and CPU, and no bind mount. The snapshot and
the plugin are copied in with ``put_archive`` and the event file is copied out
with ``get_archive``, so the container has no access to the user's checkout. The
deadline is enforced from the host, and the container is removed whatever
happens, Ctrl-C included.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import tarfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from sandbox import coverage_plugin
from sandbox.backend import RunPlan
from sandbox.errors import BackendUnavailable, SandboxError
from sandbox.events import parse_events
from sandbox.pytest_plugin import EVENTS_VARIABLE, MODULE_NAME, clip
from sandbox.results import TestRun
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

SANDBOX_LABEL = "org.llmagentos.sandbox"
PID_LABEL = "org.llmagentos.pid"
HOST_LABEL = "org.llmagentos.host"
RUN_LABEL = "org.llmagentos.run"

SANDBOX_UID = 1000  # the image's unprivileged user, see sandbox/image/build-base.sh
WORKSPACE = "/work"
PLUGIN_DIR = "/opt/agentos"
EVENTS_PATH = "/tmp/agentos-events.jsonl"
COVERAGE_PATH = "/tmp/agentos-coverage.jsonl"
KILL_GRACE = 10.0  # seconds to wait for a killed container to stop
_START_HINT = "start the daemon (for example 'dockerd &' or 'systemctl start docker')"
_BUILD_HINT = "build the image with sandbox/image/build-base.sh"


@dataclass(frozen=True)
class _Finished:
    """Results read from a stopped container."""

    exit_code: int | None  # None when it was killed at the deadline
    timed_out: bool
    duration: float
    events: str
    coverage: str  # the coverage plugin's output, "" when the plan did not ask for it
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
        output_limit: int = 200_000,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.image = image
        self.memory = memory
        self.pids = pids
        self.cpus = cpus
        self.output_limit = output_limit
        self._owns_client = client is None
        self._client = client if client is not None else _connect()
        self._plugin_archive = _plugin_archive()

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        """Run ``plan`` on ``snapshot``; raise SandboxError only when Docker itself fails."""
        if not plan.targets and not plan.full_suite:
            raise ValueError("the run plan has no targets and full_suite is off: nothing to run")
        run_id = uuid.uuid4().hex[:12]
        workspace_archive = snapshot.to_tar(
            prefix=WORKSPACE.lstrip("/"), uid=SANDBOX_UID, gid=SANDBOX_UID
        )

        container = None
        try:
            container = self._create(plan, run_id)
            finished = self._execute(container, workspace_archive, plan.timeout, run_id)
        except docker.errors.ImageNotFound as error:
            raise BackendUnavailable(
                f"sandbox image {self.image} not found; {_BUILD_HINT}"
            ) from error
        except docker.errors.APIError as error:
            raise SandboxError(f"Docker failed during sandbox run {run_id}: {error}") from error
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as error:
            raise BackendUnavailable(
                f"lost the Docker daemon during sandbox run {run_id} ({error}); {_START_HINT}"
            ) from error
        finally:
            if container is not None:
                _remove(container)
            else:
                # An interrupt can land after the daemon created the container
                # but before create() returned it.
                _remove_run(self._client, run_id)

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
            run = replace(run, coverage=coverage_plugin.read_coverage(finished.coverage))
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

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _execute(
        self, container: Container, workspace_archive: bytes, timeout: float, run_id: str
    ) -> _Finished:
        container.put_archive("/", workspace_archive)
        container.put_archive("/", self._plugin_archive)

        logger.info("sandbox %s: starting container %s", run_id, container.short_id)
        started = time.monotonic()
        container.start()
        exit_code, timed_out = _wait(container, timeout)
        duration = time.monotonic() - started

        return _Finished(
            exit_code=exit_code,
            timed_out=timed_out,
            duration=duration,
            events=_read_file(container, EVENTS_PATH),
            coverage=_read_file(container, COVERAGE_PATH),
            output=_read_logs(container, self.output_limit),
            out_of_memory=_out_of_memory(container),
        )

    def _create(self, plan: RunPlan, run_id: str) -> Container:
        # Run by path rather than with -m, so that the workspace is not first on
        # the driver's sys.path and a module of the repository cannot shadow
        # one of the standard library that the driver imports.
        command = ["python3", f"{PLUGIN_DIR}/{MODULE_NAME}.py"]
        if plan.full_suite:
            command.append("--full-suite")
        command.extend(["--", *plan.targets])
        coverage = {
            "PYTEST_PLUGINS": coverage_plugin.MODULE_NAME,
            coverage_plugin.COVERAGE_VARIABLE: COVERAGE_PATH,
        }
        return self._client.containers.create(
            self.image,
            command=command,
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
            working_dir=WORKSPACE,
            # Only what pytest needs: nothing of the host's environment enters.
            environment={
                EVENTS_VARIABLE: EVENTS_PATH,
                "PYTHONPATH": PLUGIN_DIR,
                "HOME": "/tmp",
                "LANG": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
                **(coverage if plan.coverage else {}),
            },
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=self.memory,
            memswap_limit=self.memory,
            pids_limit=self.pids,
            nano_cpus=int(self.cpus * 1e9),
            # Bounds what a chatty test can write to the daemon's disk.
            log_config={"type": "json-file", "config": {"max-size": "10m", "max-file": "1"}},
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
        return f"no Docker daemon responds at {_daemon_address()} ({error}); {_START_HINT}"
    try:
        client.ping()
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"sandbox image {image} not found; {_BUILD_HINT}"
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        return (
            f"the Docker daemon at {_daemon_address()} failed to respond ({error}); {_START_HINT}"
        )
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
        for container in client.containers.list(all=True, filters={"label": f"{SANDBOX_LABEL}=1"}):
            if _is_leftover(container):
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


def _daemon_address() -> str:
    """Return where the Docker client looks for the daemon, as the user configured it."""
    configured = os.environ.get("DOCKER_HOST")
    return f"DOCKER_HOST={configured}" if configured else "the default socket /var/run/docker.sock"


def _connect() -> docker.DockerClient:
    try:
        return docker.from_env(timeout=30)
    except docker.errors.DockerException as error:
        raise BackendUnavailable(
            f"no Docker daemon responds at {_daemon_address()} ({error}); {_START_HINT}"
        ) from error


def _is_leftover(container: Container) -> bool:
    labels = container.labels or {}
    if labels.get(HOST_LABEL) != socket.gethostname():
        # NOTE: the creating process cannot be seen from here, so a stopped
        # container whose results another host is still reading may be removed.
        return container.status in ("exited", "dead")
    try:
        os.kill(int(labels.get(PID_LABEL, "")), 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False  # the process exists but belongs to another user
    return False


def _plugin_archive() -> bytes:
    """Build a tar of the plugins, under names that cannot clash with the repository's modules."""
    plugins = {
        MODULE_NAME: Path(__file__).with_name("pytest_plugin.py").read_bytes(),
        coverage_plugin.MODULE_NAME: Path(coverage_plugin.__file__).read_bytes(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        folder = tarfile.TarInfo(PLUGIN_DIR.lstrip("/"))
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        for name, source in plugins.items():
            member = tarfile.TarInfo(f"{PLUGIN_DIR.lstrip('/')}/{name}.py")
            member.size, member.mode = len(source), 0o644
            archive.addfile(member, io.BytesIO(source))
    return buffer.getvalue()


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


def _read_file(container: Container, path: str) -> str:
    """Return a file's text from a stopped container, or "" when it does not exist."""
    try:
        chunks, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return ""
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        member = archive.next()
        extracted = archive.extractfile(member) if member is not None else None
        data = extracted.read() if extracted is not None else b""
    return data.decode("utf-8", errors="replace")


def _read_logs(container: Container, limit: int) -> str:
    text = container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
    return clip(text, limit)


def _out_of_memory(container: Container) -> bool:
    container.reload()
    return bool(container.attrs.get("State", {}).get("OOMKilled"))


def _remove_run(client: docker.DockerClient, run_id: str) -> None:
    try:
        found = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
        for container in found:
            _remove(container)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        logger.warning("failed to look for the container of sandbox run %s: %s", run_id, error)


def _remove(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        # Cleanup must not hide the run's own error; sweep_leftovers retries at next start.
        logger.warning("failed to remove sandbox container %s: %s", container.short_id, error)


def _with_detail(run: TestRun, note: str) -> TestRun:
    return replace(run, detail=f"{run.detail}; {note}" if run.detail else note)
