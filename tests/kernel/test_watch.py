"""Watch mode driven by real edits of a temporary repository, with the local sandbox."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kernel.config import Settings
from kernel.gitops import TOOL_EMAIL, Repository
from kernel.import_graph import affected_tests
from kernel.watch import WatchOptions, WatchSession, run_watch
from kernel.watch_events import CollectingSink
from patches.offline import OfflineProvider
from patches.types import Proposal, RepairRequest
from sandbox.local_backend import LocalBackend
from tests.conftest import git

GOOD_CALC = """import math


def double(x):
    return x * 2


def area(r):
    return math.pi * r * r
"""

BROKEN_CALC = GOOD_CALC.replace("import math\n\n\n", "")

TEST_CALC = """from calc import area, double


def test_double():
    assert double(2) == 4


def test_area():
    assert round(area(1), 2) == 3.14
"""

SETTINGS = Settings(provider="offline", sandbox="local", test_timeout=120)


def start_session(root: Path, sink: CollectingSink, providers=None) -> WatchSession:
    return WatchSession(
        Repository.open(root),
        SETTINGS,
        LocalBackend(),
        providers or [OfflineProvider()],
        sink,
        WatchOptions(),
    )


def tool_commits(root: Path) -> list[str]:
    return git(root, "log", f"--author={TOOL_EMAIL}", "--format=%H").split()


class EditingProvider:
    """Proposes the offline fixes, while the user edits the faulty file at the same moment."""

    name = "offline"

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def propose(self, request: RepairRequest, root: Path, limit: int) -> Proposal:
        proposal = OfflineProvider().propose(request, root, limit)
        self.path.write_text(self.text)
        return proposal


def test_half_typed_edit_is_ignored(make_repo):
    root = make_repo({"calc.py": GOOD_CALC, "tests/test_calc.py": TEST_CALC})
    sink = CollectingSink()
    session = start_session(root, sink)
    session.check_all()

    (root / "calc.py").write_text(GOOD_CALC.replace("return x * 2", "return x *"))
    session.on_changes(["calc.py"])
    seen_once = [e for e in sink.events if e.kind == "fault"]
    finished = GOOD_CALC.replace("return x * 2", "return 2 * x")
    (root / "calc.py").write_text(finished)
    session.on_changes(["calc.py"])
    session.on_quiet()

    assert seen_once
    assert all(e.data["seen"] == 1 for e in sink.events if e.kind == "fault")
    assert "heal" not in sink.kinds()
    assert tool_commits(root) == []
    assert (root / "calc.py").read_text() == finished


def test_persistent_fault_is_healed(make_repo):
    root = make_repo({"calc.py": BROKEN_CALC, "tests/test_calc.py": TEST_CALC})
    sink = CollectingSink()
    session = start_session(root, sink)

    session.check_all()
    assert "heal" not in sink.kinds()
    assert session.on_quiet()

    commits = tool_commits(root)
    assert len(commits) == 1
    assert "import math" in (root / "calc.py").read_text()
    assert git(root, "status", "--porcelain") == ""
    assert "commit" in sink.kinds()

    runs = session.runs
    assert not session.on_changes(["calc.py"])  # the fix the tool itself wrote
    assert session.runs == runs
    assert not session.on_quiet()  # nothing is due: no edit since the last full run


def test_failed_heal_is_not_retried(make_repo):
    broken = GOOD_CALC.replace("return x * 2", "raise RuntimeError('no')")
    root = make_repo({"calc.py": broken, "tests/test_calc.py": TEST_CALC})
    sink = CollectingSink()
    session = start_session(root, sink)

    session.check_all()
    session.on_quiet()
    assert sink.kinds().count("heal") == 1
    session._pending = True  # force a third full run on unchanged code
    session.on_quiet()

    assert sink.kinds().count("heal") == 1
    assert tool_commits(root) == []


def test_concurrent_edit_blocks_fix(make_repo):
    root = make_repo({"calc.py": BROKEN_CALC, "tests/test_calc.py": TEST_CALC})
    user_text = BROKEN_CALC + "\n\ndef triple(x):\n    return x * 3\n"
    sink = CollectingSink()
    session = start_session(root, sink, [EditingProvider(root / "calc.py", user_text)])

    session.check_all()
    session.on_quiet()

    assert "blocked" in sink.kinds()
    assert "commit" not in sink.kinds()
    assert tool_commits(root) == []
    assert (root / "calc.py").read_text() == user_text


def test_fault_in_uncommitted_edit_stays_uncommitted(make_repo):
    root = make_repo({"calc.py": GOOD_CALC, "tests/test_calc.py": TEST_CALC})
    sink = CollectingSink()
    session = start_session(root, sink)
    session.check_all()

    (root / "calc.py").write_text(BROKEN_CALC)
    session.on_changes(["calc.py"])
    session.on_quiet()

    assert "skip" in sink.kinds()
    assert tool_commits(root) == []
    assert (root / "calc.py").read_text() == BROKEN_CALC
    assert git(root, "branch", "--list", "agentos/*") == ""


def test_watch_loop_ignores_own_commit(make_repo):
    root = make_repo({"calc.py": BROKEN_CALC, "tests/test_calc.py": TEST_CALC})
    sink = CollectingSink()
    stop = threading.Event()
    options = WatchOptions(debounce_ms=100, quiet_seconds=0.2)
    watcher = threading.Thread(target=run_watch, args=(root, SETTINGS, options, sink, stop))
    watcher.start()
    try:
        deadline = time.monotonic() + 120
        while "ignored" not in sink.kinds() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        watcher.join(60)

    kinds = sink.kinds()
    assert "ignored" in kinds
    assert "change" not in kinds
    assert kinds[-1] == "stop"
    assert len(tool_commits(root)) == 1


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["calc.py"], ["tests/test_calc.py"]),
        (["other.py"], []),
        (["pyproject.toml"], None),
        (["tests/conftest.py"], None),
    ],
)
def test_affected_tests_follow_imports(make_repo, changed, expected):
    root = make_repo(
        {
            "calc.py": GOOD_CALC,
            "shapes/__init__.py": "from calc import area\n",
            "other.py": "X = 1\n",
            "tests/test_calc.py": TEST_CALC,
            "tests/test_shapes.py": "from shapes import area\n",
        }
    )
    found = affected_tests(root, changed)
    if expected is not None and changed == ["calc.py"]:
        expected = ["tests/test_calc.py", "tests/test_shapes.py"]
    assert found == expected
