"""``agentos revert ID`` and ``agentos undo``: revert one of the tool's fixes with a new commit."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from kernel.console import Reporter
from kernel.errors import KernelError, RepositoryError
from kernel.gitops import Repository
from kernel.history import Fix, FixState, find_fixes, load_history
from kernel.lock import RepositoryLock
from kernel.messages import user_revert_message
from kernel.revert_check import revert_conflicts


def register(commands: argparse._SubParsersAction) -> None:
    revert = commands.add_parser("revert", help="revert one fix of the tool with a new commit")
    revert.set_defaults(run=run_revert)
    revert.add_argument("id", help="commit sha (at least 4 characters), fault id or heal id")
    _common(revert)

    undo = commands.add_parser("undo", help="revert the newest fix that is not reverted yet")
    undo.set_defaults(run=run_undo)
    _common(undo)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", type=Path, help="repository (default: .)")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the repository's commit hooks"
    )


def run_revert(arguments: argparse.Namespace, reporter: Reporter) -> int:
    def choose(fixes: list[Fix]) -> Fix:
        found = find_fixes(fixes, arguments.id)
        if not found:
            raise KernelError(
                f"no fix by agentos matches {arguments.id!r}. List the fixes with "
                "'agentos history' and pass a commit sha, fault id or heal id."
            )
        if len(found) > 1:
            listed = ", ".join(fix.commit[:12] for fix in found)
            raise KernelError(
                f"{arguments.id!r} matches {len(found)} fixes ({listed}). "
                "Pass one commit sha to revert one of them."
            )
        return found[0]

    return _revert(arguments, reporter, choose)


def run_undo(arguments: argparse.Namespace, reporter: Reporter) -> int:
    def choose(fixes: list[Fix]) -> Fix:
        # "Changed later by hand" still counts: undo takes the newest fix in HEAD.
        live = [fix for fix in fixes if fix.state is not FixState.REVERTED]
        if not live:
            raise KernelError("there is no fix by agentos to undo: none, or all are reverted.")
        return live[0]

    return _revert(arguments, reporter, choose)


def _revert(arguments: argparse.Namespace, reporter: Reporter, choose) -> int:
    repository = Repository.open(arguments.repo)
    try:
        with RepositoryLock(repository.root):
            fix = choose(load_history(repository))
            if fix.state is FixState.REVERTED:
                raise RepositoryError(
                    f"fix {fix.commit[:12]} is already reverted by {fix.state_commit[:12]}. "
                    "Nothing was changed."
                )
            conflicts = revert_conflicts(repository, fix.commit)
            if conflicts:
                raise RepositoryError(
                    f"cannot revert {fix.commit[:12]}: it conflicts with later changes in "
                    f"{', '.join(conflicts)}. Nothing was changed. Revert it by hand with "
                    f"'git revert {fix.commit[:12]}' and resolve the conflicts."
                )
            message = user_revert_message(fix.subject, fix.commit, fix.fault_id, fix.heal_id)
            sha = repository.revert(fix.commit, message, no_verify=arguments.no_verify)
    finally:
        repository.close()
    # The result goes to stdout, like every command's result; progress stays on stderr.
    Console(highlight=False).print(
        f"[bold green]reverted[/] {fix.commit[:12]} ({escape(fix.subject)}) with commit {sha[:12]}"
    )
    return 0
