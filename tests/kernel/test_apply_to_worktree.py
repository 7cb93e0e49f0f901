"""``agentos heal --apply-to-worktree`` with real git, the local sandbox and the offline provider.

Each test gives the user uncommitted work of every kind (an unstaged edit,
a staged change, an untracked file, a stash entry) and compares it before
and after the heal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.cli import main
from kernel.config import load_settings
from kernel.console import Reporter
from kernel.gitops import TOOL_EMAIL
from kernel.outcome import FaultStatus
from kernel.runner import HealOptions, run_heal
from tests.conftest import git

# ruff's safe fix removes the unused import on line 1; the user edits the end.
CALC = "import os\n\n\ndef one():\n    return 1\n\n\ndef two():\n    return 2\n"
CALC_USER = CALC + "\n\ndef three():\n    return 3  # my unsaved work\n"
CALC_FIXED = CALC.replace("import os\n", "")
TEST_CALC = "from calc import one\n\n\ndef test_one():\n    assert one() == 1\n"
LOCAL = ["--sandbox", "local", "--provider", "offline"]


@pytest.fixture
def project(make_repo) -> Path:
    """A repository with one lint fault in calc.py and uncommitted work of every kind."""
    root = make_repo(
        {
            "calc.py": CALC,
            "test_calc.py": TEST_CALC,
            "notes.txt": "one\n",
            "staged.txt": "committed\n",
        }
    )
    (root / "notes.txt").write_text("stashed edit\n")
    git(root, "stash", "-q")
    (root / "notes.txt").write_text("unstaged edit\n")
    (root / "staged.txt").write_text("staged edit\n")
    git(root, "add", "staged.txt")
    (root / "staged.txt").write_text("staged edit, then more unstaged\n")
    (root / "scratch.txt").write_text("untracked notes\n")
    return root


def user_state(root: Path) -> dict:
    """Everything of the user's besides calc.py: files, index entries, diffs, stash, untracked."""
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".agentos" not in path.parts
    }
    files.pop("calc.py", None)
    index = [
        line
        for line in git(root, "ls-files", "--stage").splitlines()
        if not line.endswith("calc.py")
    ]
    return {
        "files": files,
        "index": index,
        "staged": git(root, "diff", "--cached", "--", ":!calc.py"),
        "unstaged": git(root, "diff", "--", ":!calc.py"),
        "untracked": git(root, "ls-files", "--others", "--exclude-standard"),
        "stash": git(root, "stash", "list", "--format=%H"),
        "branch": git(root, "symbolic-ref", "HEAD"),
    }


def heal_json(root: Path, capsys, *flags: str) -> tuple[int, dict]:
    code = main(["heal", str(root), *LOCAL, "--apply-to-worktree", "--json", *flags])
    return code, json.loads(capsys.readouterr().out)


class EditingReporter(Reporter):
    """Reporter that rewrites a file of the user's when the heal reaches ``phase``."""

    def __init__(self, phase: str, target: Path, text: str) -> None:
        super().__init__(quiet=True)
        self.phase, self.target, self.text = phase, target, text

    def step(self, phase: str, text: str) -> None:
        if phase == self.phase:
            self.target.write_text(self.text)
        super().step(phase, text)


def test_fix_committed_beside_user_edits(project, capsys):
    (project / "calc.py").write_text(CALC_USER)
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    code, report = heal_json(project, capsys)

    assert code == 0
    [outcome] = report["faults"]
    assert outcome["status"] == "healed"
    assert git(project, "rev-parse", "HEAD^").strip() == start
    assert git(project, "log", "-1", "--format=%ae").strip() == TOOL_EMAIL
    assert git(project, "diff", "--name-only", start, "HEAD").split() == ["calc.py"]
    assert git(project, "show", "HEAD:calc.py") == CALC_FIXED
    assert (project / "calc.py").read_text() == CALC_USER.replace("import os\n", "")
    assert user_state(project) == before


def test_user_edit_stays_uncommitted(project, capsys):
    (project / "calc.py").write_text(CALC_USER)

    heal_json(project, capsys)

    diff = git(project, "diff", "HEAD", "--", "calc.py")
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert "+    return 3  # my unsaved work" in added
    assert removed == []
    assert git(project, "diff", "--cached", "--name-only") == "staged.txt\n"


