"""``agentos report --html FILE``: the fix history as one self-contained HTML page."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from kernel.commands.history import (
    add_filter_arguments,
    open_filtered,
    require_matched,
    select_fixes,
)
from kernel.console import Reporter
from kernel.gitops import Repository
from kernel.history import Fix, load_history
from kernel.report import ReportContext, render_report, write_report


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report", help="write the fix history, diffs and a chart to one HTML file"
    )
    report.set_defaults(run=run)
    report.add_argument(
        "--html",
        required=True,
        type=Path,
        metavar="FILE",
        help="HTML file to write; an existing file is replaced only once the page is complete",
    )
    report.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="a file or folder in the repository: report only the fixes touching it "
        "(default: every fix of the repository in the current folder)",
    )
    add_filter_arguments(report, "report")


def run(arguments: argparse.Namespace, reporter: Reporter) -> int:
    repository = open_filtered(arguments.path)
    try:
        fixes = load_history(repository, arguments.path)
        require_matched(arguments.path, fixes, repository.root)
        fixes = select_fixes(fixes, arguments)
        diffs = {fix.commit: _patch(repository, fix) for fix in fixes}
        context = ReportContext(
            repository=str(repository.root),
            head=repository.head(),
            branch=repository.branch(),
            generated=datetime.now(timezone.utc),
            filters=_filters(arguments, repository.root),
        )
    finally:
        repository.close()

    write_report(arguments.html, render_report(fixes, diffs, context))
    noun = "fix" if len(fixes) == 1 else "fixes"
    reporter.step("report", f"wrote {len(fixes)} {noun} to {arguments.html}")
    return 0


def _patch(repository: Repository, fix: Fix) -> str:
    return repository.query("show", "--format=", "--no-color", "--no-ext-diff", fix.commit)


def _filters(arguments: argparse.Namespace, root: Path) -> tuple[str, ...]:
    filters = []
    # The path also picks the repository, and its root filters nothing out.
    if arguments.path is not None and arguments.path.resolve() != root.resolve():
        filters.append(f"path: {arguments.path}")
    if arguments.state:
        filters.append(f"state: {arguments.state}")
    if arguments.since:
        filters.append(f"since: {arguments.since:%Y-%m-%d}")
    if arguments.until:
        filters.append(f"until: {arguments.until:%Y-%m-%d}")
    return tuple(filters)
