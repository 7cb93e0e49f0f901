"""End-to-end heals through the CLI with real git, the Docker sandbox and the offline provider."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.cli import main
from kernel.commands.demo import DEMO_PROJECT
from kernel.gitops import TOOL_EMAIL
from tests.conftest import git

pytestmark = pytest.mark.docker

CALC_WITH_MISSING_IMPORT = """def double(x):
    return x * 2


def area(r):
    return math.pi * r * r
"""

TEST_DOUBLE = """from calc import double


def test_double():
    assert double(2) == 4
"""


def copy_demo(make_repo) -> Path:
    files = {
        str(path.relative_to(DEMO_PROJECT)): path.read_text()
        for path in DEMO_PROJECT.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    return make_repo(files)


def tool_commits(root: Path, since: str) -> list[str]:
    return git(root, "rev-list", "--reverse", f"{since}..HEAD").split()


def trailers(root: Path, sha: str) -> dict[str, str]:
    text = git(root, "log", "-1", "--format=%(trailers:only,unfold)", sha)
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def host_pytest(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def test_offline_heal_fixes_seeded_bugs(make_repo, docker_image, capsys):
    root = copy_demo(make_repo)
    start = git(root, "rev-parse", "HEAD").strip()

    code = main(
        [
            "heal",
            str(root),
            "--sandbox",
            "docker",
            "--image",
            docker_image,
            "--provider",
            "offline",
            "--json",
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    commits = tool_commits(root, start)
    healed = [f for f in report["faults"] if f["status"] == "healed"]
    assert len(commits) == len(healed) >= 4
    assert sorted(f["commit"] for f in healed) == sorted(commits)
    for sha in commits:
        assert git(root, "log", "-1", "--format=%ae", sha).strip() == TOOL_EMAIL
        assert git(root, "log", "-1", "--format=%s", sha).startswith("fix: ")
        found = trailers(root, sha)
        assert found["Agentos-Provider"] == "offline"
        assert found["Agentos-Heal"] == report["heal_id"]
        assert found["Agentos-Fault"] in {f["id"] for f in healed}
    assert host_pytest(root).returncode == 0
    assert git(root, "status", "--porcelain") == ""
    assert "import math" in (root / "inventory/geometry.py").read_text()
    assert "import os" not in (root / "inventory/geometry.py").read_text()
    assert "return total" in (root / "inventory/cart.py").read_text()
    assert "self.entries)" in (root / "inventory/cart.py").read_text()
    assert report["remaining"] == []
    resolved = [f for f in report["faults"] if f["status"] == "resolved"]
    assert {f["kind"] for f in resolved} == {"test"}
    assert len(resolved) == 3
    assert all(f["commit"] in commits for f in resolved)


def test_heal_record_is_saved_and_excluded(make_repo, docker_image, capsys):
    root = make_repo(
        {
            "calc.py": "import os\n\n\ndef one():\n    return 1\n",
            "test_calc.py": "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n",
        }
    )

    code = main(["heal", str(root), "--sandbox", "docker", "--image", docker_image, "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    record = root / ".agentos" / "heals" / f"{report['heal_id']}.json"
    assert json.loads(record.read_text())["heal_id"] == report["heal_id"]
    assert "/.agentos/" in (root / ".git" / "info" / "exclude").read_text()
    assert not (root / ".gitignore").exists()
    assert git(root, "status", "--porcelain") == ""


def test_dirty_tree_is_refused_byte_identical(make_repo, capsys):
    root = copy_demo(make_repo)
    (root / "inventory/cart.py").write_text("# my unsaved work\n")
    (root / "inventory/geometry.py").write_text("# staged work\n")
    git(root, "add", "inventory/geometry.py")
    (root / "notes.txt").write_bytes(b"untracked \x00 bytes")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    index_before = (root / ".git" / "index").read_bytes()
    head_before = git(root, "rev-parse", "HEAD")

    code = main(["heal", str(root), "--sandbox", "local"])

    assert code == 2
    assert "uncommitted changes" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
    assert (root / ".git" / "index").read_bytes() == index_before
    assert git(root, "rev-parse", "HEAD") == head_before


def test_allow_dirty_puts_fixes_on_branch(make_repo, docker_image, capsys):
    root = make_repo({"calc.py": "import os\n\n\ndef one():\n    return 1\n"})
    (root / "calc.py").write_text("import os\n\n\ndef one():\n    return 1  # my edit\n")
    user_bytes = (root / "calc.py").read_bytes()

    code = main(
        [
            "heal",
            str(root),
            "--sandbox",
            "docker",
            "--image",
            docker_image,
            "--allow-dirty",
            "--json",
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["branch"].startswith("agentos/fixes-")
    assert (root / "calc.py").read_bytes() == user_bytes
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    fixed = git(root, "show", f"{report['branch']}:calc.py")
    assert "import os" not in fixed
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_dry_run_commits_nothing(make_repo, docker_image, capsys):
    root = copy_demo(make_repo)
    head = git(root, "rev-parse", "HEAD")

    code = main(
        ["heal", str(root), "--sandbox", "docker", "--image", docker_image, "--dry-run", "--json"]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "status", "--porcelain") == ""
    validated = [f for f in report["faults"] if f["status"] == "validated"]
    assert validated
    for fault in validated:
        assert fault["diff"].startswith("diff --git a/")
        assert "\n+++ b/" in fault["diff"]


def test_verification_failure_is_reverted(make_repo, docker_image, capsys):
    # A pre-commit hook that breaks the staged file, once, makes the committed
    # tree differ from the validated one, so only verification can catch it.
    root = make_repo(
        {
            "calc.py": CALC_WITH_MISSING_IMPORT,
            "test_calc.py": TEST_DOUBLE,
        }
    )
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        "#!/bin/sh\n"
        "[ -f .git/broken-once ] && exit 0\n"
        "touch .git/broken-once\n"
        "sed -i 's/x \\* 2/x * 3/' calc.py\n"
        "git add calc.py\n"
    )
    hook.chmod(0o755)
    start = git(root, "rev-parse", "HEAD").strip()

    code = main(["heal", str(root), "--sandbox", "docker", "--image", docker_image, "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    [outcome] = report["faults"]
    assert outcome["status"] == "reverted"
    assert "test_calc.py::test_double" in outcome["reason"]
    fix, revert = tool_commits(root, start)
    assert outcome["commit"] == fix
    assert outcome["revert_commit"] == revert
    assert trailers(root, revert)["Agentos-Reverts"] == fix
    assert git(root, "diff", start, "HEAD") == ""
    assert git(root, "status", "--porcelain") == ""


def test_missing_package_is_environment_fault(make_repo, docker_image, capsys):
    root = make_repo(
        {
            "reader.py": "import yaml\n\n\ndef load(text):\n    return yaml.safe_load(text)\n",
            "test_reader.py": "from reader import load\n\n\ndef test_load():\n    load('')\n",
        }
    )
    head = git(root, "rev-parse", "HEAD")

    code = main(["heal", str(root), "--sandbox", "docker", "--image", docker_image, "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert git(root, "rev-parse", "HEAD") == head
    [outcome] = report["faults"]
    assert outcome["status"] == "environment"
    assert "no module named 'yaml'" in outcome["reason"]
    assert "--image" in outcome["reason"]
    assert outcome["attempts"] == []


def test_docker_without_daemon_fails_fast(make_repo, monkeypatch, capsys, tmp_path):
    root = make_repo({"a.py": "x = 1\n"})
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")

    code = main(["heal", str(root), "--sandbox", "docker"])

    assert code == 2
    error = capsys.readouterr().err
    assert "Docker" in error
    assert "dockerd" in error or "start" in error.lower()


def test_not_a_repository_is_usage_error(tmp_path, capsys):
    code = main(["heal", str(tmp_path), "--sandbox", "local"])

    assert code == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_demo_heals_bundled_project(tmp_path, docker_image, capsys, monkeypatch):
    monkeypatch.setenv("AGENTOS_IMAGE", docker_image)
    target = tmp_path / "demo"

    code = main(["demo", "--path", str(target), "--sandbox", "docker"])

    assert code == 0
    log = git(target, "log", "--format=%ae %s")
    assert log.count(TOOL_EMAIL) >= 4
    captured = capsys.readouterr()
    assert "fix: " in captured.out
    assert "copied the buggy example project" in captured.err


def test_summary_goes_to_stdout(make_repo, capsys):
    root = make_repo({"calc.py": "import os\n\nVALUE = 1\n"})

    code = main(["heal", str(root), "--sandbox", "local", "--provider", "offline"])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "1 fix(es) committed" in captured.out
    assert "detect" in captured.err
    assert "fix(es) committed" not in captured.err
