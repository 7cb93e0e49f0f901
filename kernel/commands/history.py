"""``agentos history`` and ``agentos show``: review the fixes the tool committed."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time, timezone
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kernel.console import Reporter
from kernel.errors import KernelError, RepositoryError
from kernel.gitops import Repository
from kernel.history import Fix, FixState, find_fixes, fix_to_dict, load_history
from kernel.records import load_records

_STATE_STYLE = {FixState.KEPT: "green", FixState.REVERTED: "yellow", FixState.CHANGED: "cyan"}


def register(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help="list the tool's fixes, newest first")
    history.set_defaults(run=run_history)
    history.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="a file or folder in the repository: list only the fixes touching it "
        "(default: every fix of the repository in the current folder)",
    )
    add_filter_arguments(history, "list")
    history.add_argument("--json", action="store_true", help="print the fixes as JSON on stdout")

    show = commands.add_parser(
        "show", help="show one fix: fault, context, candidates and the accepted diff"
    )
    show.set_defaults(run=run_show)
    show.add_argument("id", help="commit sha (at least 4 characters), fault id or heal id")
    show.add_argument("--repo", default=".", type=Path, help="repository (default: .)")


def add_filter_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """Add the --state, --since and --until filters; ``verb`` starts each help text."""
    parser.add_argument(
        "--state",
        choices=[state.value for state in FixState],
        help=f"{verb} only fixes in this state",
    )
    parser.add_argument(
        "--since",
        type=_date,
        metavar="DATE",
        help=f"{verb} only fixes committed on or after this date (YYYY-MM-DD, UTC)",
    )
    parser.add_argument(
        "--until",
        type=_date,
        metavar="DATE",
        help=f"{verb} only fixes committed on or before this date (YYYY-MM-DD, UTC)",
    )


def select_fixes(fixes: list[Fix], arguments: argparse.Namespace) -> list[Fix]:
    """Return the fixes that pass the filters ``add_filter_arguments`` added."""
    return [fix for fix in fixes if _selected(fix, arguments)]


def open_filtered(path: Path | None) -> Repository:
    """Open the repository that the filter ``path`` lies in, or the current folder's.

    A ``path`` that no longer exists may still name a file that a fix touched
    before it was deleted, so the repository of its nearest existing folder is opened.
    """
    if path is None:
        return Repository.open(Path("."))
    if path.exists():
        return Repository.open(path)
    folder = next(parent for parent in path.absolute().parents if parent.exists())
    try:
        return Repository.open(folder)
    except RepositoryError:
        return Repository.open(path)  # raises the message for a missing repository path


def require_matched(path: Path | None, fixes: list[Fix], root: Path) -> None:
    """Raise RepositoryError when a missing filter ``path`` matched no fix, as with a typo."""
    if path is None or path.exists() or fixes:
        return
    raise RepositoryError(
        f"no file or folder {path} in repository {root}, and no fix touched that path. "
        "Pass a path inside the repository to filter, or the repository folder."
    )


def run_history(arguments: argparse.Namespace, reporter: Reporter) -> int:
    repository = open_filtered(arguments.path)
    try:
        fixes = load_history(repository, arguments.path)
    finally:
        repository.close()
    require_matched(arguments.path, fixes, repository.root)
    fixes = select_fixes(fixes, arguments)

    if arguments.json:
        json.dump([fix_to_dict(fix) for fix in fixes], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    console = Console(highlight=False)
    if not fixes:
        console.print("no fixes by agentos match.")
        return 0
    console.print(_table(fixes, console.width))
    return 0


def run_show(arguments: argparse.Namespace, reporter: Reporter) -> int:
    repository = Repository.open(arguments.repo)
    try:
        fixes = find_fixes(load_history(repository), arguments.id)
        diffs = {fix.commit: _commit_diff(repository, fix) for fix in fixes}
        records = load_records(repository.root)
    finally:
        repository.close()

    console = Console(highlight=False)
    if fixes:
        for fix in fixes:
            _show_fix(console, fix, diffs[fix.commit])
        return 0
    unhealed = _recorded_faults(records, arguments.id)
    if not unhealed:
        raise KernelError(
            f"no fix or recorded fault matches {arguments.id!r}. "
            "List the fixes with 'agentos history' and pass a commit, fault id or heal id."
        )
    for heal_id, entry in unhealed:
        console.print(f"[bold]fault {entry['id']}[/] in heal {heal_id}: {entry.get('status')}")
        _show_record(console, entry)
    return 0


def _selected(fix: Fix, arguments: argparse.Namespace) -> bool:
    if arguments.state and fix.state.value != arguments.state:
        return False
    if arguments.since and fix.committed < arguments.since:
        return False
    if arguments.until and fix.committed >= _next_day(arguments.until):
        return False
    return True


def _date(text: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}; use YYYY-MM-DD") from error
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _next_day(start: datetime) -> datetime:
    return datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=timezone.utc)


# Below this terminal width, the table leaves out the provider, validation and
# tokens columns, which would squeeze the fault and files to a few characters.
_WIDE = 120


def _table(fixes: list[Fix], width: int) -> Table:
    wide = width >= _WIDE
    caption = None if wide else "provider, validation and tokens: agentos show COMMIT"
    table = Table(title="fixes by agentos, newest first", caption=caption)
    # The short columns are never cut; the fault and the files wrap instead.
    table.add_column("when", no_wrap=True, min_width=16)
    table.add_column("commit", no_wrap=True, min_width=12)
    table.add_column("fault", overflow="fold")
    table.add_column("files", overflow="fold")
    if wide:
        for column in ("provider", "validation", "tokens"):
            table.add_column(column, overflow="fold")
    table.add_column("state", no_wrap=True, min_width=8)

    for fix in fixes:
        cells = [
            f"{fix.committed:%Y-%m-%d %H:%M}",
            fix.commit[:12],
            escape(f"{fix.fault_id} {fix.fault_summary or fix.subject}"),
            escape(", ".join(fix.files)),
        ]
        if wide:
            cells += [
                escape(f"{fix.provider}/{fix.model}" if fix.model else fix.provider),
                escape(fix.validation),
                _spending(fix),
            ]
        cells.append(f"[{_STATE_STYLE[fix.state]}]{fix.state.value}[/]")
        table.add_row(*cells)
    return table


def _spending(fix: Fix) -> str:
    tokens = "?" if fix.tokens is None else str(fix.tokens)
    return tokens if fix.cost is None else f"{tokens} (${fix.cost:.4f})"


def _show_fix(console: Console, fix: Fix, commit_diff: str) -> None:
    style = _STATE_STYLE[fix.state]
    changed = f" by {fix.state_commit[:12]}" if fix.state_commit else ""
    console.print(f"[bold]commit {fix.commit}[/] [{style}]{fix.state.value}{changed}[/]")
    console.print(escape(fix.subject))
    console.print(f"fault      {fix.fault_id} {escape(fix.fault_kind or '')}")
    console.print(f"heal       {fix.heal_id}, committed {fix.committed:%Y-%m-%d %H:%M:%S %z}")
    console.print(f"provider   {escape(fix.provider)}, model {escape(fix.model or 'none')}")
    console.print(f"validation {escape(fix.validation)}")
    console.print(f"tokens     {_spending(fix)}")
    console.print(f"files      {escape(', '.join(fix.files))}")
    if fix.record:
        _show_record(console, fix.record, with_diff=False)
    else:
        console.print("[dim]no heal record in .agentos/heals: context and candidates unknown[/]")
    console.print("[bold]accepted diff[/]")
    console.print(fix.record.get("diff") or commit_diff, markup=False, highlight=False)


def _show_record(console: Console, entry: dict, with_diff: bool = True) -> None:
    context = entry.get("context") or {}
    if entry.get("summary"):
        console.print(f"summary    {escape(entry['summary'])}")
    if context:
        console.print("[bold]context sent[/]")
        for key in ("message", "exc_type", "test_id", "lint_code"):
            if context.get(key):
                console.print(f"  {key}: {escape(str(context[key]))}")
        for frame in context.get("frames", []):
            where = f"{frame['path']}:{frame['line']} in {frame['function']}"
            console.print(f"  at {escape(where)}")
        if context.get("output"):
            console.print(context["output"], markup=False, highlight=False)
    console.print("[bold]candidates[/]")
    for number, attempt in enumerate(entry.get("attempts", []), start=1):
        verdict = "[green]accepted[/]" if attempt.get("accepted") else "[red]rejected[/]"
        model = f"/{attempt['model']}" if attempt.get("model") else ""
        proposer = attempt.get("provider", "?") + model
        change = attempt.get("summary") or "(no candidate)"
        if attempt.get("unsafe_fixes"):
            change += f" (unsafe ruff fix: {', '.join(attempt['unsafe_fixes'])})"
        console.print(
            f"  {number}. {verdict} {escape(proposer)}: {escape(change)}: "
            f"{escape(attempt.get('reason', ''))}"
        )
        if attempt.get("diff") and (with_diff or not attempt.get("accepted")):
            console.print(attempt["diff"], markup=False, highlight=False)


def _commit_diff(repository: Repository, fix: Fix) -> str:
    return repository.query("show", "--format=", "--no-color", fix.commit)


def _recorded_faults(records: list[dict], identifier: str) -> list[tuple[str, dict]]:
    identifier = identifier.strip().lower()
    if len(identifier) < 4:
        return []
    found = []
    for record in records:
        for entry in record.get("faults", []):
            if record["heal_id"] == identifier or str(entry.get("id", "")).startswith(identifier):
                found.append((record["heal_id"], entry))
    return found
