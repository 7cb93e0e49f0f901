"""``agentos watch``: check a repository while it is edited, and heal faults that stay."""

from __future__ import annotations

import argparse
from pathlib import Path

from kernel.config import PROVIDERS, SANDBOXES, flag_overrides, load_settings
from kernel.console import Reporter
from kernel.watch import WatchOptions, run_watch
from kernel.watch_events import JsonSink, LineSink


def register(commands: argparse._SubParsersAction) -> None:
    watch = commands.add_parser(
        "watch", help="check a repository on every save and heal faults that stay"
    )
    watch.set_defaults(run=run)
    watch.add_argument("path", nargs="?", default=".", type=Path, help="repository (default: .)")
    watch.add_argument(
        "--quiet-seconds",
        type=float,
        default=10.0,
        help="run the full suite after this many seconds without edits (default 10)",
    )
    watch.add_argument(
        "--debounce-ms",
        type=int,
        default=500,
        help="saves closer together than this many milliseconds are one change (default 500)",
    )
    watch.add_argument(
        "--max-cycles", type=int, help="stop after this many check runs (default: until Ctrl-C)"
    )
    watch.add_argument("--no-heal", action="store_true", help="report faults, fix nothing")
    watch.add_argument("--provider", choices=PROVIDERS, help="who proposes fixes (default: auto)")
    watch.add_argument("--model", help="model name for the OpenAI-compatible endpoint")
    watch.add_argument("--sandbox", choices=SANDBOXES, help="where checks run (default: auto)")
    watch.add_argument("--image", help="Docker image for the sandbox")
    watch.add_argument("--test-timeout", type=float, help="seconds for one sandbox run")
    watch.add_argument("--no-verify", action="store_true", help="skip the repository's hooks")
    watch.add_argument(
        "--json", action="store_true", help="print one JSON object per event on stdout"
    )


def run(arguments: argparse.Namespace, reporter: Reporter) -> int:
    settings = load_settings(arguments.path, flag_overrides(arguments))
    options = WatchOptions(
        debounce_ms=arguments.debounce_ms,
        quiet_seconds=arguments.quiet_seconds,
        max_cycles=arguments.max_cycles,
        heal=not arguments.no_heal,
        no_verify=arguments.no_verify,
    )
    sink = JsonSink() if arguments.json else LineSink(reporter.console)
    return run_watch(arguments.path, settings, options, sink)
