"""Where a name occurs on one line of a module, found with libcst.

A syntax tree rather than the tokenizer is used because, before Python 3.12,
the tokenizer returns a whole f-string as one string token, which would hide
a misspelled name inside ``f"{totl}"``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

logger = logging.getLogger(__name__)


@dataclass
class NameSites:
    """The 0-based character columns of one name on one line, by role."""

    plain: list[int] = field(default_factory=list)  # a name that is not after a dot
    attribute: list[int] = field(default_factory=list)  # ``x.name``
    module_like: list[int] = field(default_factory=list)  # ``name.x``, as a module is used


def find_name_sites(source: str, line: int, name: str) -> NameSites:
    """Return where ``name`` occurs on ``line``; a keyword argument (``f(name=1)``) does not count.

    Source that does not parse has no sites, because no rename there could be trusted.
    """
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as error:
        logger.debug("cannot parse source to find %r: %s", name, error)
        return NameSites()
    finder = _SiteFinder(name, line)
    wrapper.visit(finder)
    return finder.sites


class _SiteFinder(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, name: str, line: int) -> None:
        super().__init__()
        self.name = name
        self.line = line
        self.sites = NameSites()
        # ids of the Name nodes that are the ``attr`` or the ``value`` of an Attribute
        self._attributes: set[int] = set()
        self._values: set[int] = set()
        self._keywords: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._attributes.add(id(node.attr))
        self._values.add(id(node.value))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._keywords.add(id(node.keyword))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value != self.name or id(node) in self._keywords:
            return
        start = self.get_metadata(PositionProvider, node).start
        if start.line != self.line:
            return
        if id(node) in self._attributes:
            self.sites.attribute.append(start.column)
            return
        self.sites.plain.append(start.column)
        if id(node) in self._values:
            self.sites.module_like.append(start.column)
