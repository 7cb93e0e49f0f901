"""``agentos doctor``: check every part a heal needs and say how to fix what is missing."""

from __future__ import annotations

import argparse
import enum
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

import sandbox
from kernel import lint
from kernel.config import load_settings
from kernel.console import Reporter
from kernel.errors import KernelError
from sandbox.declarations import read_declarations
from sandbox.environment import resolve_base
from sandbox.errors import SandboxError
from sandbox.local_backend import LocalBackend

BUILD_SCRIPT = Path(sandbox.__file__).resolve().parent / "image" / "build-base.sh"


class Level(enum.Enum):
    OK = "ok"
    WARN = "warn"  # works, with less safety or fewer features
    FAIL = "fail"  # a heal cannot run this way


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor", help="check git, Docker, the sandbox image, ruff, pytest and the model"
    )
    doctor.set_defaults(run=lambda arguments, reporter: run_doctor(arguments.path, reporter))
    doctor.add_argument(
        "path", nargs="?", default=".", type=Path, help="repository whose settings to read"
    )


def run_doctor(path: Path, reporter: Reporter) -> int:
    """Print one line per check and return 1 when any check failed, else 0."""
    checks = diagnose(path)
    styles = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "red"}
    console = Console(highlight=False)  # the checks are the result, so they go to stdout
    for check in checks:
        label = f"[{styles[check.level]}]{check.level.value:>4}[/]"
        console.print(f"{label} {check.name:<10} {escape(check.detail)}")
        if check.fix:
            console.print(f"                {escape(check.fix)}")
    return 1 if any(check.level is Level.FAIL for check in checks) else 0


def diagnose(path: Path) -> list[Check]:
    try:
        settings = load_settings(path)
    except KernelError as error:
        return [
            Check(
                "settings",
                Level.FAIL,
                str(error),
                "Fix the [tool.agentos] table or AGENTOS_* variables.",
            )
        ]
    return [
        _check_git(),
        *_check_docker(settings.image),
        _check_declarations(path),
        _check_local_sandbox(),
        _check_ruff(),
        _check_pytest(),
        _check_model(settings.model),
    ]


def _check_git() -> Check:
    git = shutil.which("git")
    if git is None:
        return Check(
            "git",
            Level.FAIL,
            "git is not installed",
            "Install git, for example 'apt-get install git'.",
        )
    version = subprocess.run(
        [git, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return Check("git", Level.OK, version)


def _check_docker(image: str) -> list[Check]:
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=5)
        version = client.version().get("Version", "unknown")
    except docker.errors.DockerException as error:
        return [
            Check(
                "docker",
                Level.WARN,
                f"no Docker daemon answers ({_first_line(error)})",
                "Heals fall back to the local sandbox, which is not isolated. Start Docker "
                "('dockerd &' or 'systemctl start docker') for isolation.",
            )
        ]
    try:
        image = resolve_base(client, image)
        found = client.images.get(image)
        size = found.attrs.get("Size", 0) / 1e6
        image_check = Check("image", Level.OK, f"{image} ({size:.0f} MB)")
    except docker.errors.ImageNotFound:
        image_check = Check(
            "image",
            Level.WARN,
            f"sandbox image {image} is missing",
            f"Build it without any registry: sudo bash {BUILD_SCRIPT} {image}",
        )
    finally:
        client.close()
    return [Check("docker", Level.OK, f"daemon {version} answers"), image_check]


def _check_declarations(path: Path) -> Check:
    try:
        declarations = read_declarations(path)
    except SandboxError as error:
        return Check("deps", Level.FAIL, str(error), "Fix the declaration the message names.")
    if not declarations.requirements:
        return Check("deps", Level.OK, "no dependencies declared: tests run in the base image")
    files = ", ".join(declarations.files)
    return Check(
        "deps",
        Level.OK,
        f"{len(declarations.requirements)} requirement(s) declared in {files}",
        "Heals on Docker install them in an environment image; "
        "'agentos sandbox build' prepares it ahead.",
    )


def _check_local_sandbox() -> Check:
    backend = LocalBackend()
    if backend.isolated:
        return Check(
            "local", Level.OK, f"isolation {backend.isolation}: no network, read-only system"
        )
    return Check(
        "local",
        Level.WARN,
        f"isolation {backend.isolation}: the local sandbox only limits resources",
        "Install bubblewrap ('apt-get install bubblewrap') so that the local sandbox "
        "has no network and a read-only view of the system.",
    )


def _check_ruff() -> Check:
    try:
        ruff = lint.ruff_executable()
    except KernelError as error:
        return Check("ruff", Level.FAIL, str(error), "pip install ruff")
    version = subprocess.run(
        [ruff, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return Check("ruff", Level.OK, version)


def _check_pytest() -> Check:
    try:
        import pytest
    except ImportError:
        return Check(
            "pytest", Level.FAIL, f"pytest is missing for {sys.executable}", "pip install pytest"
        )
    return Check("pytest", Level.OK, f"pytest {pytest.__version__} (used by the local sandbox)")


def _check_model(model: str | None) -> Check:
    base_url = os.environ.get("OPENAI_BASE_URL") or "the OpenAI API (OPENAI_BASE_URL is unset)"
    if not model:
        return Check(
            "model",
            Level.OK,
            "no model configured: the offline provider does the work",
            "To use an LLM, set OPENAI_API_KEY, optionally OPENAI_BASE_URL, "
            "and AGENTOS_MODEL or --model.",
        )
    if not os.environ.get("OPENAI_API_KEY"):
        return Check(
            "model",
            Level.FAIL,
            f"model {model} is configured but OPENAI_API_KEY is not set",
            "Set OPENAI_API_KEY (any non-empty value for servers without keys, such as Ollama).",
        )
    return Check("model", Level.OK, f"model {model} at {base_url}; the key is set (not shown)")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:160] if text else type(error).__name__