def test_clean_touched_file_gets_fix(project, capsys):
    before = user_state(project)

    code, report = heal_json(project, capsys)

    assert code == 0
    assert report["faults"][0]["status"] == "healed"
    assert (project / "calc.py").read_text() == CALC_FIXED
    assert git(project, "status", "--porcelain", "--", "calc.py") == ""
    assert user_state(project) == before


def test_json_shape(project, capsys):
    _, report = heal_json(project, capsys)

    assert report["branch"] == "main"
    assert report["dry_run"] is False
    assert report["exit_code"] == 0
    [outcome] = report["faults"]
    assert set(outcome) >= {"id", "status", "reason", "commit", "diff", "patch", "attempts"}
    assert outcome["commit"] == git(project, "rev-parse", "HEAD").strip()
    assert outcome["patch"] is None
    assert outcome["diff"].startswith("diff --git a/calc.py b/calc.py")


@pytest.mark.parametrize("phase", ["validate", "commit"])
def test_touched_file_changed_mid_heal(project, phase):
    # At "validate" the heal's own check after validation sees the edit; at
    # "commit" only the check right before the commit can see it.
    edited = CALC_USER + "# typed while the heal ran\n"
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()
    reporter = EditingReporter(phase, project / "calc.py", edited)
    settings = load_settings(project, {"sandbox": "local", "provider": "offline"})

    report = run_heal(project, settings, HealOptions(apply_to_worktree=True), reporter)

    [outcome] = report.outcomes
    assert outcome.status is FaultStatus.BLOCKED
    assert "calc.py" in outcome.reason
    assert report.exit_code == 1
    assert git(project, "rev-parse", "HEAD").strip() == start
    assert (project / "calc.py").read_text() == edited
    assert user_state(project) == before
    patch = Path(outcome.patch)
    assert patch.parent == project / ".agentos" / "patches"
    assert patch.read_text() == outcome.diff
    assert str(patch) in outcome.reason


def test_blocked_patch_applies_by_hand(project):
    reporter = EditingReporter("commit", project / "calc.py", CALC + "# typed meanwhile\n")
    settings = load_settings(project, {"sandbox": "local", "provider": "offline"})

    report = run_heal(project, settings, HealOptions(apply_to_worktree=True), reporter)

    git(project, "apply", report.outcomes[0].patch)
    assert (project / "calc.py").read_text() == CALC_FIXED + "# typed meanwhile\n"


def test_hook_edit_of_touched_file_undoes_commit(project, capsys):
    (project / "calc.py").write_text(CALC_USER)
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho '# written by the hook' >> calc.py\n")
    hook.chmod(0o755)
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    code, report = heal_json(project, capsys)

    assert code == 1
    [outcome] = report["faults"]
    assert outcome["status"] == "blocked"
    assert git(project, "rev-parse", "HEAD").strip() == start
    assert (project / "calc.py").read_text() == CALC_USER + "# written by the hook\n"
    assert user_state(project) == before


def test_fix_near_user_edit_not_applied(project, capsys):
    # The user's edit is on the line after the import the fix removes, and it
    # brings faults of its own, whose fixes touch only the user's lines.
    user = CALC.replace("import os\n\n", "import os\nimport sys  # mine\n")
    (project / "calc.py").write_text(user)
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    code, report = heal_json(project, capsys)

    assert code == 1
    assert report["faults"]
    for outcome in report["faults"]:
        assert outcome["status"] == "blocked"
        assert "within three lines of your uncommitted edits" in outcome["reason"]
        assert Path(outcome["patch"]).is_file()
    assert git(project, "rev-parse", "HEAD").strip() == start
    assert (project / "calc.py").read_text() == user
    assert user_state(project) == before


