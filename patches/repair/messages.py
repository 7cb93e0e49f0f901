"""Patterns for the exception messages that the offline engine repairs from.

CPython's wording of these messages has held since 3.8; the rules, the
name search and the provider read them through this one module so that a
new wording needs one change.
"""

from __future__ import annotations

import re

NAME_ERROR = re.compile(r"name '(?P<name>\w+)' is not defined")
NO_MODULE = re.compile(r"No module named '(?P<module>[\w.]+)'")
CANNOT_IMPORT = re.compile(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'")
_MODULE_ATTRIBUTE = re.compile(r"module '(?P<owner>[\w.]+)' has no attribute '(?P<attr>\w+)'")
_CLASS_ATTRIBUTE = re.compile(r"type object '(?P<owner>[\w.]+)' has no attribute '(?P<attr>\w+)'")
_INSTANCE_ATTRIBUTE = re.compile(r"'(?P<owner>[\w.]+)' object has no attribute '(?P<attr>\w+)'")


def parse_attribute_error(message: str) -> tuple[str, str, str] | None:
    """Return (kind, owner, attribute) with kind "module", "class" or "instance"."""
    for kind, pattern in (
        ("module", _MODULE_ATTRIBUTE),
        ("class", _CLASS_ATTRIBUTE),
        ("instance", _INSTANCE_ATTRIBUTE),
    ):
        match = pattern.search(message)
        if match:
            return kind, match.group("owner"), match.group("attr")
    return None
