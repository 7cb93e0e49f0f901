"""``agentos heal``: find and fix the faults of a repository."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from kernel.config import PROVIDERS, SANDBOXES, flag_overrides, load_settings
from kernel.console import Reporter
from kernel.outcome import report_to_dict
from kernel.runner import HealOptions, run_heal


def register(commands: argparse._SubParsersAction) -> None:
    heal = commands.add_parser("heal", help="find and fix the faults of a repository")
    heal.set_defaults(run=run)
    heal.add_argument("path", nargs="?", default=".", type=Path, help="repository (default: .)")
    heal.add_argument(
        "--dry-run", action="store_true", help="validate and show the diffs, commit nothing"
    )
    heal.add_argument("--provider", choices=PROVIDERS, help="who proposes fixes (default: auto)")
    heal.add_argument("--model", help="model name for the OpenAI-compatible endpoint")
    heal.add_argument("--sandbox", choices=SANDBOXES, help="where candidates run (default: auto)")
    heal.add_argument(
        "--image",
        help="Docker base image for the sandbox; auto: a local python:X.Y-slim, "
        "else agentos-sandbox:latest (default: auto)",
    )
    heal.add_argument(
        "--max-attempts", type=int, help="candidates validated per provider and fault"
    )
    heal.add_argument("--test-timeout", type=float, help="seconds for one sandbox run of the suite")
    heal.add_argument(
        "--candidates", type=int, help="replies requested from the model per request (default: 3)"
    )
    heal.add_argument(
        "--max-rounds", type=int, help="requests per fault to the model, with feedback (default: 3)"
    )
    heal.add_argument(
        "--context-tokens", type=int, help="estimated tokens of code context per prompt (8000)"
    )
    heal.add_argument(
        "--max-tokens", type=int, help="model tokens one heal may use; 0 for no limit (200000)"
    )
    heal.add_argument(
        "--max-cost", type=float, help="estimated dollars one heal may spend; 0 for no limit (1)"
    )
    heal.add_argument(
        "--model-prices", help="MODEL=PROMPT/COMPLETION,... in dollars per million tokens"
    )
    heal.add_argument(
        "--tool-calling",
        action="store_const",
        const=True,
        help="offer the model an edit tool (many servers ignore or mangle tools)",
    )
    heal.add_argument(
        "--heal-timeout", type=float, help="seconds after which no model is asked (1800)"
    )
    heal.add_argument("--branch", help="put fixes on this new branch, made in a separate worktree")
    heal.add_argument(
        "--allow-dirty",
        action="store_true",
        help="with uncommitted changes, put fixes on a new branch instead of refusing",
    )
    heal.add_argument(
        "--apply-to-worktree",
        action="store_true",
        help="validate on your working tree as it is and write each fix into your files, "
        "committing only the fix",
    )
    heal.add_argument("--no-verify", action="store_true", help="skip the repository's commit hooks")
    heal.add_argument(
        "--json", action="store_true", help="print a machine-readable report on stdout"
    )


def run(arguments: argparse.Namespace, reporter: Reporter) -> int:
    settings = load_settings(arguments.path, flag_overrides(arguments))
    options = HealOptions(
        dry_run=arguments.dry_run,
        branch=arguments.branch,
        allow_dirty=arguments.allow_dirty,
        no_verify=arguments.no_verify,
        apply_to_worktree=arguments.apply_to_worktree,
    )
    report = run_heal(arguments.path, settings, options, reporter)
    # The summary is the result, so it goes to stdout. When the JSON report or
    # the diffs take stdout, it stays on stderr with the progress.
    takes_stdout = arguments.json or arguments.dry_run
    reporter.summary(report, None if takes_stdout else Console(highlight=False))
    if arguments.dry_run and not arguments.json:
        # The diffs go to stdout, so "agentos heal --dry-run > fixes.patch" keeps them.
        for outcome in report.outcomes:
            if outcome.diff:
                sys.stdout.write(outcome.diff)
    if arguments.json:
        json.dump(report_to_dict(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return report.exit_code
