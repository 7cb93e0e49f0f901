"""A static import graph of a repository, to choose the tests that exercise changed modules.

Imports are read with ``ast`` and never executed. A module is named by its
path (``pkg/mod.py`` is ``pkg.mod``, ``src/pkg/mod.py`` is ``pkg.mod`` too),
and a test file is affected by a change when it imports a changed module,
directly or through other repository modules. Imports made at run time
(``importlib``, ``__import__``) are not seen, which is one reason the full
suite still runs once the repository is quiet.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from patches.guards import is_test_path

logger = logging.getLogger(__name__)

IGNORED_FOLDERS = frozenset(
    {
        ".git",
        ".agentos",
        ".venv",
        "venv",
        "env",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "build",
        "dist",
        ".eggs",
    }
)


def module_name(path: str) -> str | None:
    """Return the dotted module name of a repository-relative ``.py`` path, or None."""
    pure = PurePosixPath(path)
    if pure.suffix != ".py":
        return None
    parts = list(pure.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts else None


def python_files(root: Path) -> Iterator[str]:
    """Yield the repository-relative paths of the Python files outside ignored folders."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if any(_ignored(part) for part in relative.parts[:-1]):
            continue
        yield relative.as_posix()


def affected_tests(root: Path, changed: Iterable[str]) -> list[str] | None:
    """Return the test files that import one of the ``changed`` paths, directly or not.

    Return None when the change can affect any test: a ``conftest.py``, or a
    file that is not Python source, such as ``pyproject.toml``.
    """
    changed = list(changed)
    for path in changed:
        if not path.endswith(".py") or PurePosixPath(path).name == "conftest.py":
            return None
    files = list(python_files(root))
    modules = {name: path for path in files if (name := module_name(path))}
    importers: dict[str, set[str]] = {}  # path -> the repository files that import it
    for path in files:
        for imported in _imports(root, path, modules):
            importers.setdefault(imported, set()).add(path)

    reached: set[str] = set()
    frontier = [path for path in changed if path in files or is_test_path(path)]
    while frontier:
        current = frontier.pop()
        if current in reached:
            continue
        reached.add(current)
        frontier.extend(importers.get(current, ()))
    return sorted(path for path in reached if is_test_path(path) and (root / path).is_file())


def _ignored(folder: str) -> bool:
    return folder in IGNORED_FOLDERS or folder.endswith(".egg-info")


def _imports(root: Path, path: str, modules: dict[str, str]) -> set[str]:
    """Return the repository files that the module at ``path`` imports."""
    try:
        tree = ast.parse((root / path).read_bytes(), filename=path)
    except (SyntaxError, ValueError, OSError) as error:
        # A half-typed file has no imports to follow; its own tests still run.
        logger.debug("cannot read the imports of %s: %s", path, error)
        return set()
    package = module_name(path) or ""
    if not path.endswith("__init__.py"):
        package = package.rpartition(".")[0]

    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            if base is None:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)

    found = set()
    for name in names:
        # "import pkg.mod" also runs pkg/__init__.py.
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            target = modules.get(".".join(parts[:end]))
            if target is not None and target != path:
                found.add(target)
    return found


def _resolve(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None  # a relative import above the top package
    base = parts[: len(parts) - (node.level - 1)]
    if node.module:
        base.append(node.module)
    return ".".join(base)
