"""Per-test line coverage, recorded by the coverage plugin in both backends."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.backend import RunPlan, SandboxBackend
from sandbox.coverage_plugin import read_coverage
from sandbox.local_backend import LocalBackend
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


# Only the local backend collects coverage so far; see the TODO in the Docker backend.
@pytest.fixture(params=["local"])
def backend(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    sandbox: SandboxBackend = LocalBackend()
    yield sandbox
    sandbox.close()


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
    assert read_coverage(text) == {"t::a": {"m.py": frozenset({1, 2, 3})}}
