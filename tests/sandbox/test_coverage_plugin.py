"""Per-test line coverage, recorded by the coverage plugin in both backends."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.backend import RunPlan, SandboxBackend
from sandbox.coverage_plugin import read_coverage
from sandbox.docker_backend import DockerBackend
from sandbox.local_backend import LocalBackend
from sandbox.results import RunStatus
from sandbox.workspace import Snapshot

FILES = {
    "app/grade.py": """\
        def grade(score):
            if score >= 50:
                return "pass"
            return "fail"
        """,
    "tests/test_grade.py": """\
        from app.grade import grade


        def test_pass():
            assert grade(70) == "pass"


        def test_fail():
            assert grade(10) == "fail"
        """,
}


def snapshot_of(repo: Path) -> Snapshot:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
    )
    return Snapshot(archive.stdout)


@pytest.fixture(params=["local", "docker"])
def backend(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    sandbox: SandboxBackend
    if request.param == "docker":
        sandbox = DockerBackend(request.getfixturevalue("docker_image"))
    else:
        sandbox = LocalBackend()
    yield sandbox
    sandbox.close()


@pytest.fixture
def local() -> Iterator[LocalBackend]:
    sandbox = LocalBackend()
    yield sandbox
    sandbox.close()


def large_repository() -> dict[str, str]:
    """A repository whose first test executes about 3,000 lines of one module.

    Its coverage record is longer than the 16 KiB pieces in which the Docker
    log stores a long line.
    """
    body = "".join(f"    total += {n}\n" for n in range(3000))
    return {
        "app/__init__.py": "",
        "app/long.py": f"def add_all():\n    total = 0\n{body}    return total\n",
        "app/grade.py": FILES["app/grade.py"],
        "tests/test_grade.py": FILES["tests/test_grade.py"],
        "tests/test_long.py": """\
            from app.long import add_all


            def test_add_all():
                assert add_all() == sum(range(3000))
            """,
    }


def test_lines_per_test(
    backend: SandboxBackend, make_repo: Callable[[dict[str, str]], Path]
) -> None:
    repo = make_repo({path: textwrap.dedent(text) for path, text in FILES.items()})
    run = backend.run(snapshot_of(repo), RunPlan(coverage=True, timeout=120))

    passing = run.coverage["tests/test_grade.py::test_pass"]["app/grade.py"]
    failing = run.coverage["tests/test_grade.py::test_fail"]["app/grade.py"]
    assert passing == frozenset({2, 3})
    assert failing == frozenset({2, 4})
    assert 5 in run.coverage["tests/test_grade.py::test_pass"]["tests/test_grade.py"]


def test_no_coverage_unless_planned(
    backend: SandboxBackend, make_repo: Callable[[dict[str, str]], Path]
) -> None:
    repo = make_repo({path: textwrap.dedent(text) for path, text in FILES.items()})
    run = backend.run(snapshot_of(repo), RunPlan(timeout=120))

    assert run.coverage == {}
    assert len(run.passed()) == 2


def test_reader_merges_phases() -> None:
    text = "\n".join(
        [
            '{"nodeid": "t::a", "lines": {"m.py": [1, 2]}}',
            "not json",
            '{"nodeid": "t::a", "lines": {"m.py": [3]}}',
        ]
    )
    assert read_coverage(text).lines == {"t::a": {"m.py": frozenset({1, 2, 3})}}


def test_reader_among_events() -> None:
    text = "\n".join(
        [
            '{"event": "test_report", "nodeid": "t::a", "outcome": "passed"}',
            '{"event": "coverage", "nodeid": "t::a", "lines": {"m.py": [1]}}',
            '{"event": "coverage_truncated", "nodeid": "t::b", "limit": 100}',
        ]
    )
    recorded = read_coverage(text)

    assert recorded.lines == {"t::a": {"m.py": frozenset({1})}}
    assert recorded.truncated_at == "t::b"
    assert recorded.limit == 100


def test_no_tracer_unless_planned(
    backend: SandboxBackend, make_repo: Callable[[dict[str, str]], Path]
) -> None:
    test_module = """\
        import sys


        def test_untraced():
            assert sys.gettrace() is None
            assert "agentos_coverage_plugin" not in sys.modules
        """
    repo = make_repo({"tests/test_cost.py": textwrap.dedent(test_module)})
    run = backend.run(snapshot_of(repo), RunPlan(timeout=120))

    assert run.passed() == {"tests/test_cost.py::test_untraced"}
    assert run.coverage == {}
    assert "coverage" not in run.detail


@pytest.mark.docker
def test_docker_equals_local(
    docker_image: str, local: LocalBackend, make_repo: Callable[[dict[str, str]], Path]
) -> None:
    repo = make_repo({path: textwrap.dedent(text) for path, text in large_repository().items()})
    snapshot = snapshot_of(repo)
    # Targets first, then the suite: two pytest processes, as a baseline check runs.
    plan = RunPlan(targets=("tests/test_grade.py::test_fail",), coverage=True, timeout=120)
    docker_backend = DockerBackend(docker_image)
    try:
        in_docker = docker_backend.run(snapshot, plan)
    finally:
        docker_backend.close()
    on_host = local.run(snapshot, plan)

    assert in_docker.status is RunStatus.COMPLETED
    assert len(in_docker.coverage) == 3
    assert len(in_docker.coverage["tests/test_long.py::test_add_all"]["app/long.py"]) == 3002
    assert in_docker.coverage == on_host.coverage
    assert not in_docker.coverage_truncated


@pytest.mark.docker
def test_bound_marks_truncation(
    docker_image: str, local: LocalBackend, make_repo: Callable[[dict[str, str]], Path]
) -> None:
    repo = make_repo({path: textwrap.dedent(text) for path, text in large_repository().items()})
    snapshot = snapshot_of(repo)
    plan = RunPlan(coverage=True, timeout=120)
    # Room for the two small records of tests/test_grade.py, not for the large one.
    docker_backend = DockerBackend(docker_image, coverage_limit=2_000)
    try:
        run = docker_backend.run(snapshot, plan)
    finally:
        docker_backend.close()
    complete = local.run(snapshot, plan).coverage

    assert run.status is RunStatus.COMPLETED
    assert len(run.passed()) == 3
    assert run.coverage_truncated
    assert "tests/test_long.py::test_add_all" in run.detail
    assert set(run.coverage) == {
        "tests/test_grade.py::test_fail",
        "tests/test_grade.py::test_pass",
    }
    for nodeid, lines in run.coverage.items():
        assert lines == complete[nodeid]


@pytest.mark.docker
def test_output_limit_spares_coverage(
    docker_image: str, local: LocalBackend, make_repo: Callable[[dict[str, str]], Path]
) -> None:
    files = large_repository()
    # With -s the test writes straight to the console, past pytest's capture.
    files["pytest.ini"] = "[pytest]\naddopts = -s\n"
    files["tests/test_noisy.py"] = """\
        import os


        def test_noisy():
            os.write(1, b"x" * 200_000)
        """
    repo = make_repo({path: textwrap.dedent(text) for path, text in files.items()})
    snapshot = snapshot_of(repo)
    plan = RunPlan(coverage=True, timeout=120)
    docker_backend = DockerBackend(docker_image, output_limit=1_000)
    try:
        run = docker_backend.run(snapshot, plan)
    finally:
        docker_backend.close()

    assert run.status is RunStatus.COMPLETED
    assert "cut" in run.output
    assert not run.coverage_truncated
    assert run.coverage == local.run(snapshot, plan).coverage


def test_coverage_limit_checked(docker_image: str) -> None:
    with pytest.raises(ValueError, match="coverage_limit"):
        DockerBackend(docker_image, coverage_limit=0)
