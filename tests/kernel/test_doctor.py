"""``agentos doctor`` on a repository's dependency declarations."""

from __future__ import annotations

from kernel.cli import main
from kernel.commands.doctor import Level, diagnose


def test_doctor_rejects_editable_path(tmp_path):
    (tmp_path / "requirements.txt").write_text("-e ../elsewhere\n")

    [check] = [check for check in diagnose(tmp_path) if check.name == "deps"]

    assert check.level is Level.FAIL
    assert "requirements.txt:1" in check.detail


def test_doctor_counts_requirements(tmp_path):
    (tmp_path / "requirements.txt").write_text("attrs\nidna==3.7\n")

    [check] = [check for check in diagnose(tmp_path) if check.name == "deps"]

    assert check.level is Level.OK
    assert "2 requirement(s)" in check.detail


def test_doctor_prints_checks_on_stdout(tmp_path, capsys):
    (tmp_path / "requirements.txt").write_text("attrs\n")

    main(["doctor", str(tmp_path)])

    captured = capsys.readouterr()
    assert "1 requirement(s)" in " ".join(captured.out.split())
    assert "requirement(s)" not in captured.err
