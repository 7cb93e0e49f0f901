"""The reply corpus: realistic model replies with the file each should produce or the rejection.

Each case in ``tests/data/replies/cases`` is a text file::

    about: one line saying what the reply does
    expect: applied            (or: rejected)
    reason: text the rejection must contain       (rejected cases only)
    test: tests/test_cart.py::test_total_counts_quantity   (optional, for cheat checks)
    finish: length             (optional finish_reason, default stop)
    allowed: inventory/cart.py (optional, comma-separated paths the reply may edit)
    === reply
    the reply, exactly as a model sent it
    === change inventory/cart.py
    --- old
    text that occurs once in the original file
    --- new
    the text it becomes

The expected file is the original with each ``old`` replaced by its ``new``,
so the oracle never comes from the engine under test. Every case runs against
the same small repository in ``tests/data/replies/repo``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from patches.cheats import failing_test_literals
from patches.errors import EditError
from patches.guards import check_candidate
from patches.replies import candidate_from_reply

CORPUS = Path(__file__).parent / "data" / "replies"
REPOSITORY = CORPUS / "repo"


@dataclass(frozen=True)
class Change:
    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    expect: str  # "applied" or "rejected"
    reply: str
    reason: str = ""
    test_ids: tuple[str, ...] = ()
    finish_reason: str = "stop"
    allowed: tuple[str, ...] | None = None
    changes: tuple[Change, ...] = ()

    def expected_files(self, root: Path) -> dict[str, str]:
        """Return the text each changed file should have after the reply is applied."""
        files: dict[str, str] = {}
        for change in self.changes:
            path = root / change.path
            text = files.get(change.path)
            if text is None:
                text = path.read_text(encoding="utf-8") if path.exists() else ""
            if change.old:
                if text.count(change.old) != 1:
                    raise ValueError(f"case {self.name}: old text of {change.path} is not unique")
                text = text.replace(change.old, change.new)
            else:
                text = change.new
            files[change.path] = text
        return files


@dataclass(frozen=True)
class Result:
    """What the engine made of one case: the changed files, or the rejection reasons."""

    files: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def applied(self) -> bool:
        return not self.reasons


def load_cases() -> list[Case]:
    return [parse_case(path) for path in sorted((CORPUS / "cases").glob("*.txt"))]


def parse_case(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    header, _, rest = text.partition("=== reply\n")
    fields = {}
    for line in header.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    sections = re.split(r"(?m)^=== change ", rest)
    reply = sections[0]
    changes = []
    for section in sections[1:]:
        changed_path, _, body = section.partition("\n")
        old, _, new = body.partition("--- new\n")
        old = old.removeprefix("--- old\n")
        changes.append(Change(changed_path.strip(), old, new))
    allowed = fields.get("allowed")
    return Case(
        name=path.stem,
        about=fields.get("about", ""),
        expect=fields["expect"],
        reply=reply,
        reason=fields.get("reason", ""),
        test_ids=tuple(t.strip() for t in fields.get("test", "").split(",") if t.strip()),
        finish_reason=fields.get("finish", "stop"),
        allowed=tuple(p.strip() for p in allowed.split(",")) if allowed else None,
        changes=tuple(changes),
    )


def run_case(case: Case, root: Path = REPOSITORY) -> Result:
    """Apply a case's reply as the provider and the guards would, without writing anything."""
    started = time.perf_counter()
    try:
        candidate = candidate_from_reply(
            case.reply,
            root,
            provider="corpus",
            model=None,
            finish_reason=case.finish_reason,
            allowed=case.allowed,
        )
    except EditError as error:
        return Result(reasons=(str(error),), seconds=time.perf_counter() - started)
    literals = failing_test_literals(root, case.test_ids)
    reasons = check_candidate(candidate, root, test_literals=literals)
    files = {edit.path: edit.after for edit in candidate.edits}
    return Result(files, tuple(reasons), time.perf_counter() - started)
