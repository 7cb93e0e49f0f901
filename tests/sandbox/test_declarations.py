"""Reading a repository's dependency declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.declarations import DeclarationError, python_allowed, read_declarations

PYPROJECT = """\
[project]
name = "demo"
requires-python = ">=3.10"
dependencies = ["attrs>=22", "tomli; python_version < '3.11'"]

[project.optional-dependencies]
test = ["pytest-timeout==2.3.1"]
all = ["demo[test]", "rich"]
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def requirements(root: Path) -> list[str]:
    return [declared.requirement for declared in read_declarations(root).requirements]


def test_pyproject_dependencies_and_extras(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT})

    declarations = read_declarations(tmp_path)

    assert requirements(tmp_path) == [
        "attrs>=22",
        'tomli; python_version < "3.11"',
        "rich",
        "pytest-timeout==2.3.1",
    ]
    assert declarations.requires_python == ">=3.10"
    source = declarations.source_of("pytest_timeout")
    assert source == "pyproject.toml optional-dependencies.test[0]"


def test_requirements_files_follow_includes(tmp_path):
    write(
        tmp_path,
        {
            "requirements.txt": "# runtime\nrequests==2.31.0  # pinned\n-r req/base.txt\n",
            "req/base.txt": "idna>=3 \\\n  --hash=sha256:abc\n-c ../constraints.txt\n",
            "constraints.txt": "urllib3<3\n",
            "requirements-dev.lock": "pytest==8.0.0\n",
        },
    )

    declarations = read_declarations(tmp_path)

    assert requirements(tmp_path) == ["requests==2.31.0", "idna>=3", "pytest==8.0.0"]
    assert [d.requirement for d in declarations.constraints] == ["urllib3<3"]
    assert declarations.source_of("idna") == "req/base.txt:1"
    assert "constraints.txt" in declarations.files


def test_include_outside_repository_rejected(tmp_path):
    root = write(tmp_path / "repo", {"requirements.txt": "-r ../shared.txt\n"})
    (tmp_path / "shared.txt").write_text("attrs\n")

    with pytest.raises(DeclarationError, match="outside the repository"):
        read_declarations(root)


@pytest.mark.parametrize(
    "line, message",
    [
        ("-e ./vendor/pkg", "editable install"),
        ("./vendor/pkg", "path or URL"),
        ("pkg @ file:///tmp/pkg", "URL or path"),
        ("--index-url http://127.0.0.1:1/simple", "unsupported option"),
        ("not a requirement!", "invalid requirement"),
    ],
)
def test_unusable_lines_rejected(tmp_path, line, message):
    write(tmp_path, {"requirements.txt": f"attrs\n{line}\n"})

    with pytest.raises(DeclarationError, match=message) as raised:
        read_declarations(tmp_path)
    assert "requirements.txt:2" in str(raised.value)


def test_empty_repository_declares_nothing(tmp_path):
    declarations = read_declarations(tmp_path)

    assert declarations.requirements == ()
    assert declarations.requires_python is None


def test_python_allowed_checks_specifier():
    assert python_allowed(">=3.10", "3.11.2")
    assert not python_allowed(">=3.12", "3.11.2")
    assert python_allowed(None, "3.11.2")


def test_repository_itself_skipped(tmp_path):
    write(tmp_path, {"pyproject.toml": PYPROJECT, "requirements-dev.txt": "-e .[test]\n.\nruff\n"})

    assert requirements(tmp_path)[-1] == "ruff"
    assert len(requirements(tmp_path)) == 5
