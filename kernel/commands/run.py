"""``agentos run``: supervise a Python program, heal the exceptions it crashes with, restart it.

Exit status: the program's own exit code; 128 + N when signal N killed it;
the crashed program's exit code (1 for an uncaught exception) when
supervision ends after a crash; 2 for a usage or environment error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kernel.config import PROVIDERS, SANDBOXES, flag_overrides, load_settings
from kernel.console import Reporter
from kernel.errors import KernelError
from kernel.gitops import Repository
from kernel.program import parse_command
from kernel.supervise import SuperviseOptions, Supervisor, report_gave_up


def register(commands: argparse._SubParsersAction) -> None:
    run_parser = commands.add_parser(
        "run",
        help="supervise a Python program: heal its crashes and restart it",
        description="Run CMD (SCRIPT ARGS, -m MODULE ARGS, or either after python) with its "
        "stdin, stdout, stderr, exit code and signals passed through. When it crashes with an "
        "uncaught exception, heal the exception in the sandbox, commit the fix and restart it.",
    )
    run_parser.set_defaults(run=run)
    run_parser.add_argument(
        "--repo", type=Path, help="repository of the program (default: the one containing .)"
    )
    run_parser.add_argument(
        "--max-restarts", type=int, default=5, help="restarts after crashes (default 5)"
    )
    run_parser.add_argument(
        "--backoff",
        type=float,
        default=1.0,
        help="seconds before the first restart, doubled for each next one (default 1)",
    )
    run_parser.add_argument(
        "--allow-file",
        action="append",
        default=[],
        metavar="PATH",
        help="copy this file of the repository into the sandbox, even if uncommitted (repeatable)",
    )
    run_parser.add_argument(
        "--allow-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass this environment variable into the sandbox (repeatable)",
    )
    run_parser.add_argument(
        "--reproduce-timeout",
        type=float,
        default=60.0,
        help="seconds the command may run in the sandbox (default 60)",
    )
    run_parser.add_argument("--no-heal", action="store_true", help="only restart, fix nothing")
    run_parser.add_argument("--provider", choices=PROVIDERS, help="who proposes fixes")
    run_parser.add_argument("--model", help="model name for the OpenAI-compatible endpoint")
    run_parser.add_argument("--sandbox", choices=SANDBOXES, help="where fixes are validated")
    run_parser.add_argument("--image", help="Docker image for the sandbox")
    run_parser.add_argument("--test-timeout", type=float, help="seconds for one run of the suite")
    run_parser.add_argument("--no-verify", action="store_true", help="skip the repository's hooks")
    run_parser.add_argument(
        "program", nargs=argparse.REMAINDER, help="-- CMD ARGS...: the program to supervise"
    )


def run(arguments: argparse.Namespace, reporter: Reporter) -> int:
    command = parse_command(arguments.program)
    if arguments.max_restarts < 0 or arguments.backoff < 0:
        raise KernelError("--max-restarts and --backoff must be 0 or more.")
    if arguments.reproduce_timeout <= 0:
        raise KernelError("--reproduce-timeout must be a positive number of seconds.")
    cwd = Path.cwd().resolve()
    repository = Repository.open(arguments.repo or cwd)
    try:
        root = repository.root.resolve()
        if not cwd.is_relative_to(root):
            raise KernelError(
                f"the working folder {cwd} is outside the repository {root}; run agentos run "
                "from inside the repository, so the sandbox can run the command the same way."
            )
        settings = load_settings(root, flag_overrides(arguments))
        options = SuperviseOptions(
            max_restarts=arguments.max_restarts,
            backoff=arguments.backoff,
            allow_files=tuple(arguments.allow_file),
            allow_env=tuple(arguments.allow_env),
            heal=not arguments.no_heal,
            no_verify=arguments.no_verify,
            reproduce_timeout=arguments.reproduce_timeout,
        )
        supervisor = Supervisor(command, repository, cwd, settings, options, reporter)
        supervision = supervisor.run()
    finally:
        repository.close()
    report_gave_up(supervision, command, reporter)
    return supervision.exit_code
