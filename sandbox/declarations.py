"""Read what a repository declares it needs: requirements and a Python version.

Sources, all at the repository root:

- ``pyproject.toml``: ``[project] dependencies``, every extra of
  ``[project.optional-dependencies]`` and ``requires-python``;
- ``requirements*.txt`` and ``requirements*.lock`` (the pinned lock format
  that pip-compile and rye write), following ``-r`` and ``-c`` includes that
  stay inside the repository.

Editable installs, local paths and URLs are rejected, because the
environment image is built from wheels of a package index. The one exception
is the repository itself (``.``, ``-e .[test]``), which is skipped: its
dependencies come from pyproject.toml and its code reaches the sandbox as a
snapshot.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from sandbox.errors import DeclarationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published separately before Python 3.11
    import tomli as tomllib

# TODO: poetry.lock, uv.lock, pdm.lock, Pipfile.lock and pylock.toml are not
# read; a project that pins only there gets the ranges of pyproject.toml.
REQUIREMENT_PATTERNS = ("requirements*.txt", "requirements*.lock")

# Options that may stand on a requirement line or alone and change nothing of
# what gets installed, or only how pip checks it.
_IGNORED_OPTIONS = ("--hash", "--config-settings", "--global-option")


@dataclass(frozen=True)
class Declared:
    """One requirement and where it was declared, such as ``requirements.txt:3``."""

    requirement: str  # in the form pip reads, markers included
    source: str


@dataclass(frozen=True)
class Declarations:
    """Everything an environment image is built from, in a stable order."""

    requirements: tuple[Declared, ...]  # install these
    constraints: tuple[Declared, ...]  # limit versions, install nothing (``-c`` files)
    requires_python: str | None  # the specifier of pyproject.toml, such as ">=3.10"
    files: tuple[str, ...]  # the files read, relative to the root

    def source_of(self, name: str) -> str | None:
        """Return where the requirement on distribution ``name`` was declared, if it was."""
        expected = canonicalize_name(name)
        for declared in self.requirements:
            if canonicalize_name(Requirement(declared.requirement).name) == expected:
                return declared.source
        return None


def read_declarations(root: Path) -> Declarations:
    """Read the dependency declarations of the repository at ``root``.

    Raises DeclarationError for a file that cannot be parsed, an include
    outside the repository, an editable install or a local path.
    """
    root = root.resolve()
    requirements: list[Declared] = []
    constraints: list[Declared] = []
    files: list[str] = []

    requires_python = None
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        files.append("pyproject.toml")
        project_requirements, requires_python = _read_pyproject(pyproject)
        requirements.extend(project_requirements)

    seen: set[Path] = set()
    for pattern in REQUIREMENT_PATTERNS:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path not in seen:
                _read_requirements_file(root, path, requirements, constraints, seen, files)

    return Declarations(
        tuple(_unique(requirements)),
        tuple(_unique(constraints)),
        requires_python,
        tuple(files),
    )


def python_allowed(requires_python: str | None, version: str) -> bool:
    """Return whether Python ``version`` (such as "3.11.2") satisfies ``requires_python``."""
    if not requires_python:
        return True
    return SpecifierSet(requires_python).contains(version, prereleases=True)


def _read_pyproject(path: Path) -> tuple[list[Declared], str | None]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DeclarationError(f"cannot read {path}: {error}; fix the file.") from error
    project = document.get("project", {})
    if not isinstance(project, dict):
        raise DeclarationError(f"[project] in {path} must be a table.")
    own_name = canonicalize_name(str(project.get("name", "")))

    found: list[Declared] = []
    for index, text in enumerate(_string_list(project.get("dependencies", []), path, "")):
        found.append(_parse(text, f"pyproject.toml dependencies[{index}]"))
    extras = project.get("optional-dependencies", {})
    if not isinstance(extras, dict):
        raise DeclarationError(f"[project.optional-dependencies] in {path} must be a table.")
    for extra, entries in sorted(extras.items()):
        for index, text in enumerate(_string_list(entries, path, f".{extra}")):
            declared = _parse(text, f"pyproject.toml optional-dependencies.{extra}[{index}]")
            # An extra such as all = ["me[test,docs]"] names the project itself,
            # whose extras are all read anyway.
            if canonicalize_name(Requirement(declared.requirement).name) != own_name:
                found.append(declared)

    requires_python = project.get("requires-python")
    if requires_python is not None:
        try:
            SpecifierSet(str(requires_python))
        except InvalidSpecifier as error:
            raise DeclarationError(
                f"invalid requires-python {requires_python!r} in {path}: {error}"
            ) from error
        requires_python = str(requires_python)
    return found, requires_python


def _string_list(value: object, path: Path, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DeclarationError(f"dependencies{where} in {path} must be a list of strings.")
    return value


def _read_requirements_file(
    root: Path,
    path: Path,
    requirements: list[Declared],
    constraints: list[Declared],
    seen: set[Path],
    files: list[str],
    *,
    as_constraints: bool = False,
) -> None:
    """Read one pip requirements file, following its ``-r`` and ``-c`` includes."""
    seen.add(path)
    relative = path.relative_to(root).as_posix()
    files.append(relative)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DeclarationError(f"cannot read {path}: {error}") from error

    for number, line in _logical_lines(text):
        where = f"{relative}:{number}"
        include = re.match(r"^(-r|--requirement|-c|--constraint)[\s=]+(\S+)$", line)
        if include:
            target = _include_path(root, path, include.group(2), where)
            if target not in seen:
                constraint = as_constraints or include.group(1) in ("-c", "--constraint")
                _read_requirements_file(
                    root, target, requirements, constraints, seen, files, as_constraints=constraint
                )
            continue
        editable = re.match(r"^(-e|--editable)[\s=]+(\S+)$", line)
        target = editable.group(2) if editable else line
        if _names_root(root, path, target):
            # The project itself: its dependencies come from pyproject.toml,
            # and its code reaches the sandbox as a snapshot.
            continue
        if editable or line.startswith(("-e", "--editable")):
            raise DeclarationError(
                f"{where}: editable install {line!r} cannot go into an environment image, "
                "which installs published wheels only; require a published version instead."
            )
        if line.startswith("-"):
            if line.startswith(_IGNORED_OPTIONS):
                continue
            raise DeclarationError(
                f"{where}: unsupported option {line!r}; environment images use pip's own "
                "index settings (pip config list), so move index options there."
            )
        declared = _parse(_strip_options(line), where)
        (constraints if as_constraints else requirements).append(declared)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Return (first line number, line) with comments removed and continuations joined."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            lines.append((start, line))
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def _strip_options(line: str) -> str:
    """Remove per-requirement options such as ``--hash=sha256:...`` from ``line``."""
    # NOTE: hashes are dropped, so a hash-pinned lock is installed without
    # pip's hash check; the versions still come from the lock.
    return re.split(r"\s+--?[a-z]", line, maxsplit=1)[0].strip()


def _names_root(root: Path, current: Path, target: str) -> bool:
    """Return whether ``target``, such as "." or ".[test]", is the repository root."""
    if not target.startswith((".", "/")):
        return False
    folder = re.sub(r"\[[^\]]*\]$", "", target)
    return (current.parent / folder).resolve() == root


def _include_path(root: Path, current: Path, name: str, where: str) -> Path:
    target = (current.parent / name).resolve()
    if not target.is_relative_to(root):
        raise DeclarationError(
            f"{where}: include {name!r} points outside the repository ({target}); "
            "copy the file into the repository or inline its requirements."
        )
    if not target.is_file():
        raise DeclarationError(f"{where}: included file {name!r} not found at {target}.")
    return target


def _parse(text: str, where: str) -> Declared:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        if text.startswith((".", "/", "file:")) or "://" in text:
            raise DeclarationError(
                f"{where}: {text!r} is a path or URL, not a requirement from a package "
                "index; publish it as a wheel or remove it from the declarations."
            ) from error
        raise DeclarationError(f"{where}: invalid requirement {text!r}: {error}") from error
    if requirement.url:
        raise DeclarationError(
            f"{where}: {text!r} installs from a URL or path; environment images install "
            "only from the package index, so name a published version instead."
        )
    return Declared(str(requirement), where)


def _unique(found: list[Declared]) -> list[Declared]:
    """Drop repeated requirement strings, keeping the first place each was declared."""
    unique: dict[str, Declared] = {}
    for declared in found:
        unique.setdefault(declared.requirement, declared)
    return list(unique.values())
