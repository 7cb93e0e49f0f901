"""``agentos demo``: heal the bundled buggy project in a temporary folder and show the commits."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from kernel.config import SANDBOXES, load_settings
from kernel.console import Reporter
from kernel.errors import KernelError
from kernel.runner import HealOptions, run_heal

DEMO_PROJECT = Path(__file__).resolve().parents[1] / "demo_project"

# The demo's first commit is made as this user, so the demo works on a
# machine with no git identity and the tool's own commits stand out.
_DEMO_AUTHOR = {
    "GIT_AUTHOR_NAME": "Demo User",
    "GIT_AUTHOR_EMAIL": "demo.user@example.com",
    "GIT_COMMITTER_NAME": "Demo User",
    "GIT_COMMITTER_EMAIL": "demo.user@example.com",
}


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="heal a bundled buggy project in a temporary folder")
    demo.set_defaults(
        run=lambda arguments, reporter: run_demo(arguments.sandbox, arguments.path, reporter)
    )
    demo.add_argument("--sandbox", choices=SANDBOXES, help="where candidates run (default: auto)")
    demo.add_argument(
        "--path", type=Path, help="copy the project here instead of a temporary folder"
    )


def run_demo(sandbox: str | None, path: Path | None, reporter: Reporter) -> int:
    """Copy the demo project, make it a git repository, heal it offline and print its log."""
    target = _prepare(path)
    reporter.step("demo", f"copied the buggy example project to {target}")

    settings = load_settings(target, {"provider": "offline", "sandbox": sandbox})
    report = run_heal(target, settings, HealOptions(), reporter)
    # The summary and the log are the demo's result, so they go to stdout.
    output = Console(highlight=False)
    reporter.summary(report, output)

    log = _git(target, "log", "--format=%h %an  %s", "--stat")
    output.print(f"\n[bold]git log of {escape(str(target))}[/]")
    output.print(log, markup=False, highlight=False)
    output.print(f"Inspect it with: cd {escape(str(target))} && git log -p")
    return report.exit_code


def _prepare(path: Path | None) -> Path:
    if path is None:
        target = Path(tempfile.mkdtemp(prefix="agentos-demo-")) / "inventory"
    else:
        target = path.resolve()
        if target.exists() and any(target.iterdir()):
            raise KernelError(f"demo folder {target} is not empty; name a new or empty folder.")
    shutil.copytree(
        DEMO_PROJECT, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    _git(target, "init", "--quiet", "--initial-branch", "main")
    _git(target, "add", "--all")
    _git(target, "commit", "--quiet", "--no-verify", "--message", "Add the inventory project")
    return target


def _git(root: Path, *arguments: str) -> str:
    environment = {**os.environ, **_DEMO_AUTHOR}
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *arguments],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise KernelError(f"git {arguments[0]} failed in {root}: {done.stderr.strip()}")
    return done.stdout
