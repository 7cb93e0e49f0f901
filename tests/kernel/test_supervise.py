"""agentos run: real supervised processes, real git repositories, local and Docker sandboxes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.errors import KernelError
from kernel.program import parse_command
from kernel.reproduce import CommandReproducer, collect_inputs
from sandbox.local_backend import LocalBackend
from sandbox.workspace import Snapshot
from tests.conftest import git

WORKTREE = Path(__file__).resolve().parents[2]

AREA_APP = """\
import sys


def area(radius):
    return math.pi * radius**2


def main():
    print("starting", flush=True)
    print(f"area {area(float(sys.argv[1])):.2f}")


if __name__ == "__main__":
    main()
"""

AREA_TEST = """\
import app


def test_main_is_callable():
    assert callable(app.main)
"""

BAD_CONFIG_APP = """\
def load():
    raise ValueError("bad config")


if __name__ == "__main__":
    load()
"""

TRIVIAL_TEST = "def test_nothing():\n    assert True\n"


def agentos_run(
    repo: Path, *arguments: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``agentos run`` from this worktree in ``repo`` and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "kernel.cli", "run", *arguments],
        cwd=repo,
        env=_environment(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    environment = {**os.environ, "PYTHONPATH": str(WORKTREE), **(extra or {})}
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AGENTOS_MODEL", "AGENTOS_PROVIDER"):
        environment.pop(name, None)
    return environment


def program_runs(repo: Path) -> list[dict]:
    path = repo / ".agentos" / "history" / "programs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def commits(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


def test_crash_healed_and_restarted(make_repo):
    repo = make_repo({"app.py": AREA_APP, "tests/test_app.py": AREA_TEST})

    done = agentos_run(
        repo, "--sandbox", "local", "--backoff", "0.01", "--", "python", "app.py", "2"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == "starting\nstarting\narea 12.57\n"
    assert "NameError: name 'math' is not defined" in done.stderr
    assert "import math" in (repo / "app.py").read_text()
    assert len(commits(repo)) == 2
    assert "Agentos-Fault:" in git(repo, "log", "-1", "--format=%B")
    runs = program_runs(repo)
    assert [run["crashed"] for run in runs] == [True, False]
    assert runs[0]["fault"] is not None
    assert runs[1]["exit_code"] == 0


def test_crash_healed_in_docker(make_repo, docker_image):
    repo = make_repo({"app.py": AREA_APP, "tests/test_app.py": AREA_TEST})

    done = agentos_run(
        repo,
        "--sandbox",
        "docker",
        "--image",
        docker_image,
        "--backoff",
        "0.01",
        "--",
        "python",
        "app.py",
        "2",
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("area 12.57\n")
    assert "docker sandbox" in git(repo, "log", "-1", "--format=%B")
    assert "import math" in (repo / "app.py").read_text()


def test_crash_loop_ends_with_report(make_repo):
    repo = make_repo({"app.py": BAD_CONFIG_APP, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(
        repo, "--sandbox", "local", "--max-restarts", "2", "--backoff", "0.01", "--", "app.py"
    )

    assert done.returncode == 1
    assert "supervision stopped" in done.stderr
    assert "exception: ValueError: bad config at app.py:2 in load" in done.stderr
    assert "runs: 3; restarts: 2" in done.stderr
    assert "healing" in done.stderr
    assert "unhealed" in done.stderr
    assert len(commits(repo)) == 1
    assert [run["crashed"] for run in program_runs(repo)] == [True, True, True]


def test_crash_loop_heals_once(make_repo):
    repo = make_repo({"app.py": BAD_CONFIG_APP, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(
        repo, "--sandbox", "local", "--max-restarts", "3", "--backoff", "0.01", "--", "app.py"
    )

    # The same fault on the same HEAD is healed once, not on every restart.
    proposals = [line for line in done.stderr.splitlines() if line.startswith(" propose ")]
    assert len(proposals) == 1


@pytest.mark.parametrize(("name", "number"), [("SIGTERM", 15), ("SIGKILL", 9)])
def test_signal_passed_through(make_repo, name, number):
    program = f"import os, signal\n\nos.kill(os.getpid(), signal.{name})\n"
    repo = make_repo({"app.py": program, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(repo, "--sandbox", "local", "--backoff", "0.01", "--", "app.py")

    assert done.returncode == 128 + number
    assert "crash" not in done.stderr
    assert len(commits(repo)) == 1
    runs = program_runs(repo)
    assert len(runs) == 1
    assert runs[0]["signal"] == number
    assert runs[0]["crashed"] is False


def test_stop_signal_forwarded(make_repo):
    program = (
        "import signal, sys, time\n\n"
        "def stop(number, frame):\n"
        "    print('got signal', number, flush=True)\n"
        "    sys.exit(3)\n\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    repo = make_repo({"app.py": program, "tests/test_app.py": TRIVIAL_TEST})
    process = subprocess.Popen(
        [sys.executable, "-m", "kernel.cli", "run", "--sandbox", "local", "--", "app.py"],
        cwd=repo,
        env=_environment(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 3
    assert stdout == f"got signal {signal.SIGTERM.value}\n"


def test_stdin_passes_through(make_repo):
    program = "import sys\n\nfor line in sys.stdin:\n    print(line.strip().upper())\n"
    repo = make_repo({"app.py": program, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(repo, "--sandbox", "local", "--", "python", "app.py", stdin="hello\nworld\n")

    assert done.returncode == 0
    assert done.stdout == "HELLO\nWORLD\n"


def test_exit_code_passes_through(make_repo):
    program = "import sys\n\nprint('done')\nsys.exit(7)\n"
    repo = make_repo({"app.py": program, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(repo, "--sandbox", "local", "--", "app.py")

    assert done.returncode == 7
    assert done.stdout == "done\n"
    assert len(program_runs(repo)) == 1


def test_module_command_runs(make_repo):
    files = {
        "pkg/__init__.py": "",
        "pkg/__main__.py": "import sys\n\nprint('args', sys.argv[1:])\n",
        "tests/test_app.py": TRIVIAL_TEST,
    }
    repo = make_repo(files)

    done = agentos_run(repo, "--sandbox", "local", "--", "-m", "pkg", "a", "b")

    assert done.returncode == 0
    assert done.stdout == "args ['a', 'b']\n"


STRICT_APP = """\
import os


