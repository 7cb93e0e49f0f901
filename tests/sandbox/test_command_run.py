"""Running a program's command in the sandbox under the crash-recording bootstrap."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

import pytest

from sandbox.command import BOOTSTRAP, CRASH_FILE_VARIABLE, ROOT_VARIABLE, CommandPlan, parse_crash
from sandbox.docker_backend import DockerBackend
from sandbox.local_backend import LocalBackend
from sandbox.workspace import Snapshot

APP = """import sys

from helpers import parse


def main(argv):
    api_token = "s3cr3t-value"
    count = parse(argv[1])
    return 10 // count


if __name__ == "__main__":
    print("result", main(sys.argv))
"""

HELPERS = """import os


def parse(text):
    return int(text) - int(os.environ.get("OFFSET", "0"))
"""


def tar_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(data), 0o644
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


SNAPSHOT = Snapshot(tar_of({"app.py": APP, "helpers.py": HELPERS}))


def check_crash(backend) -> None:
    result = backend.run_command(SNAPSHOT, CommandPlan(("app.py", "0"), timeout=60))
    assert result.exit_code == 1
    assert result.crash is not None
    assert result.crash.exc_type == "ZeroDivisionError"
    innermost = result.crash.frames[-1]
    assert innermost.path == "app.py"
    assert innermost.function == "main"
    assert innermost.in_workspace
    assert dict(innermost.variables)["api_token"] == "<redacted>"
    assert dict(innermost.variables)["count"] == "0"
    assert "ZeroDivisionError" in result.output


def check_allowed_environment(backend) -> None:
    plan = CommandPlan(("app.py", "2"), environment={"OFFSET": "2"}, timeout=60)
    result = backend.run_command(SNAPSHOT, plan)
    assert result.crash is not None
    assert result.crash.exc_type == "ZeroDivisionError"
    assert result.crash.frames[-1].function == "main"


def test_local_command_records_crash():
    check_crash(LocalBackend())


def test_local_command_without_crash():
    result = LocalBackend().run_command(SNAPSHOT, CommandPlan(("app.py", "5"), timeout=60))
    assert result.exit_code == 0
    assert result.crash is None
    assert "result 2" in result.output


def test_local_command_gets_allowed_environment():
    check_allowed_environment(LocalBackend())


@pytest.mark.docker
def test_docker_command_records_crash(docker_image):
    backend = DockerBackend(docker_image)
    try:
        check_crash(backend)
        check_allowed_environment(backend)
    finally:
        backend.close()


def test_bootstrap_passes_exit_code_and_argv(tmp_path):
    (tmp_path / "prog.py").write_text("import sys\nprint(sys.argv)\nsys.exit(7)\n")
    done = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "prog.py", "a", "b"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 7
    assert done.stdout.strip() == "['prog.py', 'a', 'b']"


def test_bootstrap_runs_module_and_hides_itself(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("def run():\n    raise KeyError('k')\n\nrun()\n")
    crash_file = tmp_path / "crash.json"
    done = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "-m", "pkg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={CRASH_FILE_VARIABLE: str(crash_file), ROOT_VARIABLE: str(tmp_path), "PATH": ""},
    )
    assert done.returncode == 1
    assert "bootstrap.py" not in done.stderr
    record = parse_crash(crash_file.read_text())
    assert record is not None
    assert record.exc_type == "KeyError"
    assert [frame.function for frame in record.frames] == ["<module>", "run"]
    assert record.frames[-1].path == "pkg/__main__.py"


NESTED = Snapshot(
    tar_of(
        {
            "tools/where.py": "import os\nprint('cwd', os.getcwd().rsplit('/', 1)[-1])\n",
            "tools/hang.py": "import time\nprint('waiting', flush=True)\ntime.sleep(600)\n",
        }
    )
)


def check_cwd_and_deadline(backend) -> None:
    result = backend.run_command(NESTED, CommandPlan(("where.py",), cwd="tools", timeout=60))
    assert result.exit_code == 0
    assert "cwd tools" in result.output

    result = backend.run_command(NESTED, CommandPlan(("hang.py",), cwd="tools", timeout=2))
    assert result.timed_out
    assert result.exit_code is None
    assert result.crash is None
    assert "waiting" in result.output

    with pytest.raises(ValueError, match="not inside the repository"):
        backend.run_command(NESTED, CommandPlan(("where.py",), cwd="../outside"))


def test_local_command_in_folder_until_deadline():
    check_cwd_and_deadline(LocalBackend())


@pytest.mark.docker
def test_docker_command_in_folder_until_deadline(docker_image):
    backend = DockerBackend(docker_image)
    try:
        check_cwd_and_deadline(backend)
    finally:
        backend.close()


def test_bootstrap_writes_record_to_descriptor(tmp_path):
    (tmp_path / "prog.py").write_text(
        "import os\nos.write(2, b'stray\\n')\nraise RuntimeError('boom')\n"
    )
    read, write = os.pipe()
    done = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "--limit=nproc=512", "prog.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        pass_fds=(write,),
        env={CRASH_FILE_VARIABLE: f"fd:{write}", "PATH": ""},
    )
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as stream:
        record = parse_crash(stream.read())
    assert done.returncode == 1
    assert "stray" in done.stderr
    assert record is not None
    assert record.exc_type == "RuntimeError"
    assert record.frames[-1].path == "prog.py"
