"""``agentos stats``: how much the tool healed, how fast, and at what cost."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from kernel.anomalies import find_anomalies
from kernel.console import Reporter
from kernel.gitops import Repository
from kernel.history import load_history
from kernel.records import load_records
from kernel.stats import Stats, compute_stats, stats_to_dict


def register(commands: argparse._SubParsersAction) -> None:
    stats = commands.add_parser("stats", help="share of faults healed, time and tokens per fix")
    stats.set_defaults(run=run)
    stats.add_argument("path", nargs="?", default=".", type=Path, help="repository (default: .)")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")


def run(arguments: argparse.Namespace, reporter: Reporter) -> int:
    repository = Repository.open(arguments.path)
    try:
        stats = compute_stats(load_history(repository), load_records(repository.root))
        anomalies = find_anomalies(repository.root)
    finally:
        repository.close()
    if arguments.json:
        data = stats_to_dict(stats)
        data["anomalies"] = [
            {"kind": anomaly.kind.value, "subject": anomaly.subject, "detail": anomaly.detail}
            for anomaly in anomalies
        ]
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        console = Console(highlight=False)
        _print(console, stats)
        # Slow and flaky tests and rising crash rates, from the check history
        # that watch mode and the supervisor keep under .agentos/history.
        for anomaly in anomalies:
            console.print(f"anomaly         {anomaly.kind.value}: {escape(anomaly.detail)}")
    return 0


def _print(console: Console, stats: Stats) -> None:
    share = stats.healed_share
    console.print(
        f"faults healed   {stats.faults_healed} of "
        f"{'?' if stats.faults_seen is None else stats.faults_seen}"
        + ("" if share is None else f" ({share:.0%})")
        + ("" if stats.faults_seen is not None else " (no heal records: faults seen unknown)")
    )
    console.print(f"fixes           {stats.fixes}, of which {stats.reverted} reverted")
    console.print(f"median to a fix {_number(stats.median_seconds, '{:.1f} s')}")
    console.print(f"tokens per fix  {_number(stats.tokens_per_fix, '{:.0f}')}")
    console.print(f"cost per fix    {_number(stats.cost_per_fix, '${:.4f}')}")
    kinds = ", ".join(f"{kind} {count}" for kind, count in stats.faults_by_kind.items())
    console.print(f"faults by kind  {kinds or 'none'}")
    if stats.flaky_tests is None:
        console.print("flaky tests     not recorded")
    else:
        console.print(f"flaky tests     {', '.join(stats.flaky_tests) or 'none'}")


def _number(value: float | None, layout: str) -> str:
    return "unknown" if value is None else layout.format(value)
