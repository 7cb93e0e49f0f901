"""The ``agentos`` command line.

Exit codes: 0 when nothing is left to heal (or a check passed), 1 when faults
remain (or ``doctor`` found a problem), 2 for a usage or environment error,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import sys

from rich.markup import escape

from kernel.commands import (
    demo,
    doctor,
    heal,
    history,
    report,
    revert,
    run,
    sandbox,
    stats,
    watch,
)
from kernel.console import Reporter
from kernel.errors import KernelError
from kernel.interrupted import interrupted_message
from kernel.interrupts import signals_interrupt
from patches.secrets import RedactingFilter, environment_secrets

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAULTS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# Each module registers one command group; see kernel/commands/__init__.py.
COMMAND_MODULES = (heal, doctor, demo, watch, run, history, revert, stats, report, sandbox)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentos",
        description="Self-healing kernel for Python repositories: find faults, validate fixes "
        "in a sandbox, commit them with git.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv for debug)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    _configure_logging(arguments.verbose)
    reporter = Reporter()
    try:
        # SIGTERM takes the same path as Ctrl-C, so containers, worktrees and the
        # lock are cleaned up by the same finally blocks.
        with signals_interrupt():
            return arguments.run(arguments, reporter)
    except KernelError as error:
        reporter.console.print(f"[bold red]error[/] {escape(str(error))}")
        if getattr(arguments, "json", False):
            # A script reading --json output gets an object on every exit, errors included.
            json.dump({"error": str(error), "exit_code": error.exit_code}, sys.stdout)
            sys.stdout.write("\n")
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        reporter.console.print(
            f"[bold red]interrupted[/]: {escape(interrupted_message(interrupt))}"
        )
        return EXIT_INTERRUPTED


def _version() -> str:
    try:
        return importlib.metadata.version("llmagentos")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING
    if verbosity == 1:
        level = logging.INFO
    elif verbosity >= 2:
        level = logging.DEBUG
    # Module names help when debugging; without -v, a plain "WARNING: ..." reads better.
    layout = (
        "%(levelname)s: %(message)s" if verbosity == 0 else "%(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=level, format=layout, stream=sys.stderr)
    # Payloads logged at debug level include prompts, so every handler hides secrets.
    secrets = RedactingFilter(environment_secrets())
    for handler in logging.getLogger().handlers:
        handler.addFilter(secrets)


if __name__ == "__main__":
    sys.exit(main())
