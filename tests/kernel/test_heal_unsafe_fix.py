"""Ruff fixes marked unsafe in a heal: applied last, kept only when validation passes, reported.

E711 (``== None``) is the unsafe fix here: ruff 0.17 marks its fix to ``is None``
unsafe because a class with its own ``__eq__`` can compare equal to None.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kernel.cli import main
from tests.conftest import git

RUFF_CONFIG = '[tool.ruff.lint]\nselect = ["E711", "F401"]\n'

LABEL = """import os


def label(value):
    if value == None:
        return "empty"
    return str(value)
"""

TEST_LABEL = """from calc import label


def test_none_is_empty():
    assert label(None) == "empty"


def test_number_is_text():
    assert label(3) == "3"
"""

NULL_OBJECT = """class Missing:
    # A null object: it compares equal to None, so callers test it with ==.
    def __eq__(self, other):
        return other is None or isinstance(other, Missing)

    __hash__ = object.__hash__


def label(value):
    if value == None:
        return "empty"
    return str(value)
"""

TEST_NULL_OBJECT = """from calc import Missing, label


def test_missing_is_empty():
    assert label(Missing()) == "empty"
"""


def heal(capsys, root: Path) -> tuple[int, dict, str]:
    code = main(["heal", str(root), "--sandbox", "local", "--provider", "offline", "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def message(root: Path, sha: str) -> str:
    return git(root, "log", "-1", "--format=%B", sha)


def unsafe_rules_in(root: Path) -> list[dict]:
    # The fixture repositories must really have an unsafe fix, or the tests prove nothing.
    done = subprocess.run(
        ["ruff", "check", "--output-format", "json", "--no-cache", "--exit-zero", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return [d for d in json.loads(done.stdout) if d["fix"]["applicability"] == "unsafe"]


def test_unsafe_fix_healed_and_reported(make_repo, capsys):
    root = make_repo({"pyproject.toml": RUFF_CONFIG, "calc.py": LABEL, "test_calc.py": TEST_LABEL})
    assert [d["code"] for d in unsafe_rules_in(root)] == ["E711"]
    (root / "notes.txt").write_text("untracked work\n")

    code, report, err = heal(capsys, root)

    assert code == 0, report
    by_code = {f["summary"].split()[0]: f for f in report["faults"]}
    unsafe, safe = by_code["E711"], by_code["F401"]
    assert unsafe["status"] == "healed"
    assert unsafe["unsafe_fixes"] == ["E711"]
    assert unsafe["attempts"][-1]["unsafe_fixes"] == ["E711"]
    assert "if value is None:" in (root / "calc.py").read_text()
    unsafe_message = message(root, unsafe["commit"])
    assert "Agentos-Unsafe-Fix: E711" in unsafe_message
    assert "ruff marks its fix for E711 as unsafe" in unsafe_message
    assert "(unsafe ruff fix: E711)" in err
    assert main(["show", unsafe["commit"], "--repo", str(root)]) == 0
    assert "(unsafe ruff fix: E711)" in capsys.readouterr().out

    assert safe["status"] == "healed"
    assert safe["unsafe_fixes"] == []
    assert "nsafe" not in message(root, safe["commit"])
    assert "import os" not in (root / "calc.py").read_text()
    assert (root / "notes.txt").read_text() == "untracked work\n"


def test_unsafe_fix_breaking_test_rejected(make_repo, capsys):
    root = make_repo(
        {"pyproject.toml": RUFF_CONFIG, "calc.py": NULL_OBJECT, "test_calc.py": TEST_NULL_OBJECT}
    )
    assert [d["code"] for d in unsafe_rules_in(root)] == ["E711"]
    head = git(root, "rev-parse", "HEAD")

    code, report, _ = heal(capsys, root)

    assert code == 1
    (fault,) = report["faults"]
    assert fault["status"] == "unhealed"
    assert fault["unsafe_fixes"] == []
    (attempt,) = [a for a in fault["attempts"] if a["unsafe_fixes"]]
    assert attempt["accepted"] is False
    assert "test_missing_is_empty" in attempt["reason"]
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "status", "--porcelain") == ""
    assert (root / "calc.py").read_text() == NULL_OBJECT
