"""Measure the offline repair engine on the corpus in bench/offline_corpus.

Each program goes through the real kernel path, a dry-run ``agentos heal``
with the offline provider only: baseline with coverage, fault detection,
proposals and sandbox validation. The first validated diff is then applied
to a copy of the program and judged with the visible and the held-back tests:

    fixed correctly   the visible and the held-back tests pass
    overfitting       the visible tests pass, a held-back test fails
    not fixed         no validated diff, or a visible test still fails

For an overfitting fix the bench also validates every candidate the engine
proposed, to tell whether a correct one was within the budget.

    python bench/offline_repair.py [--sandbox local|docker] [--only NAME]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import offline_corpus  # noqa: E402
from bench.offline_corpus import Program  # noqa: E402
from kernel.checks import observe  # noqa: E402
from kernel.commands.heal import HealOptions, run_heal  # noqa: E402
from kernel.config import Settings  # noqa: E402
from kernel.console import Reporter  # noqa: E402
from kernel.faults import spectrum_of  # noqa: E402
from kernel.outcome import FaultStatus  # noqa: E402
from patches.offline import OfflineProvider  # noqa: E402
from patches.types import FaultKind  # noqa: E402
from sandbox.selection import open_backend  # noqa: E402
from sandbox.workspace import Snapshot  # noqa: E402

VERDICTS = ("correct", "overfitting", "not fixed")


@dataclass(frozen=True)
class Result:
    defect: str
    name: str
    verdict: str
    seconds: float
    correct_within_budget: bool | None  # only checked for an overfitting fix
    summary: str


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default="local", choices=("local", "docker"))
    parser.add_argument("--only", help="run only the programs whose name contains this text")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("sandbox.local_backend").setLevel(logging.ERROR)

    settings = Settings(provider="offline", sandbox=options.sandbox, test_timeout=60.0)
    results = []
    for defect, program in corpus():
        if options.only and options.only not in program.name:
            continue
        result = run_program(defect, program, settings)
        results.append(result)
        where = f"{defect}/{program.name}"
        print(f"{result.verdict:12} {result.seconds:6.1f} s  {where}: {result.summary}")
    print_table(results, options.sandbox)
    return 0


def corpus() -> list[tuple[str, Program]]:
    programs = []
    for info in pkgutil.iter_modules(offline_corpus.__path__):
        module = importlib.import_module(f"bench.offline_corpus.{info.name}")
        programs += [(info.name, program) for program in module.PROGRAMS]
    return programs


def run_program(defect: str, program: Program, settings: Settings) -> Result:
    with tempfile.TemporaryDirectory(prefix="agentos-bench-") as folder:
        root = Path(folder)
        write_program(root, program)
        started = time.monotonic()
        report = run_heal(root, settings, HealOptions(dry_run=True), Reporter(quiet=True))
        seconds = time.monotonic() - started

        # Lint faults (ruff's own suggestions) are healed too, but only a
        # test fault's fix shows whether the seeded bug was fixed.
        tests = [o for o in report.outcomes if o.fault.kind is not FaultKind.LINT]
        validated = [o for o in tests if o.status is FaultStatus.VALIDATED]
        if not validated:
            reason = tests[0].reason if tests else "no failing test found"
            return Result(defect, program.name, "not fixed", seconds, None, reason[:100])
        diff = validated[0].diff
        verdict = judge(root, program, diff)
        summary = validated[0].attempts[-1].summary
        within = None
        if verdict == "overfitting":
            within = any_correct_candidate(root, program, settings)
        return Result(defect, program.name, verdict, seconds, within, summary)


def write_program(root: Path, program: Program) -> None:
    files = {
        "app/__init__.py": "",
        "app/prog.py": program.module,
        "tests/__init__.py": "",
        "tests/test_visible.py": program.visible,
        **dict(program.other_files),
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "x"],
    ):
        subprocess.run(command, cwd=root, check=True)


def judge(root: Path, program: Program, diff: str) -> str:
    """Apply ``diff`` to a copy of the program and classify it with both test sets."""
    with tempfile.TemporaryDirectory(prefix="agentos-judge-") as folder:
        copy = Path(folder)
        write_program(copy, program)
        subprocess.run(["git", "apply", "-"], cwd=copy, input=diff.encode(), check=True)
        (copy / "tests/test_held_back.py").write_text(program.held_back, encoding="utf-8")
        if not passes(copy, "tests/test_visible.py"):
            return "not fixed"
        return "correct" if passes(copy, "tests/test_held_back.py") else "overfitting"


def passes(root: Path, tests: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
        cwd=root,
        capture_output=True,
        timeout=120,
    )
    return done.returncode == 0


def any_correct_candidate(root: Path, program: Program, settings: Settings) -> bool:
    """Tell whether any candidate the engine proposes for the first fault is correct."""
    backend = open_backend(settings.sandbox, settings.image)
    try:
        archive = subprocess.run(
            ["git", "archive", "HEAD"], cwd=root, capture_output=True, check=True
        ).stdout
        state = observe(backend, Snapshot(archive), root, settings.test_timeout)
    finally:
        backend.close()
    fault = next(f for f in state.faults if f.kind is not FaultKind.LINT)
    provider = OfflineProvider(settings.offline_max_candidates, settings.offline_seconds)
    proposal = provider.propose(
        fault.to_request(spectrum_of(state.run)), root, settings.offline_max_candidates
    )
    return any(judge(root, program, c.diff) == "correct" for c in proposal.candidates)


def print_table(results: list[Result], sandbox: str) -> None:
    by_defect: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_defect[result.defect].append(result)
    print()
    print(f"offline repair on {len(results)} programs, {sandbox} sandbox")
    header = f"{'defect class':16} {'programs':>8} {'correct':>8} {'overfit':>8} "
    print(header + f"{'not fixed':>9} {'median s':>9}")
    for defect in sorted(by_defect):
        print(row(defect, by_defect[defect]))
    print(row("total", results))
    missed = [r for r in results if r.verdict == "overfitting" and r.correct_within_budget]
    print(f"overfitting fixes accepted where a correct candidate was in the budget: {len(missed)}")


def row(label: str, results: list[Result]) -> str:
    counts = {verdict: sum(r.verdict == verdict for r in results) for verdict in VERDICTS}
    median = statistics.median(r.seconds for r in results) if results else 0.0
    return (
        f"{label:16} {len(results):8} {counts['correct']:8} {counts['overfitting']:8} "
        f"{counts['not fixed']:9} {median:9.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
