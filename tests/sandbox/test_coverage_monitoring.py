"""The coverage plugin on Python 3.12+, where it records lines with sys.monitoring.

These tests need a Python 3.12 or later interpreter with pytest: this one,
a ``python3.12``/``python3.13`` on PATH, or a pyenv version. When that
interpreter lacks pytest, it is installed into a temporary virtual
environment from the local package sources that pip is configured with
(``file://`` indexes and local find-links folders) and nothing else, so
nothing is downloaded. Without such an interpreter the tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import coverage_plugin
from sandbox.coverage_plugin import read_coverage

GRADE = """\
def grade(score):
    if score >= 50:
        return "pass"
    return "fail"
"""

TEST_GRADE = """\
from app.grade import grade


def test_pass():
    assert grade(70) == "pass"


def test_fail():
    assert grade(10) == "fail"
"""

# Takes the monitoring tool ids the plugin could use before pytest starts.
OCCUPY_TOOL_IDS = """\
import sys

for tool_id in (1, 3, 4):
    sys.monitoring.use_tool_id(tool_id, "another tool")
"""


def _version(python: str) -> tuple[int, int] | None:
    done = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def _has_pytest(python: str) -> bool:
    done = subprocess.run([python, "-c", "import pytest"], capture_output=True, check=False)
    return done.returncode == 0


def _interpreters() -> list[str]:
    """List Python 3.12+ interpreters on this machine, this one first when it qualifies."""
    found = [sys.executable]
    found += [path for name in ("python3.13", "python3.12") if (path := shutil.which(name))]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found += sorted(str(path) for path in pyenv.glob("3.1[2-9]*/bin/python"))
    return [
        python
        for python in dict.fromkeys(found)
        if (version := _version(python)) is not None and version >= (3, 12)
    ]


def _local_package_sources() -> list[str]:
    """Return pip's configured indexes and find-links that are on this machine."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    sources = []
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        if not key.endswith(("index-url", "find-links")):
            continue
        for item in value.strip("'\"").split():
            if item.startswith("file://") or (item.startswith("/") and Path(item).is_dir()):
                sources.append(item)
    return sources


def _install_pytest(python: str, folder: Path) -> str | None:
    """Install pytest for ``python`` in a virtual environment from local sources only."""
    sources = _local_package_sources()
    indexes = [s for s in sources if s.startswith("file://") and re.search(r"/simple/?$", s)]
    folders = [s for s in sources if s not in indexes]
    if not sources:
        return None
    subprocess.run([python, "-m", "venv", str(folder)], check=True, capture_output=True)
    arguments = ["--index-url", indexes[0]] if indexes else ["--no-index"]
    arguments += [f"--extra-index-url={index}" for index in indexes[1:]]
    arguments += [f"--find-links={path}" for path in folders]
    # No configuration file or PIP_ variable may add a remote source.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    venv_python = str(folder / "bin" / "python")
    done = subprocess.run(
        [venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *arguments]
        + ["pytest"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return venv_python if done.returncode == 0 else None


@pytest.fixture(scope="session")
def monitoring_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a Python 3.12+ interpreter that can run pytest, or skip."""
    interpreters = _interpreters()
    for python in interpreters:
        if _has_pytest(python):
            return python
    for python in interpreters:
        installed = _install_pytest(python, tmp_path_factory.mktemp("venv312"))
        if installed is not None:
            return installed
    if not interpreters:
        pytest.skip("no Python 3.12 or later interpreter found (PATH, pyenv), so no sys.monitoring")
    pytest.skip(
        f"Python 3.12+ found ({', '.join(interpreters)}) but without pytest, and pytest is "
        "not installable from local package sources"
    )


def run_with_plugin(python: str, root: Path, *extra_paths: Path) -> list[str]:
    """Run the suite under ``root`` with the plugin; return the raw coverage records."""
    plugins = root.parent / "plugins"
    plugins.mkdir(exist_ok=True)
    shutil.copy(coverage_plugin.__file__, plugins / f"{coverage_plugin.MODULE_NAME}.py")
    output = root.parent / "coverage.jsonl"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOS_")}
    environment["PYTHONPATH"] = os.pathsep.join(str(p) for p in (plugins, *extra_paths))
    environment["PYTEST_PLUGINS"] = coverage_plugin.MODULE_NAME
    environment[coverage_plugin.COVERAGE_VARIABLE] = str(output)
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return output.read_text().splitlines()


def write_suite(root: Path) -> None:
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "grade.py").write_text(GRADE)
    (root / "tests" / "test_grade.py").write_text(textwrap.dedent(TEST_GRADE))


def test_monitoring_records_lines_per_test(monitoring_python: str, tmp_path: Path) -> None:
    root = tmp_path / "work"
    write_suite(root)

    records = run_with_plugin(monitoring_python, root)

    coverage = read_coverage("\n".join(records)).lines
    assert coverage["tests/test_grade.py::test_pass"]["app/grade.py"] == frozenset({2, 3})
    # Line 2 ran in the first test too, so this shows each test re-enables it.
    assert coverage["tests/test_grade.py::test_fail"]["app/grade.py"] == frozenset({2, 4})
    assert 5 in coverage["tests/test_grade.py::test_pass"]["tests/test_grade.py"]
    assert all('"tracer": "monitoring"' in record for record in records)


def test_taken_tool_ids_fall_back_to_settrace(monitoring_python: str, tmp_path: Path) -> None:
    root = tmp_path / "work"
    write_suite(root)
    startup = tmp_path / "startup"
    startup.mkdir()
    (startup / "sitecustomize.py").write_text(OCCUPY_TOOL_IDS)

    records = run_with_plugin(monitoring_python, root, startup)

    coverage = read_coverage("\n".join(records)).lines
    assert coverage["tests/test_grade.py::test_fail"]["app/grade.py"] == frozenset({2, 4})
    assert all('"tracer": "settrace"' in record for record in records)