def check_mode():
    if os.environ.get("APP_MODE") == "strict":
        raise RuntimeError("strict mode is not supported")


if __name__ == "__main__":
    check_mode()
"""


def test_crash_needing_env_not_reproduced(make_repo):
    repo = make_repo({"app.py": STRICT_APP, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(
        repo,
        "--sandbox",
        "local",
        "--max-restarts",
        "1",
        "--backoff",
        "0.01",
        "--",
        "app.py",
        env={"APP_MODE": "strict"},
    )

    assert done.returncode == 1
    assert "did not reproduce" in done.stderr
    assert "--allow-env" in done.stderr


def test_allowed_env_reproduces(make_repo):
    repo = make_repo({"app.py": STRICT_APP, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(
        repo,
        "--sandbox",
        "local",
        "--max-restarts",
        "1",
        "--backoff",
        "0.01",
        "--allow-env",
        "APP_MODE",
        "--",
        "app.py",
        env={"APP_MODE": "strict"},
    )

    assert done.returncode == 1
    assert "did not reproduce" not in done.stderr
    assert "unhealed" in done.stderr


def test_sandbox_gets_only_allowed_inputs(make_repo):
    program = (
        "import os\n\n"
        "print('variables', sorted(name for name in os.environ if name.startswith('APP_')))\n"
        "print('files', sorted(name for name in os.listdir('.') if name.endswith('.txt')))\n"
    )
    repo = make_repo({"app.py": program})
    (repo / "allowed.txt").write_text("in\n")
    (repo / "private.txt").write_text("out\n")
    environ = {"APP_ALLOWED": "1", "APP_HIDDEN": "2"}
    inputs = collect_inputs(repo, repo, ("allowed.txt",), ("APP_ALLOWED",), environ)
    command = parse_command(["python", "app.py"])
    plan = command.sandbox_plan(repo, repo, inputs.environment, timeout=60)
    reproducer = CommandReproducer(LocalBackend(), plan, inputs, repo, command.display)

    result = reproducer.run(Snapshot(git_archive(repo)))

    assert result.exit_code == 0, result.output
    assert "variables ['APP_ALLOWED']" in result.output
    assert "files ['allowed.txt']" in result.output


def git_archive(repo: Path) -> bytes:
    return subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, capture_output=True, check=True
    ).stdout


def test_allow_file_outside_repository_rejected(make_repo, tmp_path):
    repo = make_repo({"app.py": "print('hi')\n"})
    outside = tmp_path / "input.txt"
    outside.write_text("data\n")

    with pytest.raises(KernelError, match="outside the repository"):
        collect_inputs(repo, repo, (str(outside),), (), {})


def test_dirty_tree_fix_goes_on_branch(make_repo):
    repo = make_repo({"app.py": AREA_APP, "notes.txt": "old\n", "tests/test_app.py": AREA_TEST})
    (repo / "notes.txt").write_text("my uncommitted notes\n")

    done = agentos_run(repo, "--sandbox", "local", "--backoff", "0.01", "--", "app.py", "2")

    assert done.returncode == 1
    assert "the fix is on branch agentos/fixes-" in done.stderr
    assert (repo / "notes.txt").read_text() == "my uncommitted notes\n"
    assert "import math" not in (repo / "app.py").read_text()
    branches = git(repo, "branch", "--list", "agentos/fixes-*").split()
    assert len(branches) == 1
    assert "import math" in git(repo, "show", f"{branches[0]}:app.py")


@pytest.mark.parametrize(
    ("argv", "arguments"),
    [
        (["--", "app.py", "x"], ("app.py", "x")),
        (["python3", "-m", "pkg", "x"], ("-m", "pkg", "x")),
        (["tool/run.py"], ("tool/run.py",)),
    ],
)
def test_command_parsed(argv, arguments):
    assert parse_command(argv).arguments == arguments


@pytest.mark.parametrize("argv", [[], ["--"], ["python"], ["python", "-c", "print(1)"], ["-m"]])
def test_invalid_command_rejected(argv):
    with pytest.raises(KernelError):
        parse_command(argv)


def test_backoff_between_restarts(make_repo):
    repo = make_repo({"app.py": BAD_CONFIG_APP, "tests/test_app.py": TRIVIAL_TEST})

    done = agentos_run(
        repo, "--no-heal", "--max-restarts", "2", "--backoff", "0.01", "--", "app.py"
    )

    assert done.returncode == 1
    assert "in 0.01 s" in done.stderr
    assert "in 0.02 s" in done.stderr
    assert "healing: not tried" in done.stderr
