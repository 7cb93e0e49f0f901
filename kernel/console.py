"""Progress, warnings and heal summaries for people, printed with rich.

Progress and warnings go to standard error. A command's result goes to
standard output, so ``agentos heal > summary.txt`` keeps the summary table;
:meth:`Reporter.summary` takes the console to print to, because ``--json``
and ``--dry-run`` put the JSON report or the diffs on standard output instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kernel.faults import Fault
from kernel.outcome import FaultStatus, HealReport
from patches.types import Candidate

_STATUS_STYLE = {
    FaultStatus.HEALED: "green",
    FaultStatus.VALIDATED: "green",
    FaultStatus.REVERTED: "yellow",
    FaultStatus.UNHEALED: "red",
    FaultStatus.RESOLVED: "green",
    FaultStatus.ENVIRONMENT: "yellow",
    FaultStatus.BLOCKED: "yellow",
    FaultStatus.UNVERIFIED: "yellow",
}


class Reporter:
    """Prints one line per visible event of a heal; ``quiet`` silences progress but not warnings."""

    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.quiet = quiet

    def step(self, phase: str, text: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold cyan]{phase:>8}[/] {escape(text)}")

    def warn(self, text: str) -> None:
        self.console.print(f"[bold yellow]warning[/] {escape(text)}")

    def faults_found(self, faults: Sequence[Fault]) -> None:
        if self.quiet:
            return
        if not faults:
            self.step("detect", "no faults: the tests pass and ruff is clean")
            return
        self.step("detect", f"{len(faults)} fault(s):")
        for fault in faults:
            self.console.print(f"         [dim]{fault.id}[/] {escape(fault.summary)}")

    def candidate(self, candidate: Candidate, accepted: bool, reason: str) -> None:
        if self.quiet:
            return
        mark = "[green]accepted[/]" if accepted else "[red]rejected[/]"
        self.console.print(
            f"         {mark} {escape(candidate.summary)}{_unsafe_note(candidate.unsafe_fixes)}: "
            f"{escape(reason)}"
        )

    def outcome(self, outcome) -> None:
        if outcome.commit_output:
            # A rejecting hook's own output tells the user what to fix, so even quiet shows it.
            self.warn(f"git commit for fault {outcome.fault.id} was rejected. Its output:")
            self.console.print(outcome.commit_output, markup=False, highlight=False)
        if self.quiet:
            return
        style = _STATUS_STYLE[outcome.status]
        commit = f" as {outcome.commit[:12]}" if outcome.commit else ""
        self.console.print(
            f"[bold {style}]{outcome.status.value:>8}[/] {escape(outcome.fault.summary)}{commit}"
            f"{_unsafe_note(outcome.unsafe_fixes)}"
        )

    def summary(self, report: HealReport, console: Console | None = None) -> None:
        """Print the outcome table and the totals of ``report`` to ``console`` (default: stderr)."""
        console = console or self.console
        table = Table(title=f"heal {report.heal_id}", show_lines=False)
        # Status and commit are short and never cut. Fault and detail wrap and break
        # long paths too, so the advice that ends a detail stays readable at 80 columns.
        table.add_column("status", no_wrap=True, min_width=11)
        table.add_column("fault", overflow="fold", ratio=2)
        table.add_column("commit", no_wrap=True, min_width=12)
        table.add_column("detail", overflow="fold", ratio=3)
        for outcome in report.outcomes:
            style = _STATUS_STYLE[outcome.status]
            table.add_row(
                f"[{style}]{outcome.status.value}[/]",
                escape(outcome.fault.summary),
                (outcome.commit or "")[:12],
                escape(_shorten(outcome.reason, 500)),
            )
        if report.outcomes:
            console.print(table)
        where = f" on branch {report.branch}" if report.branch else ""
        healed = sum(1 for o in report.outcomes if o.status is FaultStatus.HEALED)
        verb = "validated" if report.dry_run else "committed"
        count = (
            healed
            if not report.dry_run
            else sum(1 for o in report.outcomes if o.status is FaultStatus.VALIDATED)
        )
        console.print(
            f"{count} fix(es) {verb}{where}; {len(report.remaining)} fault(s) remain. "
            f"Sandbox: {report.sandbox}; providers: {', '.join(report.providers)}."
        )
        if report.flaky:
            listed = escape(", ".join(report.flaky[:5]))
            more = f" and {len(report.flaky) - 5} more" if len(report.flaky) > 5 else ""
            console.print(
                f"[yellow]flaky[/] quarantined (not patched, not counted as regressions): "
                f"{listed}{more}"
            )


def _unsafe_note(codes: tuple[str, ...]) -> str:
    """Mark a patch that applies ruff fixes marked unsafe, which can change behaviour."""
    if not codes:
        return ""
    return f" [yellow](unsafe ruff fix: {escape(', '.join(codes))})[/]"


def _shorten(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut, so a long test output stays short."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
