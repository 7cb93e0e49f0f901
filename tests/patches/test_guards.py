"""Guards on the paths a candidate touches and on the code it leaves behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from patches.diff import make_candidate
from patches.guards import GuardPolicy, check_candidate, is_test_path
from patches.types import Candidate

SOURCE = "def total(items):\n    return sum(items)\n"
FIXED = "def total(items):\n    return sum(item.price for item in items)\n"


def candidate(path: str, before: str = SOURCE, after: str = FIXED) -> Candidate:
    return make_candidate("test", None, "a change", {path: (before, after)})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "cart.py").write_text(SOURCE)
    return root


def test_valid_candidate_passes(repo: Path) -> None:
    assert check_candidate(candidate("shop/cart.py"), repo, GuardPolicy()) == []


def test_absolute_path_rejected(repo: Path) -> None:
    reasons = check_candidate(candidate(str(repo / "shop" / "cart.py")), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "is an absolute path" in reasons[0]


def test_parent_path_rejected(repo: Path) -> None:
    reasons = check_candidate(candidate("shop/../../elsewhere.py"), repo, GuardPolicy())
    assert reasons == [
        "shop/../../elsewhere.py contains '..', but edits must stay inside the repository."
    ]


def test_symlink_escaping_rejected(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, repo / "linked")
    reasons = check_candidate(candidate("linked/cart.py"), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "linked/cart.py resolves to" in reasons[0]
    assert "outside the repository" in reasons[0]


def test_symlink_to_test_file_rejected(repo: Path) -> None:
    (repo / "tests").mkdir()
    (repo / "tests" / "test_cart.py").write_text("def test_x():\n    assert True\n")
    os.symlink(repo / "tests" / "test_cart.py", repo / "shop" / "alias.py")
    reasons = check_candidate(candidate("shop/alias.py"), repo, GuardPolicy())
    assert any("is a test file" in reason for reason in reasons)


def test_git_folder_rejected(repo: Path) -> None:
    reasons = check_candidate(candidate(".git/hooks/pre-commit.py"), repo, GuardPolicy())
    assert reasons == [".git/hooks/pre-commit.py is inside .git/, which patches may not touch."]


def test_agentos_folder_rejected(repo: Path) -> None:
    reasons = check_candidate(candidate(".agentos/state.py"), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "inside .agentos/" in reasons[0]


@pytest.mark.parametrize(
    "path", ["tests/test_cart.py", "test_cart.py", "shop/cart_test.py", "test/helpers.py"]
)
def test_test_file_rejected(repo: Path, path: str) -> None:
    reasons = check_candidate(candidate(path), repo, GuardPolicy())
    assert len(reasons) == 1
    assert reasons[0].startswith(f"{path} is a test file")


def test_test_file_allowed_by_policy(repo: Path) -> None:
    policy = GuardPolicy(allow_test_edits=True)
    assert check_candidate(candidate("tests/test_cart.py"), repo, policy) == []


def test_conftest_rejected(repo: Path) -> None:
    reasons = check_candidate(candidate("conftest.py"), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "conftest.py is pytest configuration" in reasons[0]


@pytest.mark.parametrize("name", ["pytest.ini", "tox.ini", "setup.cfg"])
def test_pytest_config_files_rejected(repo: Path, name: str) -> None:
    change = candidate(name, "[pytest]\naddopts = -q\n", "[pytest]\naddopts = -q -k 'not slow'\n")
    reasons = check_candidate(change, repo, GuardPolicy())
    assert len(reasons) == 1
    assert f"{name} may contain pytest configuration" in reasons[0]


PYPROJECT = """\
[project]
name = "shop"
version = "1.0"

[tool.pytest.ini_options]
addopts = "-q"

