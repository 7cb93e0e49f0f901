"""Fault localisation: Ochiai over coverage, combined with the traceback."""

from __future__ import annotations

import pytest

from patches.repair.sbfl import ochiai, rank_lines
from patches.types import FaultKind, RepairRequest, Spectrum, TraceFrame

GRADE = "def grade(score):\n    if score > 50:\n        return 'pass'\n    return 'fail'\n"


def request(spectrum: Spectrum | None, frames: tuple[TraceFrame, ...] = ()) -> RepairRequest:
    return RepairRequest(
        fault_id="f",
        kind=FaultKind.TEST,
        summary="",
        message="assert 'fail' == 'pass'",
        location=None,
        exc_type="AssertionError",
        frames=frames,
        test_ids=("tests/test_grade.py::test_edge",),
        spectrum=spectrum,
    )


def spectrum() -> Spectrum:
    return Spectrum(
        executed={
            "tests/test_grade.py::test_edge": {
                "app/grade.py": frozenset({2, 4}),
                "tests/test_grade.py": frozenset({5}),
            },
            "tests/test_grade.py::test_high": {"app/grade.py": frozenset({2, 3})},
            "tests/test_grade.py::test_low": {"app/grade.py": frozenset({2, 4})},
            "tests/test_other.py::test_broken": {"app/other.py": frozenset({9})},
        },
        failed=frozenset({"tests/test_grade.py::test_edge", "tests/test_other.py::test_broken"}),
    )


def read(path: str) -> str | None:
    return {"app/grade.py": GRADE}.get(path)


def test_ochiai_values() -> None:
    assert ochiai(1, 0, 1) == 1.0
    assert ochiai(0, 3, 1) == 0.0
    assert ochiai(1, 1, 1) == pytest.approx(0.7071, abs=1e-4)


def test_lines_only_failing_run_first() -> None:
    ranked = rank_lines(request(spectrum()), read)

    assert [(s.path, s.line) for s in ranked] == [("app/grade.py", 2), ("app/grade.py", 4)]
    assert ranked[1].score == pytest.approx(ochiai(1, 1, 1))


def test_condition_takes_score_of_its_branch() -> None:
    ranked = {(s.path, s.line): s.score for s in rank_lines(request(spectrum()), read)}

    assert ranked[("app/grade.py", 2)] == ranked[("app/grade.py", 4)]


def test_other_faults_tests_left_out() -> None:
    ranked = rank_lines(request(spectrum()), read)

    assert "app/other.py" not in {s.path for s in ranked}


def test_test_code_not_ranked() -> None:
    ranked = rank_lines(request(spectrum()), read)

    assert all(not s.path.startswith("tests/") for s in ranked)


def test_traceback_frame_raises_rank() -> None:
    frames = (
        TraceFrame("tests/test_grade.py", 5, "test_edge", "grade(50)"),
        TraceFrame("app/grade.py", 2, "grade", "if score > 50:"),
    )

    ranked = rank_lines(request(spectrum(), frames), read)

    assert (ranked[0].path, ranked[0].line) == ("app/grade.py", 2)


def test_without_coverage_uses_called_functions() -> None:
    frames = (TraceFrame("tests/test_grade.py", 5, "test_edge", "assert grade(50) == 'pass'"),)
    no_spectrum = request(None, frames)

    def read_with_test(path: str) -> str | None:
        texts = {"app/grade.py": GRADE, "tests/test_grade.py": "from app.grade import grade\n"}
        return texts.get(path)

    ranked = rank_lines(no_spectrum, read_with_test)

    assert {(s.path, s.line) for s in ranked} == {("app/grade.py", n) for n in (2, 3, 4)}
