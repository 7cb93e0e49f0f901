"""A second heal of the same tree reads its baseline from disk, with the real local sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from kernel.cli import main
from kernel.heal import BASELINES_FOLDER
from tests.conftest import git


def test_second_heal_reuses_baseline(make_repo, tmp_path: Path, capsys, monkeypatch) -> None:
    # Without bubblewrap the runs share the host's /tmp, where the marker is.
    monkeypatch.setenv("AGENTOS_LOCAL_ISOLATION", "rlimits")
    marker = tmp_path / "marker"
    root = make_repo(
        {
            "calc.py": "def one():\n    return 1\n",
            "test_calc.py": (
                "import os\n\nfrom calc import one\n\n\n"
                "def test_one():\n    assert one() == 1\n\n\n"
                "def test_flaky():\n"
                "    # Passes only in the first run: later runs find the marker.\n"
                f"    os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL)\n"
            ),
            "notes.txt": "committed\n",
        }
    )
    (root / "notes.txt").write_text("uncommitted work\n")
    command = [
        "heal",
        str(root),
        "--sandbox",
        "local",
        "--provider",
        "offline",
        "--allow-dirty",
        "--json",
    ]

    main(command)
    first = json.loads(capsys.readouterr().out)
    main(command)
    second = json.loads(capsys.readouterr().out)

    # A recomputed baseline would see test_flaky fail in both runs, because
    # the marker exists by now, and report it as a fault instead.
    assert first["flaky"] == ["test_calc.py::test_flaky"]
    assert second["flaky"] == ["test_calc.py::test_flaky"]
    assert second["faults"] == []
    assert len(list((root / BASELINES_FOLDER).glob("*.json"))) == 1
    assert (root / "notes.txt").read_text() == "uncommitted work\n"
    assert git(root, "status", "--porcelain").splitlines() == [" M notes.txt"]
