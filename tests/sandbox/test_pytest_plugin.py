"""The sandbox pytest plugin and driver, run as real pytest subprocesses on small projects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sandbox.events import parse_events
from sandbox.pytest_plugin import MAX_MESSAGE, MODULE_NAME
from sandbox.results import Outcome, RunStatus

PLUGIN_SOURCE = Path(__file__).parents[2] / "sandbox" / "pytest_plugin.py"


class Ran:
    """Events, exit code and console output of one run."""

    def __init__(self, events_text: str, exit_code: int, output: str) -> None:
        self.events_text = events_text
        self.events = [json.loads(line) for line in events_text.splitlines()]
        self.exit_code = exit_code
        self.output = output

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == kind]

    def report(self, nodeid: str, phase: str) -> dict[str, Any]:
        reports = self.of("test_report")
        matches = [e for e in reports if e["nodeid"] == nodeid and e["phase"] == phase]
        assert len(matches) == 1, f"expected one {phase} report of {nodeid}, got {matches}"
        return matches[0]


def write_project(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run_pytest(tmp_path: Path, project: Path, *args: str, driver: bool = False) -> Ran:
    """Run pytest, or the driver, in ``project`` with the plugin and a clean environment."""
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    shutil.copyfile(PLUGIN_SOURCE, plugin_dir / f"{MODULE_NAME}.py")
    events = tmp_path / "events.jsonl"
    events.unlink(missing_ok=True)
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(plugin_dir),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AGENTOS_EVENTS": str(events),
    }
    if driver:
        command = [sys.executable, str(plugin_dir / f"{MODULE_NAME}.py"), *args]
    else:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            MODULE_NAME,
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(project),
            *args,
        ]
    done = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=120
    )
    text = events.read_text() if events.exists() else ""
    return Ran(text, done.returncode, done.stdout + done.stderr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_passing_session_events(tmp_path: Path, project: Path) -> None:
    write_project(project, {"tests/test_ok.py": "def test_ok():\n    assert True\n"})

    ran = run_pytest(tmp_path, project)

    assert ran.exit_code == 0, ran.output
    kinds = [event["event"] for event in ran.events]
    assert kinds[0] == "session_start"
    assert kinds[-1] == "session_finish"
    assert kinds.index("test_start") < kinds.index("test_report") < kinds.index("test_finish")
    start = ran.of("session_start")[0]
    assert start["pytest"] == pytest.__version__
    assert Path(start["rootdir"]) == project.resolve()
    assert ran.of("session_finish")[0]["exit_status"] == 0
    assert ran.report("tests/test_ok.py::test_ok", "call")["outcome"] == "passed"
    run = parse_events(ran.events_text, ran.exit_code)
    assert run.status is RunStatus.COMPLETED
    assert run.passed() == {"tests/test_ok.py::test_ok"}


def test_failure_exception_and_frames(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "app/calc.py": """\
                def divide(a, b):
                    if b == 0:
                        raise ZeroDivisionError(f"cannot divide {a} by zero")
                    return a / b
                """,
            "tests/test_calc.py": """\
                from app.calc import divide

                def test_divide():
                    assert divide(4, 0) == 2
                """,
        },
    )

    ran = run_pytest(tmp_path, project)

    assert ran.exit_code == 1, ran.output
    report = ran.report("tests/test_calc.py::test_divide", "call")
    assert report["outcome"] == "failed"
    assert report["exc_type"] == "ZeroDivisionError"
    assert report["message"] == "cannot divide 4 by zero"
    assert "ZeroDivisionError" in report["longrepr"]
    frames = report["frames"]
    assert [frame["function"] for frame in frames] == ["test_divide", "divide"]
    assert frames[0] == {
        "path": "tests/test_calc.py",
        "line": 4,
        "function": "test_divide",
        "source": "assert divide(4, 0) == 2",
        "in_workspace": True,
    }
    assert frames[1]["path"] == "app/calc.py"
    assert frames[1]["line"] == 3
    assert frames[1]["source"] == 'raise ZeroDivisionError(f"cannot divide {a} by zero")'


def test_frame_outside_workspace_is_absolute(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {"tests/test_json.py": "import json\n\ndef test_parse():\n    json.loads('{')\n"},
    )

    ran = run_pytest(tmp_path, project)

    report = ran.report("tests/test_json.py::test_parse", "call")
    assert report["exc_type"] == "json.decoder.JSONDecodeError"
    outside = [frame for frame in report["frames"] if not frame["in_workspace"]]
    assert outside, report["frames"]
    assert all(Path(frame["path"]).is_absolute() for frame in outside)
    assert report["frames"][0]["path"] == "tests/test_json.py"


def test_assertion_message_is_rewritten(tmp_path: Path, project: Path) -> None:
    write_project(project, {"tests/test_a.py": "def test_sum():\n    assert 1 + 1 == 3\n"})

    ran = run_pytest(tmp_path, project)

    report = ran.report("tests/test_a.py::test_sum", "call")
    assert report["exc_type"] == "AssertionError"
    assert "assert (1 + 1) == 3" in report["message"]


def test_setup_error_outcome(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_fixture.py": """\
                import pytest

                @pytest.fixture
                def database():
                    raise RuntimeError("no database")

                def test_query(database):
                    pass
                """,
        },
    )

    ran = run_pytest(tmp_path, project)

    report = ran.report("tests/test_fixture.py::test_query", "setup")
    assert report["outcome"] == "error"
    assert report["exc_type"] == "RuntimeError"
    assert report["message"] == "no database"
    assert report["frames"][-1]["function"] == "database"
    run = parse_events(ran.events_text, ran.exit_code)
    result = run.tests["tests/test_fixture.py::test_query"]
    assert result.outcome is Outcome.ERROR
    assert result.phase == "setup"


def test_teardown_error_outcome(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_fixture.py": """\
                import pytest

                @pytest.fixture
                def resource():
                    yield 1
                    raise OSError("close failed")

                def test_use(resource):
                    assert resource == 1
                """,
        },
    )

    ran = run_pytest(tmp_path, project)

    assert ran.report("tests/test_fixture.py::test_use", "call")["outcome"] == "passed"
    assert ran.report("tests/test_fixture.py::test_use", "teardown")["outcome"] == "error"
    run = parse_events(ran.events_text, ran.exit_code)
    result = run.tests["tests/test_fixture.py::test_use"]
    assert result.outcome is Outcome.ERROR
    assert result.phase == "teardown"
    assert result.exc_type == "OSError"


def test_skip_xfail_xpass_outcomes(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_marks.py": """\
                import pytest

                def test_skipped():
                    pytest.skip("needs a printer")

                @pytest.mark.skip(reason="not on this platform")
                def test_marked_skip():
                    pass

                @pytest.mark.xfail(reason="bug 12")
                def test_expected_failure():
                    raise KeyError("k")

                @pytest.mark.xfail(reason="was flaky")
                def test_unexpected_pass():
                    pass

                @pytest.mark.xfail(reason="must fail", strict=True)
                def test_strict_pass():
                    pass
                """,
        },
    )

    ran = run_pytest(tmp_path, project)
    run = parse_events(ran.events_text, ran.exit_code)

    assert run.status is RunStatus.COMPLETED, run.detail
    outcomes = {nodeid.split("::")[1]: result.outcome for nodeid, result in run.tests.items()}
    assert outcomes == {
        "test_skipped": Outcome.SKIPPED,
        "test_marked_skip": Outcome.SKIPPED,
        "test_expected_failure": Outcome.XFAILED,
        "test_unexpected_pass": Outcome.XPASSED,
        "test_strict_pass": Outcome.FAILED,
    }
    assert "needs a printer" in run.tests["tests/test_marks.py::test_skipped"].message
    assert run.tests["tests/test_marks.py::test_marked_skip"].phase == "setup"
    xfailed = run.tests["tests/test_marks.py::test_expected_failure"]
    assert xfailed.message == "bug 12"
    assert xfailed.exc_type == "KeyError"
    assert "XPASS(strict)" in run.tests["tests/test_marks.py::test_strict_pass"].message


def test_collection_errors_import_and_syntax(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_imports.py": "import missing_dependency\n\ndef test_x():\n    pass\n",
            "tests/test_syntax.py": "def test_y(:\n    pass\n",
            "tests/test_fine.py": "def test_z():\n    pass\n",
        },
    )

    ran = run_pytest(tmp_path, project)

    assert ran.exit_code == 2, ran.output
    errors = {event["nodeid"]: event for event in ran.of("collection_error")}
    assert set(errors) == {"tests/test_imports.py", "tests/test_syntax.py"}
    imports = errors["tests/test_imports.py"]
    assert imports["exc_type"] == "ModuleNotFoundError"
    assert imports["message"] == "No module named 'missing_dependency'"
    assert imports["frames"][-1]["path"] == "tests/test_imports.py"
    assert imports["frames"][-1]["line"] == 1
    assert imports["frames"][-1]["source"] == "import missing_dependency"
    syntax = errors["tests/test_syntax.py"]
    assert syntax["exc_type"] == "SyntaxError"
    assert syntax["frames"][-1]["path"] == "tests/test_syntax.py"
    assert syntax["frames"][-1]["line"] == 1
    assert syntax["frames"][-1]["source"] == "def test_y(:"
    run = parse_events(ran.events_text, ran.exit_code)
    assert run.status is RunStatus.COMPLETED, run.detail
    assert {error.nodeid for error in run.collection_errors} == set(errors)


def test_os_exit_names_running_test(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_exit.py": """\
                import os

                def test_first():
                    pass

                def test_dies():
                    os._exit(0)

                def test_never_runs():
                    pass
                """,
        },
    )

    ran = run_pytest(tmp_path, project)

    assert ran.exit_code == 0
    assert not ran.of("session_finish")
    assert ran.of("test_start")[-1]["nodeid"] == "tests/test_exit.py::test_dies"
    run = parse_events(ran.events_text, ran.exit_code)
    assert run.status is RunStatus.CRASHED
    assert run.running_test == "tests/test_exit.py::test_dies"
    assert run.tests["tests/test_exit.py::test_first"].outcome is Outcome.PASSED
    assert run.tests["tests/test_exit.py::test_dies"].outcome is Outcome.ERROR
    assert "tests/test_exit.py::test_never_runs" not in run.tests


def test_long_message_is_truncated(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {"tests/test_long.py": "def test_long():\n    raise ValueError('x' * 50_000)\n"},
    )

    ran = run_pytest(tmp_path, project)

    report = ran.report("tests/test_long.py::test_long", "call")
    assert len(report["message"]) < MAX_MESSAGE + 100
    assert "characters cut" in report["message"]


def test_events_variable_hidden_from_tests(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_env.py": """\
                import os

                def test_env():
                    assert "AGENTOS_EVENTS" not in os.environ
                """,
        },
    )

    ran = run_pytest(tmp_path, project)

    assert ran.report("tests/test_env.py::test_env", "call")["outcome"] == "passed"


def test_plugin_inert_without_variable(tmp_path: Path, project: Path) -> None:
    write_project(project, {"tests/test_ok.py": "def test_ok():\n    pass\n"})
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    shutil.copyfile(PLUGIN_SOURCE, plugin_dir / f"{MODULE_NAME}.py")

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", MODULE_NAME, "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(plugin_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_driver_runs_suite_after_passing_targets(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_a.py": "def test_target():\n    pass\n",
            "tests/test_b.py": "def test_other():\n    assert False\n",
        },
    )

    ran = run_pytest(
        tmp_path, project, "--full-suite", "--", "tests/test_a.py::test_target", driver=True
    )

    phases = [(e["event"], e["phase"]) for e in ran.events if e["event"].startswith("phase")]
    assert phases == [
        ("phase_start", "targets"),
        ("phase_end", "targets"),
        ("phase_start", "suite"),
        ("phase_end", "suite"),
    ]
    assert ran.exit_code == 1
    run = parse_events(ran.events_text, ran.exit_code, targets=("tests/test_a.py::test_target",))
    assert run.status is RunStatus.COMPLETED, run.detail
    assert run.passed() == {"tests/test_a.py::test_target"}
    assert run.failed() == {"tests/test_b.py::test_other"}


def test_driver_skips_suite_after_failing_target(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "tests/test_a.py": "def test_target():\n    assert 1 == 2\n",
            "tests/test_b.py": "def test_other():\n    pass\n",
        },
    )
    targets = ("tests/test_a.py::test_target", "tests/test_b.py::test_other")

    ran = run_pytest(tmp_path, project, "--full-suite", "--", *targets, driver=True)

    assert ran.exit_code == 1
    assert ran.of("phase_skipped")[0]["phase"] == "suite"
    assert not [e for e in ran.of("phase_start") if e["phase"] == "suite"]
    run = parse_events(ran.events_text, ran.exit_code, targets=targets)
    assert run.status is RunStatus.COMPLETED
    assert "suite phase did not run" in run.detail
    assert run.tests["tests/test_a.py::test_target"].outcome is Outcome.FAILED
    # -x stopped the targets phase, so the second target counts as failed.
    other = run.tests["tests/test_b.py::test_other"]
    assert other.outcome is Outcome.ERROR
    assert "not run" in other.message


def test_driver_unknown_target_is_error(tmp_path: Path, project: Path) -> None:
    write_project(project, {"tests/test_a.py": "def test_real():\n    pass\n"})
    targets = ("tests/test_a.py::test_imaginary",)

    ran = run_pytest(tmp_path, project, "--full-suite", "--", *targets, driver=True)
    run = parse_events(ran.events_text, ran.exit_code, targets=targets, output=ran.output)

    assert run.status is RunStatus.INVALID
    assert "usage error" in run.detail
    assert "not found" in run.detail
    assert run.tests["tests/test_a.py::test_imaginary"].outcome is Outcome.ERROR


def test_driver_timeout_kills_pytest(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {"tests/test_a.py": "import time\n\ndef test_hang():\n    time.sleep(600)\n"},
    )

    ran = run_pytest(
        tmp_path, project, "--timeout", "2", "--own-process-group", "--full-suite", driver=True
    )
    run = parse_events(ran.events_text, ran.exit_code, output=ran.output)

    assert ran.exit_code == 124
    assert ran.of("phase_timeout")[0]["seconds"] == 2
    assert run.status is RunStatus.TIMED_OUT
    assert run.running_test == "tests/test_a.py::test_hang"
    assert "deadline of 2 s" in run.detail


def test_driver_output_limit_clips(tmp_path: Path, project: Path) -> None:
    write_project(
        project,
        {
            "pytest.ini": "[pytest]\naddopts = -s\n",
            "tests/test_a.py": "def test_noisy():\n    print('z' * 500_000)\n",
        },
    )

    ran = run_pytest(tmp_path, project, "--output-limit", "10000", "--full-suite", driver=True)

    assert ran.exit_code == 0
    assert len(ran.output) < 12_000
    assert "bytes cut" in ran.output
    assert "1 passed" in ran.output.splitlines()[-1]
