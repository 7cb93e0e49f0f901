"""Running ruff: whole-tree checks for detection, and single-file checks for validation.

Ruff only reads code, so unlike the tests it runs on the host. It runs from
the repository root so that the repository's own ruff configuration applies.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kernel.errors import KernelError
from kernel.faults import LintDiagnostic
from patches.types import LintFix, TextEdit

logger = logging.getLogger(__name__)

RUFF_TIMEOUT = 120.0  # seconds; ruff checks a large repository in well under that


def ruff_executable() -> str:
    """Return the ruff binary that ships with the ruff package, or the one on PATH."""
    try:
        from ruff.__main__ import find_ruff_bin

        return os.fsdecode(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise KernelError(
                f"ruff is not installed for {sys.executable}; install it with 'pip install ruff'."
            ) from None
        return found


def check_tree(root: Path) -> list[LintDiagnostic]:
    """Run ``ruff check`` over the repository and return its diagnostics."""
    output = _run_ruff(root, ["."], stdin=None)
    return _parse(output, root)


def check_paths(root: Path, paths: list[str]) -> list[LintDiagnostic]:
    """Run ``ruff check`` on some files of the repository, given relative to ``root``."""
    if not paths:
        return []
    output = _run_ruff(root, ["--", *paths], stdin=None)
    return _parse(output, root)


def check_text(root: Path, path: str, text: str) -> list[LintDiagnostic]:
    """Run ``ruff check`` on ``text`` as if it were the file ``path`` of the repository."""
    output = _run_ruff(root, ["--stdin-filename", str(root / path), "-"], stdin=text)
    return _parse(output, root)


def _run_ruff(root: Path, arguments: list[str], stdin: str | None) -> str:
    command = [
        ruff_executable(),
        "check",
        "--output-format",
        "json",
        "--no-cache",
        "--exit-zero",
        "--extend-exclude",
        ".agentos",
        *arguments,
    ]
    logger.debug("running %s in %s", command, root)
    try:
        done = subprocess.run(
            command,
            cwd=root,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUFF_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise KernelError(f"ruff did not finish within {RUFF_TIMEOUT:.0f} s in {root}.") from error
    if done.returncode != 0:
        # --exit-zero makes diagnostics exit 0, so a nonzero code is ruff itself failing,
        # most often on an invalid configuration in the repository.
        raise KernelError(
            f"ruff failed in {root} with exit code {done.returncode}: {done.stderr.strip()[:500]}. "
            "Check the repository's ruff configuration with 'ruff check .'."
        )
    return done.stdout


def _parse(output: str, root: Path) -> list[LintDiagnostic]:
    try:
        records = json.loads(output or "[]")
    except json.JSONDecodeError as error:
        raise KernelError(f"ruff printed output that is not JSON: {output[:200]!r}") from error
    diagnostics = []
    for record in records:
        path = _relative(record["filename"], root)
        if path is None:
            continue
        diagnostics.append(
            LintDiagnostic(
                code=record.get("code") or "invalid-syntax",
                message=record["message"],
                path=path,
                line=record["location"]["row"],
                column=record["location"]["column"],
                fix=_parse_fix(record.get("fix")),
            )
        )
    return diagnostics


def _parse_fix(fix: dict | None) -> LintFix | None:
    if not fix:
        return None
    edits = tuple(
        TextEdit(
            edit["location"]["row"],
            edit["location"]["column"],
            edit["end_location"]["row"],
            edit["end_location"]["column"],
            edit["content"],
        )
        for edit in fix.get("edits", [])
    )
    return LintFix(fix.get("message") or "", fix.get("applicability", "unsafe"), edits)


def _relative(filename: str, root: Path) -> str | None:
    try:
        return Path(filename).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        logger.debug("ignoring a diagnostic outside %s: %s", root, filename)
        return None
