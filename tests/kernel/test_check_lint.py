"""The lint check of a candidate: a rewritten finding is not a new one."""

from __future__ import annotations

from pathlib import Path

from kernel import lint
from kernel.checks import TreeState, check_lint
from kernel.faults import Fault, file_reader, lint_faults
from patches.diff import make_candidate
from patches.types import FaultKind
from sandbox.results import RunStatus, TestRun
from sandbox.workspace import Snapshot

LARGEST = """def largest(values):
    best = values[0]
    for value in values[1:]:
        if value < best:
            best = value
    return best
"""


def state_of(root: Path) -> TreeState:
    diagnostics = tuple(lint.check_tree(root))
    faults = tuple(lint_faults(list(diagnostics), file_reader(root)))
    run = TestRun(status=RunStatus.COMPLETED, exit_code=1)
    return TreeState(Snapshot(b""), run, diagnostics, faults)


def test_fault() -> Fault:
    return Fault(id="t", kind=FaultKind.TEST, summary="", message="", location=None)


test_fault.__test__ = False  # a helper, not a test


def test_changed_message_same_rule_passes(make_repo) -> None:
    root = make_repo({"app.py": LARGEST})
    state = state_of(root)
    assert any(f.lint_code == "PLR1730" for f in state.faults), "ruff no longer reports PLR1730"
    fixed = LARGEST.replace("value < best", "value > best")
    candidate = make_candidate("offline", None, "flip", {"app.py": (LARGEST, fixed)})

    result = check_lint(test_fault(), candidate, state, root)

    assert result.passed, result.reason


def test_new_finding_rejected(make_repo) -> None:
    root = make_repo({"app.py": LARGEST})
    state = state_of(root)
    broken = "import os\n" + LARGEST
    candidate = make_candidate("offline", None, "import", {"app.py": (LARGEST, broken)})

    result = check_lint(test_fault(), candidate, state, root)

    assert not result.passed
    assert "F401" in result.reason
