"""The tool's fixes, read back from git history by their commit trailers.

A fix is a commit whose message carries the ``Agentos-Fault`` and
``Agentos-Heal`` trailers and no ``Agentos-Reverts`` trailer. Fixes are found
by their trailers, not by sha, so the history survives a rebase or an amend
(both keep the message) and the loss of ``.agentos/``. Heal records under
``.agentos/heals`` add what a commit does not hold (fault kind, candidates,
context, time spent) when they are present.

The state of a fix is decided in this order:

=========  ===================================================================
state      when
=========  ===================================================================
reverted   a later commit reverts it and is not itself reverted. A revert is
           a commit with an ``Agentos-Reverts`` trailer naming the fix's sha
           (or, after a rebase changed that sha, carrying the fix's fault and
           heal trailers), or a ``git revert`` whose body says "This reverts
           commit <sha>" (or, after a rebase, whose subject is
           ``Revert "<the fix's subject>"``).
changed    a later commit that is neither the tool's (no ``Agentos-Fault``
           trailer) nor a revert or reapply changed or deleted a line that the
           fix added, as ``git blame --reverse`` traces the line from the fix
           to HEAD. For a file where the fix only deleted lines, any later
           commit of that kind that touches the file counts.
kept       otherwise.
=========  ===================================================================
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kernel.errors import RepositoryError
from kernel.gitops import Repository
from kernel.messages import (
    TRAILER_COST,
    TRAILER_FAULT,
    TRAILER_HEAL,
    TRAILER_MODEL,
    TRAILER_PROVIDER,
    TRAILER_REVERTS,
    TRAILER_TOKENS,
    TRAILER_VALIDATION,
)
from kernel.records import load_records

logger = logging.getLogger(__name__)

_REVERTS_SHA = re.compile(r"This reverts commit ([0-9a-f]{7,64})")
_REVERT_SUBJECT = re.compile(r'^(?:Revert|Reapply) "(.*)"$')
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_HEAL_START = re.compile(r"^(\d{8}T\d{6}Z)-")


class FixState(enum.Enum):
    KEPT = "kept"
    REVERTED = "reverted"
    CHANGED = "changed"  # changed later by hand; the module docstring defines it


@dataclass(frozen=True)
class Fix:
    """One fix commit of the tool, with its state and what its heal record adds."""

    commit: str
    subject: str
    committed: datetime
    heal_id: str
    fault_id: str
    provider: str
    model: str | None
    validation: str
    files: tuple[str, ...]
    state: FixState
    state_commit: str | None = None  # the commit that reverted or changed the fix
    tokens: int | None = None  # model tokens spent on the fault; None when unknown
    cost: float | None = None  # US dollars; None when no price was configured
    seconds: float | None = None  # time from the start of the heal (or the record) to the fix
    fault_kind: str | None = None  # lint, test or collection; only known from the record
    fault_summary: str | None = None
    record: dict = field(default_factory=dict, compare=False, repr=False)  # the record's fault


@dataclass(frozen=True)
class _Commit:
    sha: str
    parents: tuple[str, ...]
    committed: datetime
    subject: str
    trailers: dict[str, str]
    body: str

    @property
    def is_tool_commit(self) -> bool:
        return TRAILER_FAULT in self.trailers

    @property
    def is_fix(self) -> bool:
        keys = self.trailers
        return TRAILER_FAULT in keys and TRAILER_HEAL in keys and TRAILER_REVERTS not in keys


def load_history(repository: Repository, path: Path | None = None) -> list[Fix]:
    """Return the fixes reachable from HEAD, newest first, optionally only those touching ``path``.

    ``path`` is a file or folder inside the work tree; fixes that changed a
    file at or under it are kept.
    """
    commits = _candidate_commits(repository)
    reverted_by, reverts = _reverts(commits)
    # Neither the tool's commits nor reverts and reapplies count as changes by hand.
    not_by_hand = {commit.sha for commit in commits if commit.is_tool_commit} | reverts
    records = _record_index(repository.root)
    head = repository.head()

    fixes = []
    for commit in reversed(commits):  # git log's order: newest first
        if not commit.is_fix:
            continue
        files = _files(repository, commit.sha)
        if path is not None and not _touches(files, _relative(repository, path)):
            continue
        revert = reverted_by.get(commit.sha)
        if revert is not None:
            state, state_commit = FixState.REVERTED, revert
        else:
            state_commit = _changed_by(repository, commit.sha, head, not_by_hand)
            state = FixState.KEPT if state_commit is None else FixState.CHANGED
        fixes.append(_fix(commit, files, state, state_commit, records))
    return fixes


def heal_started(heal_id: str) -> datetime | None:
    """Return the start time that a heal id encodes, or None when it encodes none."""
    match = _HEAL_START.match(heal_id)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


# Reading commits


def _candidate_commits(repository: Repository) -> list[_Commit]:
    """Return the commits reachable from HEAD that are fixes or reverts, oldest first."""
    output = repository.query(
        "log",
        "-E",
        f"--grep=^({TRAILER_FAULT}|{TRAILER_REVERTS}):",
        "--grep=This reverts commit",
        "--format=%H%x1f%P%x1f%cI%x1f%s%x1f%(trailers:only,unfold)%x1f%b%x1e",
        "HEAD",
    )
    commits = []
    for entry in output.split("\x1e"):
        entry = entry.strip("\n")
        if not entry:
            continue
        sha, parents, committed, subject, trailers, body = entry.split("\x1f", 5)
        commits.append(
            _Commit(
                sha,
                tuple(parents.split()),
                datetime.fromisoformat(committed),
                subject,
                _parse_trailers(trailers),
                body,
            )
        )
    commits.reverse()
    return commits


def _parse_trailers(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        key, separator, value = line.partition(":")
        if separator and key.startswith("Agentos-"):
            result[key.strip()] = value.strip()
    return result


def _reverts(commits: list[_Commit]) -> tuple[dict[str, str], set[str]]:
    """Map each reverted fix's sha to the commit that reverted it; ``commits`` are oldest first.

    Also return every commit that reverts a fix or a revert. A revert that is
    itself reverted (git's "Reapply") makes its fix kept again.
    """
    earlier: list[_Commit] = []
    fix_of_revert: dict[str, str] = {}
    reverted_by: dict[str, str] = {}
    reverts: set[str] = set()
    for commit in commits:
        target = _revert_target(commit, earlier)
        earlier.append(commit)
        if target is None:
            continue
        if target.sha in fix_of_revert:
            reverted_by.pop(fix_of_revert[target.sha], None)
            reverts.add(commit.sha)
        elif target.is_fix:
            reverted_by[target.sha] = commit.sha
            fix_of_revert[commit.sha] = target.sha
            reverts.add(commit.sha)
    return reverted_by, reverts


def _revert_target(commit: _Commit, earlier: list[_Commit]) -> _Commit | None:
    named = commit.trailers.get(TRAILER_REVERTS)
    if named is None:
        match = _REVERTS_SHA.search(commit.body)
        named = match.group(1) if match else None
    if named:
        found = next((c for c in reversed(earlier) if c.sha.startswith(named)), None)
        if found is not None:
            return found

    # The named sha is gone after a rebase; fall back on what a rebase keeps.
    if TRAILER_REVERTS in commit.trailers and TRAILER_HEAL in commit.trailers:
        key = (commit.trailers[TRAILER_HEAL], commit.trailers.get(TRAILER_FAULT))
        return next(
            (
                c
                for c in reversed(earlier)
                if c.is_fix and (c.trailers[TRAILER_HEAL], c.trailers[TRAILER_FAULT]) == key
            ),
            None,
        )
    subject = _REVERT_SUBJECT.match(commit.subject)
    if subject is not None and named:
        return next((c for c in reversed(earlier) if c.subject == subject.group(1)), None)
    return None


def _files(repository: Repository, sha: str) -> tuple[str, ...]:
    output = repository.query(
        "diff-tree", "--root", "--no-commit-id", "-r", "--name-only", "-z", sha
    )
    return tuple(name for name in output.split("\0") if name)


def _relative(repository: Repository, path: Path) -> str:
    resolved = Path(path).resolve()
    try:
        relative = resolved.relative_to(repository.root.resolve())
    except ValueError as error:
        raise RepositoryError(
            f"{path} is outside the work tree {repository.root}. Pass a path inside it."
        ) from error
    return relative.as_posix()


def _touches(files: Iterable[str], prefix: str) -> bool:
    if prefix in ("", "."):
        return True
    return any(name == prefix or name.startswith(prefix.rstrip("/") + "/") for name in files)


# Changed by hand


def _changed_by(repository: Repository, sha: str, head: str, not_by_hand: set[str]) -> str | None:
    """Return the first later commit outside the tool that changed a line the fix added."""
    if sha == head:
        return None
    children = _children(repository, sha)
    for path, lines in _added_lines(repository, sha).items():
        if lines:
            found = _line_changer(repository, sha, path, lines, head, children, not_by_hand)
        else:
            found = _file_changer(repository, sha, path, not_by_hand)
        if found is not None:
            return found
    return None


def _children(repository: Repository, sha: str) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    output = repository.query("rev-list", "--parents", "--ancestry-path", f"{sha}..HEAD")
    for line in output.splitlines():
        commit, *parents = line.split()
        for parent in parents:
            children.setdefault(parent, []).append(commit)
    return children


def _added_lines(repository: Repository, sha: str) -> dict[str, list[int]]:
    """Map each file the fix left in place to the line numbers it added, in the fix's version."""
    output = repository.query(
        "diff-tree", "-p", "-U0", "--no-color", "--no-renames", "--root", "--no-commit-id", sha
    )
    added: dict[str, list[int]] = {}
    current: str | None = None
    for line in output.splitlines():
        if line.startswith("+++ "):
            # NOTE: a path that git quotes (unusual characters) is skipped.
            name = line[4:]
            current = name[2:] if name.startswith("b/") else None
            if current is not None:
                added.setdefault(current, [])
            continue
        hunk = _HUNK.match(line)
        if hunk is not None and current is not None:
            start, count = int(hunk.group(1)), int(hunk.group(2) or "1")
            added[current].extend(range(start, start + count))
    return added


def _line_changer(
    repository: Repository,
    sha: str,
    path: str,
    lines: list[int],
    head: str,
    children: dict[str, list[str]],
    not_by_hand: set[str],
) -> str | None:
    try:
        output = repository.query("blame", "--reverse", "--porcelain", f"{sha}..HEAD", "--", path)
    except RepositoryError as error:
        logger.debug("git blame --reverse of %s from %s failed: %s", path, sha[:12], error)
        return None
    last_seen = _blame_lines(output)
    for number in lines:
        seen = last_seen.get(number)
        if seen is None or seen == head:
            continue
        for child in children.get(seen, []):
            if child not in not_by_hand:
                return child
    return None


def _blame_lines(output: str) -> dict[int, str]:
    """Map line numbers of the start version to the last commit that still had each line."""
    result = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 3 and len(fields[0]) >= 40 and fields[1].isdigit():
            result[int(fields[2])] = fields[0]
    return result


def _file_changer(repository: Repository, sha: str, path: str, not_by_hand: set[str]) -> str | None:
    output = repository.query("log", "--reverse", "--format=%H", f"{sha}..HEAD", "--", path)
    return next((commit for commit in output.split() if commit not in not_by_hand), None)


# Records


def _record_index(root: Path) -> dict[tuple[str, str], dict]:
    """Map (heal id, fault id) to the fault's entry in the heal records."""
    index = {}
    for record in load_records(root):
        for entry in record.get("faults", []):
            if isinstance(entry, dict) and "id" in entry:
                index[(record["heal_id"], entry["id"])] = entry
    return index


def _fix(
    commit: _Commit,
    files: tuple[str, ...],
    state: FixState,
    state_commit: str | None,
    records: dict[tuple[str, str], dict],
) -> Fix:
    trailers = commit.trailers
    heal_id, fault_id = trailers[TRAILER_HEAL], trailers[TRAILER_FAULT]
    entry = records.get((heal_id, fault_id), {})
    model = trailers.get(TRAILER_MODEL)
    return Fix(
        commit=commit.sha,
        subject=commit.subject,
        committed=commit.committed,
        heal_id=heal_id,
        fault_id=fault_id,
        provider=trailers.get(TRAILER_PROVIDER, "unknown"),
        model=None if model in (None, "none") else model,
        validation=trailers.get(TRAILER_VALIDATION, ""),
        files=files,
        state=state,
        state_commit=state_commit,
        tokens=_tokens(trailers, entry),
        cost=_cost(trailers, entry),
        seconds=_seconds(commit, heal_id, entry),
        fault_kind=entry.get("kind"),
        fault_summary=entry.get("summary"),
        record=entry,
    )


def _tokens(trailers: dict[str, str], entry: dict) -> int | None:
    usage = entry.get("usage")
    if isinstance(usage, dict) and "total_tokens" in usage:
        return int(usage["total_tokens"])
    text = trailers.get(TRAILER_TOKENS, "")
    first = text.split(" ", 1)[0]
    if first.isdigit():
        return int(first)
    # A heal writes no token trailer when no model was asked.
    return 0 if trailers.get(TRAILER_MODEL, "none") == "none" else None


def _cost(trailers: dict[str, str], entry: dict) -> float | None:
    if isinstance(entry.get("cost"), (int, float)):
        return float(entry["cost"])
    text = trailers.get(TRAILER_COST, "").split(" ", 1)[0]
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _seconds(commit: _Commit, heal_id: str, entry: dict) -> float | None:
    if isinstance(entry.get("seconds"), (int, float)) and entry["seconds"] > 0:
        return float(entry["seconds"])
    started = heal_started(heal_id)
    if started is None:
        return None
    return max(0.0, (commit.committed - started).total_seconds())


def fix_to_dict(fix: Fix) -> dict:
    """Return ``fix`` as plain JSON data, the shape of ``agentos history --json``."""
    return {
        "commit": fix.commit,
        "subject": fix.subject,
        "committed": fix.committed.isoformat(),
        "heal_id": fix.heal_id,
        "fault": {"id": fix.fault_id, "kind": fix.fault_kind, "summary": fix.fault_summary},
        "files": list(fix.files),
        "provider": fix.provider,
        "model": fix.model,
        "validation": fix.validation,
        "tokens": fix.tokens,
        "cost": fix.cost,
        "seconds": fix.seconds,
        "state": fix.state.value,
        "state_commit": fix.state_commit,
    }


def find_fixes(fixes: list[Fix], identifier: str) -> list[Fix]:
    """Return the fixes that ``identifier`` names: a commit sha prefix, a fault id or a heal id.

    A commit prefix needs at least 4 characters; a fault id may be a prefix too.
    """
    identifier = identifier.strip().lower()
    if len(identifier) < 4:
        return []
    by_heal = [fix for fix in fixes if fix.heal_id.lower() == identifier]
    if by_heal:
        return by_heal
    by_commit = [fix for fix in fixes if fix.commit.startswith(identifier)]
    if by_commit:
        return by_commit
    return [fix for fix in fixes if fix.fault_id.startswith(identifier)]
