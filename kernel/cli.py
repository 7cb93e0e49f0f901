"""The ``agentos`` command line.

Exit codes: 0 when nothing is left to heal (or a check passed), 1 when faults
remain (or ``doctor`` found a problem), 2 for a usage or environment error,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from kernel.config import PROVIDERS, SANDBOXES, load_settings
from kernel.console import Reporter
from kernel.errors import KernelError
from kernel.outcome import report_to_dict
from kernel.runner import HealOptions, run_heal

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAULTS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentos",
        description="Self-healing kernel for Python repositories: find faults, validate fixes "
        "in a sandbox, commit them with git.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    heal = commands.add_parser("heal", help="find and fix the faults of a repository")
    heal.add_argument("path", nargs="?", default=".", type=Path, help="repository (default: .)")
    heal.add_argument(
        "--dry-run", action="store_true", help="validate and show the diffs, commit nothing"
    )
    heal.add_argument("--provider", choices=PROVIDERS, help="who proposes fixes (default: auto)")
    heal.add_argument("--model", help="model name for the OpenAI-compatible endpoint")
    heal.add_argument("--sandbox", choices=SANDBOXES, help="where candidates run (default: auto)")
    heal.add_argument(
        "--image", help="Docker image for the sandbox (default: agentos-sandbox:latest)"
    )
    heal.add_argument(
        "--max-attempts", type=int, help="candidates validated per provider and fault"
    )
    heal.add_argument("--test-timeout", type=float, help="seconds for one sandbox run of the suite")
    heal.add_argument("--branch", help="put fixes on this new branch, made in a separate worktree")
    heal.add_argument(
        "--allow-dirty",
        action="store_true",
        help="with uncommitted changes, put fixes on a new branch instead of refusing",
    )
    heal.add_argument("--no-verify", action="store_true", help="skip the repository's commit hooks")
    heal.add_argument(
        "--json", action="store_true", help="print a machine-readable report on stdout"
    )

    doctor = commands.add_parser(
        "doctor", help="check git, Docker, the sandbox image, ruff, pytest and the model"
    )
    doctor.add_argument(
        "path", nargs="?", default=".", type=Path, help="repository whose settings to read"
    )

    demo = commands.add_parser("demo", help="heal a bundled buggy project in a temporary folder")
    demo.add_argument("--sandbox", choices=SANDBOXES, help="where candidates run (default: auto)")
    demo.add_argument(
        "--path", type=Path, help="copy the project here instead of a temporary folder"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    _configure_logging(arguments.verbose)
    reporter = Reporter()
    # SIGTERM takes the same path as Ctrl-C, so containers, worktrees and the
    # lock are cleaned up by the same finally blocks.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if arguments.command == "heal":
            return _heal(arguments, reporter)
        if arguments.command == "doctor":
            from kernel.doctor import run_doctor

            return run_doctor(arguments.path, reporter)
        from kernel.demo import run_demo

        return run_demo(arguments.sandbox, arguments.path, reporter)
    except KernelError as error:
        reporter.console.print(f"[bold red]error[/] {error}")
        return error.exit_code
    except KeyboardInterrupt:
        reporter.console.print("[bold red]interrupted[/]: no fix was left half-applied")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signal_number}")


def _heal(arguments: argparse.Namespace, reporter: Reporter) -> int:
    settings = load_settings(
        arguments.path,
        {
            "provider": arguments.provider,
            "model": arguments.model,
            "sandbox": arguments.sandbox,
            "image": arguments.image,
            "max_attempts": arguments.max_attempts,
            "test_timeout": arguments.test_timeout,
        },
    )
    options = HealOptions(
        dry_run=arguments.dry_run,
        branch=arguments.branch,
        allow_dirty=arguments.allow_dirty,
        no_verify=arguments.no_verify,
    )
    report = run_heal(arguments.path, settings, options, reporter)
    reporter.summary(report)
    if arguments.dry_run:
        for outcome in report.outcomes:
            if outcome.diff:
                reporter.console.print(outcome.diff, markup=False, highlight=False)
    if arguments.json:
        json.dump(report_to_dict(report), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return report.exit_code


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    # Module names help when debugging; without -v, a plain "WARNING: ..." reads better.
    layout = (
        "%(levelname)s: %(message)s" if verbosity == 0 else "%(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=level, format=layout, stream=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
