"""Wiring for ``agentos heal``: repository checks, sandbox and providers, lock, workspace, record.

Where fixes land depends on the tree and the flags:

=====================  ===============  ==========================================
tree                   flags            fixes go to
=====================  ===============  ==========================================
clean                  (none)           the current branch, one commit per fault
clean or dirty         ``--branch B``   new branch B, made in a separate worktree
dirty                  (none)           nowhere: the heal is refused
dirty                  --allow-dirty    a new ``agentos/fixes-<heal id>`` branch,
                                        made in a separate worktree
clean or dirty         --apply-to-      the current branch and the user's own files,
                       worktree         when the files the fix touches allow it
any                    --dry-run        nowhere: validated diffs are only shown
=====================  ===============  ==========================================

Except with ``--apply-to-worktree``, the user's working tree and index are
left as they were, and snapshots are taken from HEAD, so uncommitted edits
never reach the sandbox either. With ``--apply-to-worktree`` the snapshot is
the working tree itself, and :mod:`kernel.worktree_apply` has the rules for
writing a fix into it. That flag cannot be combined with ``--branch``,
``--allow-dirty`` or ``--dry-run``, which each send fixes somewhere else.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kernel.budget import Budget, parse_prices
from kernel.config import Settings
from kernel.console import Reporter
from kernel.errors import ConfigError, DirtyTreeError, KernelError, RepositoryError
from kernel.faults import Fault
from kernel.gitops import Repository
from kernel.heal import HealSession, Reproducer, Workspace
from kernel.interrupted import HealInterrupted
from kernel.leftovers import recover
from kernel.lock import RepositoryLock
from kernel.outcome import HealReport
from kernel.providers import build_providers
from kernel.records import save_record
from kernel.repo_states import checkout_notes, protected_paths
from kernel.worktree_apply import WorktreeTarget, working_snapshot
from patches.provider import PatchProvider
from sandbox.backend import SandboxBackend
from sandbox.docker_backend import sweep_leftovers
from sandbox.errors import BackendUnavailable
from sandbox.selection import open_backend
from sandbox.workspace import Snapshot

logger = logging.getLogger(__name__)

PATCHES_FOLDER = Path(".agentos") / "patches"  # validated fixes that were not applied


@dataclass(frozen=True)
class HealOptions:
    """Per-run choices that do not belong in a configuration file."""

    dry_run: bool = False
    branch: str | None = None
    allow_dirty: bool = False
    no_verify: bool = False
    apply_to_worktree: bool = False  # validate on the working tree and write fixes into it

    def __post_init__(self) -> None:
        if not self.apply_to_worktree:
            return
        others = [
            flag
            for flag, given in (
                ("--branch", self.branch is not None),
                ("--allow-dirty", self.allow_dirty),
                ("--dry-run", self.dry_run),
            )
            if given
        ]
        if others:
            raise ConfigError(
                f"--apply-to-worktree cannot be combined with {' or '.join(others)}: it writes "
                "fixes into your files on the current branch, and those flags send them "
                "elsewhere or nowhere. Drop one of them."
            )


def new_heal_id() -> str:
    """Return an id that sorts by time and is unique enough to name a branch."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_heal(
    path: Path, settings: Settings, options: HealOptions, reporter: Reporter
) -> HealReport:
    """Heal the repository at ``path`` and return the report.

    Raises KernelError for a problem with the repository, the settings or the sandbox.
    """
    repository = Repository.open(path)
    for note in checkout_notes(repository):
        reporter.warn(note)
    providers = build_providers(settings)
    try:
        backend = open_backend(
            settings.sandbox,
            settings.image,
            repository.root,
            announce=lambda text: reporter.step("sandbox", text),
        )
    except BackendUnavailable as error:
        raise KernelError(str(error)) from error
    if backend.name == "docker":
        swept = sweep_leftovers()
        if swept:
            logger.info("removed %d sandbox container(s) left by earlier runs", swept)

    heal_id = new_heal_id()
    try:
        with RepositoryLock(repository.root):
            repository.exclude_agentos()
            for note in recover(repository):
                reporter.warn(note)
            with _workspace(repository, options, heal_id) as workspace:
                snapshot = (
                    working_snapshot(repository)
                    if options.apply_to_worktree
                    else Snapshot(repository.archive("HEAD"))
                )
                session = HealSession(
                    heal_id,
                    workspace,
                    settings,
                    backend,
                    providers,
                    reporter,
                    no_verify=options.no_verify,
                    protected=protected_paths(repository),
                    budget=heal_budget(settings),
                    patch_folder=repository.root / PATCHES_FOLDER,
                )
                try:
                    report = session.run(snapshot, repository.root)
                except HealInterrupted as interrupted:
                    _save_interrupted(repository.root, interrupted.report, settings)
                    raise
            save_record(repository.root, report, settings.cost)
    finally:
        backend.close()
    return report


