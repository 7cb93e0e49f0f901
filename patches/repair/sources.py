"""Read-only views of a repository's Python sources for the repair rules."""

from __future__ import annotations

import ast
import functools
import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from patches.guards import is_test_path

logger = logging.getLogger(__name__)

_SKIPPED_FOLDERS = frozenset({".git", ".agentos", ".venv", "venv", "node_modules", "__pycache__"})
# Importing these has side effects, so their names are never listed.
_UNSAFE_MODULES = frozenset({"this", "antigravity", "__main__"})


@dataclass(frozen=True)
class FunctionInfo:
    """A function definition: its parameters and whether it is a method."""

    name: str
    positional: tuple[str, ...]  # positional parameters, ``self`` or ``cls`` included
    keyword_only: tuple[str, ...]
    required: int  # positional parameters without a default
    has_varargs: bool
    is_method: bool


class Repository:
    """The Python files under ``root`` outside test code, parsed on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._trees: dict[str, ast.Module | None] = {}

    def read(self, path: str) -> str | None:
        file = self.root / path
        try:
            return file.read_text(encoding="utf-8") if file.is_file() else None
        except (OSError, UnicodeDecodeError) as error:
            logger.debug("cannot read %s: %s", file, error)
            return None

    @functools.cached_property
    def modules(self) -> dict[str, str]:
        """Return {dotted module name: path} for the repository's non-test modules."""
        found = {}
        for file in sorted(self.root.rglob("*.py")):
            relative = file.relative_to(self.root)
            if _SKIPPED_FOLDERS.intersection(relative.parts) or is_test_path(relative.as_posix()):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[0] == "src" and len(parts) > 1:
                parts = parts[1:]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                found[".".join(parts)] = relative.as_posix()
        return found

    def path_of(self, module: str) -> str | None:
        return self.modules.get(module)

    def modules_defining(self, name: str) -> list[str]:
        """Return the modules that define ``name`` at top level, by def, class or assignment."""
        return sorted(module for module in self.modules if name in self._top_level(module))

    def names_of(self, module: str) -> set[str]:
        """Return the names a module defines: the repository's, or a standard-library one's."""
        if module in self.modules:
            return self._top_level(module)
        return self.stdlib_names(module)

    @staticmethod
    def stdlib_names(module: str) -> set[str]:
        """Return the public names of a standard-library module; empty for any other module."""
        top = module.split(".")[0]
        if top not in sys.stdlib_module_names or top in _UNSAFE_MODULES:
            return set()
        try:
            return {
                name for name in dir(importlib.import_module(module)) if not name.startswith("_")
            }
        except ImportError:
            return set()

    def find_class(self, name: str) -> ast.ClassDef | None:
        """Return the first top-level class ``name``, searching the modules in name order."""
        for module in self.modules:
            tree = self._tree(module)
            for node in tree.body if tree is not None else ():
                if isinstance(node, ast.ClassDef) and node.name == name:
                    return node
        return None

    def module_choices(self, missing: str) -> set[str]:
        """Return the names that could replace the last part of the missing module ``missing``."""
        parent, _, _ = missing.rpartition(".")
        if not parent:
            tops = {module.split(".")[0] for module in self.modules}
            return tops | (set(sys.stdlib_module_names) - _UNSAFE_MODULES)
        prefix = f"{parent}."
        return {
            module[len(prefix) :].split(".")[0]
            for module in self.modules
            if module.startswith(prefix)
        }

    def find_function(self, qualified: str) -> FunctionInfo | None:
        """Find ``name`` or ``Class.name``; None when absent or defined more than once."""
        owner, _, name = qualified.rpartition(".")
        found = []
        for module in self.modules:
            tree = self._tree(module)
            if tree is None:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and (not owner or node.name == owner):
                    found += [
                        _info(item, True)
                        for item in node.body
                        if isinstance(item, ast.FunctionDef) and item.name == name
                    ]
            if not owner:
                found += [
                    _info(node, False)
                    for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == name
                ]
        return found[0] if len(found) == 1 else None

    def _top_level(self, module: str) -> set[str]:
        tree = self._tree(module)
        if tree is None:
            return set()
        names = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        return names

    def _tree(self, module: str) -> ast.Module | None:
        if module not in self._trees:
            text = self.read(self.modules[module])
            try:
                self._trees[module] = ast.parse(text) if text is not None else None
            except SyntaxError:
                self._trees[module] = None
        return self._trees[module]


def _info(node: ast.FunctionDef, is_method: bool) -> FunctionInfo:
    arguments = node.args
    positional = tuple(a.arg for a in [*arguments.posonlyargs, *arguments.args])
    return FunctionInfo(
        name=node.name,
        positional=positional,
        keyword_only=tuple(a.arg for a in arguments.kwonlyargs),
        required=len(positional) - len(arguments.defaults),
        has_varargs=arguments.vararg is not None,
        is_method=is_method,
    )