[tool.ruff]
line-length = 100
"""


def test_pyproject_pytest_table_rejected(repo: Path) -> None:
    after = PYPROJECT.replace('addopts = "-q"', 'addopts = "-q --deselect tests/test_cart.py"')
    reasons = check_candidate(candidate("pyproject.toml", PYPROJECT, after), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "pyproject.toml changes pytest configuration at line 6" in reasons[0]


def test_pyproject_new_pytest_table_rejected(repo: Path) -> None:
    before = '[project]\nname = "shop"\n'
    after = before + '\n[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n'
    reasons = check_candidate(candidate("pyproject.toml", before, after), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "pytest configuration" in reasons[0]


def test_pyproject_other_table_allowed(repo: Path) -> None:
    after = PYPROJECT.replace('version = "1.0"', 'version = "1.1"')
    assert check_candidate(candidate("pyproject.toml", PYPROJECT, after), repo, GuardPolicy()) == []


def test_compile_failure_rejected(repo: Path) -> None:
    broken = "def total(items):\n    return sum(items\n"
    reasons = check_candidate(candidate("shop/cart.py", SOURCE, broken), repo, GuardPolicy())
    assert len(reasons) == 1
    assert reasons[0].startswith("shop/cart.py does not parse at line 2")


def test_compile_only_failure_rejected(repo: Path) -> None:
    # libcst accepts this, but CPython rejects a return outside a function.
    after = SOURCE + "return 1\n"
    reasons = check_candidate(candidate("shop/cart.py", SOURCE, after), repo, GuardPolicy())
    assert reasons == ["shop/cart.py does not compile at line 3: 'return' outside function."]


def test_broad_except_rejected(repo: Path) -> None:
    after = (
        "def total(items):\n"
        "    try:\n"
        "        return sum(items)\n"
        "    except Exception:\n"
        "        return 0\n"
    )
    reasons = check_candidate(candidate("shop/cart.py", SOURCE, after), repo, GuardPolicy())
    assert len(reasons) == 1
    assert "adds a broad except that swallows errors at line 4" in reasons[0]


def test_reraising_except_allowed(repo: Path) -> None:
    after = (
        "def total(items):\n"
        "    try:\n"
        "        return sum(items)\n"
        "    except Exception as error:\n"
        "        raise ValueError('bad items') from error\n"
    )
    assert check_candidate(candidate("shop/cart.py", SOURCE, after), repo, GuardPolicy()) == []


def test_added_skip_rejected(repo: Path) -> None:
    before = "def test_total():\n    assert 1 == 1\n"
    after = "import pytest\n\n\n@pytest.mark.skip\ndef test_total():\n    assert 1 == 1\n"
    policy = GuardPolicy(allow_test_edits=True)
    reasons = check_candidate(candidate("tests/test_cart.py", before, after), repo, policy)
    assert len(reasons) == 1
    assert "adds a skip or xfail marker" in reasons[0]


def test_removed_assertion_rejected(repo: Path) -> None:
    before = "def test_total():\n    assert 1 == 1\n    assert 2 == 2\n"
    after = "def test_total():\n    assert 1 == 1\n"
    policy = GuardPolicy(allow_test_edits=True)
    reasons = check_candidate(candidate("tests/test_cart.py", before, after), repo, policy)
    assert len(reasons) == 1
    assert "1 fewer assertions" in reasons[0]


def test_is_test_path_cases() -> None:
    assert is_test_path("tests/unit/helpers.py")
    assert is_test_path("conftest.py")
    assert is_test_path("pkg/test_x.py")
    assert not is_test_path("pkg/testing.py")
    assert not is_test_path("pkg/contest.py")
    assert not is_test_path("latest/app.py")


@pytest.mark.parametrize("path", ["shop/cart.py", "shop"])
def test_protected_path_rejected(repo: Path, path: str) -> None:
    policy = GuardPolicy(protected=((path, "it is stored in Git LFS"),))

    reasons = check_candidate(candidate("shop/cart.py"), repo, policy)

    assert reasons == ["shop/cart.py may not be edited: it is stored in Git LFS."]


def test_protected_prefix_needs_whole_folder(repo: Path) -> None:
    policy = GuardPolicy(protected=(("sho", "it is inside a submodule"),))

    assert check_candidate(candidate("shop/cart.py"), repo, policy) == []