def heal_faults(
    repository: Repository,
    settings: Settings,
    backend: SandboxBackend,
    providers: list[PatchProvider],
    reporter: Reporter,
    select: Callable[[Fault], bool],
    *,
    extra_faults: Iterable[Fault] = (),
    reproducer: Reproducer | None = None,
    no_verify: bool = False,
    on_branch: Callable[[str], None] | None = None,
) -> HealReport:
    """Heal the selected faults of HEAD for watch mode and the supervisor, and save the record.

    With a clean tree the fixes go on the current branch. With uncommitted
    changes they go on a new ``agentos/fixes-<heal id>`` branch in a separate
    worktree, and ``on_branch`` is called with its name first; the branch is
    deleted again when no fix landed on it.
    """
    heal_id = new_heal_id()
    with RepositoryLock(repository.root):
        repository.exclude_agentos()
        for note in recover(repository):
            reporter.warn(note)
        options = HealOptions(allow_dirty=True, no_verify=no_verify)
        with _workspace(repository, options, heal_id) as workspace:
            if workspace.repository is not repository and on_branch is not None:
                on_branch(workspace.branch or "")
            session = HealSession(
                heal_id,
                workspace,
                settings,
                backend,
                providers,
                reporter,
                no_verify=no_verify,
                reproducer=reproducer,
                protected=protected_paths(repository),
                budget=heal_budget(settings),
            )
            try:
                report = session.run(
                    Snapshot(repository.archive("HEAD")),
                    repository.root,
                    extra_faults=extra_faults,
                    select=select,
                )
            except HealInterrupted as interrupted:
                _save_interrupted(repository.root, interrupted.report, settings)
                raise
        separate = workspace.repository is not repository and workspace.branch is not None
        if separate and not any(outcome.commit for outcome in report.outcomes):
            repository.delete_branch(workspace.branch)
        save_record(repository.root, report, settings.cost)
    return report


def _save_interrupted(root: Path, report: HealReport, settings: Settings) -> None:
    """Save the record of an interrupted heal; failing to save must not hide the interrupt."""
    try:
        save_record(root, report, settings.cost)
    except OSError as error:
        logger.warning(
            "failed to save the record of interrupted heal %s: %s", report.heal_id, error
        )


def heal_budget(settings: Settings) -> Budget:
    """Return a fresh budget with the limits of ``settings``."""
    return Budget(
        max_tokens=settings.max_tokens,
        max_cost=settings.max_cost,
        max_seconds=settings.heal_timeout,
        prices=parse_prices(settings.model_prices),
    )


@contextlib.contextmanager
def _workspace(repository: Repository, options: HealOptions, heal_id: str) -> Iterator[Workspace]:
    dirty = repository.dirty_paths()
    if options.dry_run:
        # Providers read the files from an extracted copy of HEAD, which is
        # exactly what the sandbox validates against, dirty tree or not.
        with tempfile.TemporaryDirectory(prefix="agentos-dry-run-") as folder:
            Snapshot(repository.archive("HEAD")).extract(Path(folder))
            yield Workspace(Path(folder), None, None)
        return

    if (
        dirty
        and not options.allow_dirty
        and options.branch is None
        and not options.apply_to_worktree
    ):
        raise DirtyTreeError(
            f"{repository.root} has uncommitted changes in {_list(dirty)}. Commit or stash them, "
            "or rerun with --allow-dirty to put fixes on a separate branch "
            "without touching your files, or with --apply-to-worktree to fix your files in place."
        )
    if options.branch or (dirty and not options.apply_to_worktree):
        branch = options.branch or f"agentos/fixes-{heal_id}"
        with repository.fix_worktree(branch) as worktree:
            yield Workspace(worktree.root, worktree, branch)
        return

    branch = repository.branch()
    if branch is None:
        raise RepositoryError(
            f"HEAD of {repository.root} is detached, so fixes have no branch to go on. "
            "Check out a branch, or pass --branch NAME to put fixes on a new branch."
        )
    target = WorktreeTarget(repository) if options.apply_to_worktree else None
    yield Workspace(repository.root, repository, branch, target)


def _list(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown if len(paths) <= limit else f"{shown} and {len(paths) - limit} more"