def test_staged_touched_file_not_applied(project, capsys):
    (project / "calc.py").write_text(CALC_USER)
    git(project, "add", "calc.py")
    index_before = git(project, "ls-files", "--stage")
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    code, report = heal_json(project, capsys)

    assert code == 1
    [outcome] = report["faults"]
    assert outcome["status"] == "blocked"
    assert "staged changes" in outcome["reason"]
    assert git(project, "rev-parse", "HEAD").strip() == start
    assert git(project, "ls-files", "--stage") == index_before
    assert (project / "calc.py").read_text() == CALC_USER
    assert user_state(project) == before


def test_verification_failure_restores_user_edits(project, capsys):
    # The hook adds an untracked conftest.py that fails test_one. The working
    # tree, which verification runs on, then has a regression that validation
    # could not see.
    (project / "calc.py").write_text(CALC_USER)
    hook = project / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        "#!/bin/sh\n"
        "[ -f .git/broken-once ] && exit 0\n"
        "touch .git/broken-once\n"
        "printf 'import pytest\\n\\n\\n@pytest.fixture(autouse=True)\\n"
        'def broken(request):\\n    assert request.node.name != "test_one"\\n\' > conftest.py\n'
    )
    hook.chmod(0o755)
    before = user_state(project)
    start = git(project, "rev-parse", "HEAD").strip()

    code, report = heal_json(project, capsys)

    assert code == 1
    [outcome] = report["faults"]
    assert outcome["status"] == "reverted"
    assert "test_calc.py::test_one" in outcome["reason"]
    fix, revert = git(project, "rev-list", "--reverse", f"{start}..HEAD").split()
    assert outcome["commit"] == fix
    assert outcome["revert_commit"] == revert
    assert git(project, "diff", start, "HEAD") == ""
    assert (project / "calc.py").read_text() == CALC_USER
    (project / "conftest.py").unlink()
    assert user_state(project) == before


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--branch", "fixes"], "--branch"),
        (["--allow-dirty"], "--allow-dirty"),
        (["--dry-run"], "--dry-run"),
    ],
)
def test_conflicting_flags_rejected(project, capsys, flags, named):
    before = user_state(project)

    code = main(["heal", str(project), *LOCAL, "--apply-to-worktree", *flags])

    assert code == 2
    error = capsys.readouterr().err
    assert "--apply-to-worktree cannot be combined with" in error
    assert named in error
    assert user_state(project) == before


@pytest.mark.docker
def test_docker_sandbox_sees_user_edits(project, docker_image, capsys):
    # The untracked test imports a function that only the uncommitted calc.py
    # has, so it passes in the baseline only when both reach the sandbox.
    (project / "calc.py").write_text(CALC_USER)
    (project / "test_three.py").write_text(
        "from calc import three\n\n\ndef test_three():\n    assert three() == 3\n"
    )
    before = user_state(project)

    code = main(
        ["heal", str(project), "--sandbox", "docker", "--image", docker_image]
        + ["--provider", "offline", "--apply-to-worktree", "--json"]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["sandbox"] == "docker"
    assert report["baseline"]["passed"] == 2
    assert [f["status"] for f in report["faults"]] == ["healed"]
    assert git(project, "show", "HEAD:calc.py") == CALC_FIXED
    assert (project / "calc.py").read_text() == CALC_USER.replace("import os\n", "")
    assert user_state(project) == before


def test_same_blocked_fix_saved_once(make_repo, capsys):
    # The misspelled name is both a lint fault (F821) and a failing test, so
    # one fix removes both. The user's comment beside it blocks that fix.
    source = "def total(values):\n    return sum(valus)\n"
    root = make_repo(
        {
            "calc.py": source,
            "test_calc.py": "from calc import total\n\n\ndef test_total():\n"
            "    assert total([1, 2]) == 3\n",
        }
    )
    (root / "calc.py").write_text(source.replace("    return", "    # mine\n    return"))

    code, report = heal_json(root, capsys)

    assert code == 1
    blocked = [outcome for outcome in report["faults"] if outcome["status"] == "blocked"]
    assert len(blocked) == 2, report["faults"]
    assert blocked[0]["patch"] == blocked[1]["patch"]
    assert list((root / ".agentos" / "patches").iterdir()) == [Path(blocked[0]["patch"])]
    assert "same fix as for fault" in blocked[1]["reason"]
