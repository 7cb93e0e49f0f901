"""``agentos sandbox build|status|prune``: the environment images of the Docker sandbox."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from rich.console import Console
from rich.markup import escape

from kernel.config import load_settings
from kernel.console import Reporter
from kernel.errors import ConfigError, KernelError
from kernel.gitops import Repository
from sandbox.declarations import read_declarations
from sandbox.environment import ensure_env_image, probe_base, resolve_base
from sandbox.errors import SandboxError
from sandbox.inventory import list_containers, list_images, prune


def register(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("sandbox", help="build, list and prune the sandbox images")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = actions.add_parser(
        "build", help="build or refresh the environment image of a repository"
    )
    build.set_defaults(run=run_build)
    build.add_argument("path", nargs="?", default=".", type=Path, help="repository (default: .)")
    build.add_argument(
        "--image", help="base image; auto: a local python:X.Y-slim, else agentos-sandbox:latest"
    )
    build.add_argument(
        "--pull",
        action="store_true",
        help="with --image auto, pull python:X.Y-slim for this Python first (needs a registry)",
    )
    build.add_argument(
        "--rebuild", action="store_true", help="build again even when the image is up to date"
    )
    _add_common(build, "add this label to the image (repeatable)")

    status = actions.add_parser("status", help="list the tool's images, sizes and containers")
    status.set_defaults(run=run_status)
    _add_common(status, "list only what carries this label too (repeatable)")

    prune_parser = actions.add_parser(
        "prune", help="remove the environment images and leftover sandbox containers"
    )
    prune_parser.set_defaults(run=run_prune)
    _add_common(prune_parser, "remove only what carries this label too (repeatable)")


def _add_common(parser: argparse.ArgumentParser, label_help: str) -> None:
    parser.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help=label_help
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def run_build(arguments: argparse.Namespace, reporter: Reporter) -> int:
    # The same root as a heal's, so a missing path or plain folder fails as it does
    # there, and the image carries the repository label that heals look up.
    repository = Repository.open(arguments.path)
    root = repository.root
    repository.close()
    settings = load_settings(root, {"image": arguments.image})
    labels = _parse_labels(arguments.label)
    with _docker_client() as client:
        try:
            declarations = read_declarations(root)
            base_name = resolve_base(
                client,
                settings.image,
                pull=arguments.pull,
                requires_python=declarations.requires_python,
            )
            base = probe_base(client, base_name)
            image = ensure_env_image(
                client,
                root,
                declarations,
                base,
                rebuild=arguments.rebuild,
                labels=labels,
            )
        except SandboxError as error:
            raise KernelError(str(error)) from error

    if arguments.json:
        result = {
            "tag": image.tag,
            "built": image.built,
            "size": image.size,
            "base": base.name,
            "python": base.python,
            "inputs": image.inputs,
            "requirements": [declared.requirement for declared in declarations.requirements],
            "files": list(declarations.files),
        }
        _print_json(result)
        return 0
    if image.inputs is None:
        state = "no dependencies declared: tests run in the base image"
    else:
        state = "built" if image.built else "up to date"
    # Only the tag goes to stdout, so TAG=$(agentos sandbox build) captures it.
    reporter.console.print(
        f"{escape(image.tag)}  {_megabytes(image.size)}  {state} "
        f"(Python {base.python}, {len(declarations.requirements)} requirement(s))"
    )
    sys.stdout.write(f"{image.tag}\n")
    return 0


def run_status(arguments: argparse.Namespace, reporter: Reporter) -> int:
    labels = _parse_labels(arguments.label)
    with _docker_client() as client:
        try:
            images = list_images(client, labels)
            containers = list_containers(client, labels)
        except SandboxError as error:
            raise KernelError(str(error)) from error

    if arguments.json:
        _print_json(
            {
                "images": [asdict(entry) for entry in images],
                "containers": [asdict(entry) for entry in containers],
            }
        )
        return 0
    console = Console(highlight=False)
    if not images:
        console.print("no sandbox images")
    for entry in images:
        name = ", ".join(entry.tags) or entry.image_id[:19]
        detail = f"  for {entry.repository}" if entry.repository else ""
        console.print(f"{entry.role:<4}  {escape(name)}  {_megabytes(entry.size)}{escape(detail)}")
    leftovers = sum(1 for entry in containers if entry.leftover)
    console.print(f"{len(containers)} sandbox container(s), {leftovers} left over")
    for entry in containers:
        mark = "  left over" if entry.leftover else ""
        console.print(f"  {entry.container_id}  {entry.state:<8}  {escape(entry.image)}{mark}")
    return 0


def run_prune(arguments: argparse.Namespace, reporter: Reporter) -> int:
    labels = _parse_labels(arguments.label)
    with _docker_client() as client:
        try:
            result = prune(client, labels)
        except SandboxError as error:
            raise KernelError(str(error)) from error

    if arguments.json:
        _print_json(asdict(result))
        return 0
    console = Console(highlight=False)
    for name in result.removed_images:
        console.print(f"removed image {escape(name)}")
    for container in result.removed_containers:
        console.print(f"removed container {container}")
    for reason in result.skipped:
        console.print(f"[yellow]kept[/] {escape(reason)}")
    if not (result.removed_images or result.removed_containers or result.skipped):
        console.print("nothing to prune")
    return 0


@contextlib.contextmanager
def _docker_client() -> Iterator[docker.DockerClient]:
    """Yield a Docker client for one command; a daemon that does not respond is a KernelError."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise KernelError(
            f"no Docker daemon responds ({error}); start it (for example 'dockerd &' "
            "or 'systemctl start docker')."
        ) from error
    try:
        yield client
    finally:
        client.close()


def _parse_labels(entries: list[str]) -> dict[str, str]:
    labels = {}
    for entry in entries:
        key, separator, value = entry.partition("=")
        if not separator or not key:
            raise ConfigError(f"invalid --label {entry!r}; write it as KEY=VALUE.")
        labels[key] = value
    return labels


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")
