"""A heal quarantines a flaky test instead of patching it, with the real local sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from kernel.cli import main
from tests.conftest import git


def test_flaky_test_quarantined(make_repo, tmp_path: Path, capsys, monkeypatch) -> None:
    # Without bubblewrap the runs share the host's /tmp, where the marker is.
    monkeypatch.setenv("AGENTOS_LOCAL_ISOLATION", "rlimits")
    marker = tmp_path / "marker"
    root = make_repo(
        {
            "calc.py": "import os\n\n\ndef one():\n    return 1\n",
            "test_calc.py": (
                "import os\n\nfrom calc import one\n\n\n"
                "def test_one():\n    assert one() == 1\n\n\n"
                "def test_flaky():\n"
                "    # Passes only in the first run: later runs find the marker.\n"
                f"    os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL)\n"
            ),
        }
    )
    start = git(root, "rev-parse", "HEAD").strip()

    code = main(["heal", str(root), "--sandbox", "local", "--provider", "offline", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert report["flaky"] == ["test_calc.py::test_flaky"]
    assert all("test_flaky" not in fault["summary"] for fault in report["faults"])
    assert report["remaining"] == []
    assert code == 0
    assert [f["status"] for f in report["faults"]] == ["healed"]
    assert len(git(root, "rev-list", f"{start}..HEAD").split()) == 1
