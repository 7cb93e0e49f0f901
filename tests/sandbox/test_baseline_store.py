"""Baselines stored on disk and read back by a later cache, with the real local backend."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.backend import RunPlan, SandboxBackend
from sandbox.baseline import BaselineCache
from sandbox.baseline_store import FORMAT_VERSION, BaselineStore
from sandbox.command import CommandPlan, CommandResult
from sandbox.docker_backend import DockerBackend
from sandbox.local_backend import LocalBackend
from sandbox.results import Baseline, Frame, Outcome, RunStatus, TestResult, TestRun
from sandbox.workspace import Snapshot
from tests.sandbox.test_baseline import first_run_passes

MakeSnapshot = Callable[[dict[str, str]], Snapshot]

SOURCE = {
    "app/__init__.py": "",
    "app/grade.py": """\
        def grade(score):
            if score > 50:
                return "pass"
            return "fail"
        """,
    "tests/test_grade.py": """\
        from app.grade import grade


        def test_high():
            assert grade(70) == "pass"


        def test_edge():
            assert grade(50) == "pass"
        """,
}


class CountingBackend:
    """A real backend behind a wrapper that counts the test runs reaching it."""

    def __init__(self, backend: SandboxBackend) -> None:
        self.backend = backend
        self.name = backend.name
        self.isolated = backend.isolated
        self.runs = 0

    def run(self, snapshot: Snapshot, plan: RunPlan) -> TestRun:
        self.runs += 1
        return self.backend.run(snapshot, plan)

    def run_command(self, snapshot: Snapshot, plan: CommandPlan) -> CommandResult:
        return self.backend.run_command(snapshot, plan)

    def cancel(self) -> None:
        self.backend.cancel()

    def parallel_limit(self) -> int:
        return self.backend.parallel_limit()

    def identity(self) -> str:
        return self.backend.identity()

    def close(self) -> None:
        self.backend.close()


@pytest.fixture
def make_snapshot(make_repo: Callable[[dict[str, str]], Path]) -> MakeSnapshot:
    def create(files: dict[str, str]) -> Snapshot:
        repo = make_repo({path: textwrap.dedent(text) for path, text in files.items()})
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
        )
        return Snapshot(archive.stdout)

    return create


@pytest.fixture
def counting() -> CountingBackend:
    return CountingBackend(LocalBackend(bubblewrap=False))


def stored_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def sample_baseline(nodeid: str = "tests/test_a.py::test_a") -> Baseline:
    frame = Frame("app/a.py", 3, "f", "return x", True)
    result = TestResult(nodeid, Outcome.FAILED, "call", 0.25, "AssertionError", "no", (frame,))
    coverage = {nodeid: {"app/a.py": frozenset({1, 3})}}
    run = TestRun(RunStatus.COMPLETED, 1, {nodeid: result}, output="F", coverage=coverage)
    return Baseline(run, frozenset({nodeid}), 2)


def test_second_cache_reads_disk(
    counting: CountingBackend, make_snapshot: MakeSnapshot, tmp_path: Path
) -> None:
    snapshot = make_snapshot(SOURCE)
    folder = tmp_path / "baselines"

    first = BaselineCache(counting, runs=2, folder=folder).get(snapshot, timeout=60)
    second_cache = BaselineCache(counting, runs=2, folder=folder)
    second = second_cache.get(snapshot, timeout=60)

    assert counting.runs == 2
    assert len(stored_files(folder)) == 1
    assert (second_cache.hits, second_cache.misses) == (1, 0)
    assert second == first
    assert second.run.failed() == {"tests/test_grade.py::test_edge"}
    assert second.run.coverage["tests/test_grade.py::test_edge"]["app/grade.py"] == {2, 4}


def test_flaky_quarantine_survives(
    counting: CountingBackend, make_snapshot: MakeSnapshot, tmp_path: Path
) -> None:
    snapshot = make_snapshot({"tests/test_a.py": first_run_passes(tmp_path / "marker")})
    folder = tmp_path / "baselines"

    first = BaselineCache(counting, runs=2, folder=folder).get(snapshot, timeout=60)
    second = BaselineCache(counting, runs=2, folder=folder).get(snapshot, timeout=60)

    assert counting.runs == 2
    assert first.flaky == {"tests/test_a.py::test_flaky"}
    assert second.flaky == first.flaky
    assert second.runs == 2


def test_source_change_misses(
    counting: CountingBackend, make_snapshot: MakeSnapshot, tmp_path: Path
) -> None:
    folder = tmp_path / "baselines"
    changed = dict(SOURCE, **{"app/grade.py": SOURCE["app/grade.py"].replace(">", ">=")})

    BaselineCache(counting, runs=1, folder=folder).get(make_snapshot(SOURCE), timeout=60)
    fixed = BaselineCache(counting, runs=1, folder=folder).get(make_snapshot(changed), timeout=60)

    assert counting.runs == 2
    assert fixed.run.failed() == set()
    assert len(stored_files(folder)) == 2


def test_other_plan_misses(
    counting: CountingBackend, make_snapshot: MakeSnapshot, tmp_path: Path
) -> None:
    snapshot = make_snapshot(SOURCE)
    folder = tmp_path / "baselines"

    BaselineCache(counting, runs=1, folder=folder).get(snapshot, timeout=60)
    BaselineCache(counting, runs=1, folder=folder).get(snapshot, timeout=90)

    assert counting.runs == 2


def test_other_limits_miss(make_snapshot: MakeSnapshot, tmp_path: Path) -> None:
    snapshot = make_snapshot(SOURCE)
    folder = tmp_path / "baselines"
    roomy = CountingBackend(LocalBackend(bubblewrap=False, processes=4096))
    tight = CountingBackend(LocalBackend(bubblewrap=False, processes=2048))

    BaselineCache(roomy, runs=1, folder=folder).get(snapshot, timeout=60)
    BaselineCache(tight, runs=1, folder=folder).get(snapshot, timeout=60)

    assert tight.runs == 1


def test_corrupt_file_misses(
    counting: CountingBackend,
    make_snapshot: MakeSnapshot,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    snapshot = make_snapshot(SOURCE)
    folder = tmp_path / "baselines"
    BaselineCache(counting, runs=1, folder=folder).get(snapshot, timeout=60)
    [stored] = stored_files(folder)
    stored.write_text('{"format": 1, "key": ', encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="sandbox.baseline_store"):
        again = BaselineCache(counting, runs=1, folder=folder).get(snapshot, timeout=60)

    assert counting.runs == 2
    assert "corrupt baseline file" in caplog.text
    assert again.run.failed() == {"tests/test_grade.py::test_edge"}
    assert json.loads(stored.read_text(encoding="utf-8"))["format"] == FORMAT_VERSION


def test_wrong_shape_misses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = BaselineStore(tmp_path)
    key = {"snapshot": "a"}
    store.save(key, sample_baseline())
    [stored] = stored_files(tmp_path)
    data = json.loads(stored.read_text(encoding="utf-8"))
    data["baseline"]["run"]["status"] = "exploded"
    stored.write_text(json.dumps(data), encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="sandbox.baseline_store"):
        loaded = store.load(key)

    assert loaded is None
    assert "corrupt baseline file" in caplog.text
    assert stored_files(tmp_path) == []


def test_store_round_trip(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    baseline = sample_baseline()

    store.save({"snapshot": "a"}, baseline)

    assert store.load({"snapshot": "a"}) == baseline
    assert store.load({"snapshot": "b"}) is None


def test_other_format_misses(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    store.save({"snapshot": "a"}, sample_baseline())
    [stored] = stored_files(tmp_path)
    data = json.loads(stored.read_text(encoding="utf-8"))
    data["format"] = FORMAT_VERSION + 1
    stored.write_text(json.dumps(data), encoding="utf-8")

    assert store.load({"snapshot": "a"}) is None


def test_old_file_misses(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, max_age=3600)
    store.save({"snapshot": "a"}, sample_baseline())
    [stored] = stored_files(tmp_path)
    two_hours_ago = time.time() - 7200
    os.utime(stored, (two_hours_ago, two_hours_ago))

    assert store.load({"snapshot": "a"}) is None


def save_aged(store: BaselineStore, name: str, seconds_ago: float) -> None:
    """Store a baseline under ``name`` and date its file ``seconds_ago`` back."""
    before = set(stored_files(store.folder))
    store.save({"snapshot": name}, sample_baseline())
    [added] = set(stored_files(store.folder)) - before
    moment = time.time() - seconds_ago
    os.utime(added, (moment, moment))


def test_count_bound_drops_oldest(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, max_entries=2)
    save_aged(store, "a", 300)
    save_aged(store, "b", 200)

    store.save({"snapshot": "c"}, sample_baseline())

    assert store.load({"snapshot": "a"}) is None
    assert store.load({"snapshot": "b"}) is not None
    assert store.load({"snapshot": "c"}) is not None


def test_size_bound_drops_oldest(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, max_bytes=1)
    save_aged(store, "a", 100)

    store.save({"snapshot": "b"}, sample_baseline())

    assert store.load({"snapshot": "a"}) is None
    assert store.load({"snapshot": "b"}) is not None


def test_incomplete_baseline_not_stored(
    counting: CountingBackend, make_snapshot: MakeSnapshot, tmp_path: Path
) -> None:
    crashing = dict(SOURCE, **{"tests/conftest.py": "import os\n\nos._exit(3)\n"})
    folder = tmp_path / "baselines"

    baseline = BaselineCache(counting, runs=1, folder=folder).get(
        make_snapshot(crashing), timeout=60
    )

    assert baseline.run.status is not RunStatus.COMPLETED
    assert stored_files(folder) == []


def test_bounds_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="baseline store bounds"):
        BaselineStore(tmp_path, max_entries=0)


@pytest.mark.docker
def test_docker_identity_names_image(docker_image: str) -> None:
    import docker

    client = docker.from_env()
    try:
        image_id = client.images.get(docker_image).id
    finally:
        client.close()
    backend = DockerBackend(docker_image)
    try:
        identity = backend.identity()
    finally:
        backend.close()

    assert image_id in identity
    assert "memory=1g" in identity
