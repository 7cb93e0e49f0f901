"""Value types that cross the boundary between the kernel and the patch providers.

The kernel maps its faults onto a :class:`RepairRequest`, and a provider
returns :class:`Candidate` patches and the reasons it rejected others. All paths
are POSIX paths relative to the repository root.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class FaultKind(enum.Enum):
    """What kind of check produced the fault."""

    LINT = "lint"
    TEST = "test"
    COLLECTION = "collection"
    CRASH = "crash"  # an uncaught exception of a supervised program


@dataclass(frozen=True)
class TraceFrame:
    """One traceback frame: repository-relative path when inside the repository."""

    path: str
    line: int
    function: str
    source: str = ""
    in_repository: bool = True


@dataclass(frozen=True)
class TextEdit:
    """A replacement of the text between two (line, column) positions, both 1-based.

    This is the shape of one edit in a ruff fix: the end position is exclusive.
    """

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    content: str


@dataclass(frozen=True)
class LintFix:
    """The fix that ruff suggests for a diagnostic, with its applicability."""

    message: str
    applicability: str  # "safe", "unsafe" or "display-only", as ruff reports it
    edits: tuple[TextEdit, ...]


@dataclass(frozen=True)
class Location:
    """A position in a repository file, with the enclosing function or class if known."""

    path: str
    line: int
    column: int = 1
    symbol: str | None = None  # qualified name such as "Cart.total", or None at module level


class FeedbackKind(enum.Enum):
    """Why an earlier reply did not fix the fault."""

    NOT_APPLIED = "not applied"  # the reply's edits could not be applied or broke a guard
    VALIDATION_FAILED = "validation failed"  # the edits applied, but the checks still fail


@dataclass(frozen=True)
class Turn:
    """One earlier round of a conversation: the model's reply and what went wrong with it."""

    reply: str
    kind: FeedbackKind
    problem: str  # the rejection reason or the trimmed validation failure


@dataclass(frozen=True)
class Spectrum:
    """The lines each test executed in one run, and which of those tests failed.

    ``executed`` maps a test's node id to {repository path: executed line numbers}.
    """

    executed: Mapping[str, Mapping[str, frozenset[int]]]
    failed: frozenset[str]


@dataclass(frozen=True)
class RepairRequest:
    """Everything a provider may use to propose a fix for one fault.

    ``history`` holds the earlier rounds for this fault, oldest first, for
    providers that hold a conversation.
    """

    fault_id: str
    kind: FaultKind
    summary: str
    message: str
    location: Location | None
    exc_type: str | None = None
    frames: tuple[TraceFrame, ...] = ()
    lint_code: str | None = None
    lint_fix: LintFix | None = None
    test_ids: tuple[str, ...] = ()
    test_output: str = ""
    history: tuple[Turn, ...] = ()
    spectrum: Spectrum | None = None  # per-test coverage of the run that showed the fault


@dataclass(frozen=True)
class FileEdit:
    """The whole new text of one file; ``before`` is the text the edit was made against."""

    path: str
    before: str
    after: str


@dataclass(frozen=True)
class Usage:
    """Token usage as the model API reports it, summed over requests."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.requests + other.requests,
        )


@dataclass(frozen=True)
class Candidate:
    """One proposed patch: whole-file edits plus the unified diff that shows them."""

    provider: str
    model: str | None
    summary: str
    edits: tuple[FileEdit, ...]
    diff: str
    reply: str = field(default="", compare=False, repr=False)  # the model's text, for feedback
    # Ruff rule codes whose fixes ruff marks unsafe (they can change behaviour)
    # and that this patch applies; empty for every other patch.
    unsafe_fixes: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(edit.path for edit in self.edits)

    @property
    def changed_lines(self) -> int:
        """Count the added and removed lines in the diff, the measure of a patch's size."""
        return sum(
            1
            for line in self.diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        )


@dataclass(frozen=True)
class Rejection:
    """A reply or edit the provider could not turn into a candidate, with the reason."""

    provider: str
    reason: str
    reply: str = field(default="", compare=False, repr=False)  # the model's text, for feedback


@dataclass(frozen=True)
class Proposal:
    """The candidates, rejections and usage a provider returns for one request."""

    candidates: tuple[Candidate, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    usage: Usage = field(default_factory=Usage)
    # True when the candidates are already in the order to validate them,
    # most likely first; otherwise the caller validates the smallest first.
    ranked: bool = False
