"""The heal summary table, rendered by rich at the width of a small terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from kernel.console import Reporter
from kernel.faults import Fault, missing_package
from kernel.outcome import BaselineSummary, FaultOutcome, FaultStatus, HealReport
from patches.types import FaultKind


def environment_outcome(root: Path) -> FaultOutcome:
    fault = Fault(
        id="a1b2c3d4e5f6",
        kind=FaultKind.COLLECTION,
        summary="tests/test_calc.py failed to import: ModuleNotFoundError",
        message="No module named 'yaml_probe_missing'",
        location=None,
        exc_type="ModuleNotFoundError",
    )
    detail = missing_package(fault, root)
    assert detail is not None
    return FaultOutcome(fault=fault, status=FaultStatus.ENVIRONMENT, reason=detail)


def render_summary(outcome: FaultOutcome, width: int) -> str:
    report = HealReport(
        heal_id="20260101T000000Z-abc123",
        repository="/tmp/project",
        branch="main",
        sandbox="docker",
        providers=("offline",),
        dry_run=False,
        baseline=BaselineSummary("failed", 0, 0, 1, 0),
        outcomes=(outcome,),
        remaining=(outcome.fault,),
    )
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, highlight=False, color_system=None)
    Reporter(console).summary(report)
    return buffer.getvalue()


def cell_text(rendered: str, column: int) -> str:
    """Join the lines of one column of a rich table, by splitting rows on its vertical bars."""
    parts = []
    for line in rendered.splitlines():
        cells = line.split("│")
        if len(cells) > column + 1:
            parts.append(cells[column + 1].strip())
    return " ".join(part for part in parts if part)


def test_summary_wraps_whole_detail(tmp_path):
    outcome = environment_outcome(tmp_path)

    rendered = render_summary(outcome, width=80)

    assert max(len(line) for line in rendered.splitlines()) <= 80
    detail = cell_text(rendered, 3)
    assert "…" not in detail
    assert detail.replace(" ", "") == outcome.reason.replace(" ", "")
    assert "--sandbox local" in " ".join(rendered.split())


def test_summary_keeps_short_columns(tmp_path):
    outcome = environment_outcome(tmp_path)

    rendered = render_summary(outcome, width=80)

    assert "environment" in rendered
    assert "…" not in cell_text(rendered, 0)
