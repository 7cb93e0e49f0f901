"""Code context read with libcst: enclosing symbols, symbol source and bound names."""

from __future__ import annotations

import pytest

from patches.context import (
    defined_names,
    enclosing_symbol,
    find_class,
    module_names,
    symbol_source,
)
from patches.errors import EditError

SHOP = '''\
"""A small shop."""

import os.path
from decimal import Decimal as D

RATE = 3


def total(prices):
    result = 0
    for price in prices:
        result += price
    return result


class Cart:
    size: int = 0

    def __init__(self, owner):
        self.owner = owner
        self.items, self._cache = [], None

    @property
    def count(self):
        def helper(item):
            return 1

        return sum(helper(item) for item in self.items)


def pair[T](first: T, second: T) -> tuple[T, T]:
    return first, second


type Row[K] = dict[K, int]
'''


def line_of(text: str) -> int:
    return SHOP.splitlines().index(text) + 1


def test_enclosing_symbol_function() -> None:
    assert enclosing_symbol(SHOP, line_of("        result += price")) == "total"


def test_enclosing_symbol_method() -> None:
    assert enclosing_symbol(SHOP, line_of("        self.owner = owner")) == "Cart.__init__"


def test_enclosing_symbol_nested_function() -> None:
    assert enclosing_symbol(SHOP, line_of("            return 1")) == "Cart.count.helper"


def test_enclosing_symbol_decorator_line() -> None:
    assert enclosing_symbol(SHOP, line_of("    @property")) == "Cart.count"


def test_enclosing_symbol_class_body() -> None:
    assert enclosing_symbol(SHOP, line_of("    size: int = 0")) == "Cart"


def test_enclosing_symbol_module_level() -> None:
    assert enclosing_symbol(SHOP, line_of("RATE = 3")) is None
    assert enclosing_symbol(SHOP, 1) is None


def test_enclosing_symbol_past_end() -> None:
    assert enclosing_symbol(SHOP, 10_000) is None


def test_enclosing_symbol_pep695_generic() -> None:
    assert enclosing_symbol(SHOP, line_of("    return first, second")) == "pair"


def test_symbol_source_includes_decorators() -> None:
    text = symbol_source(SHOP, "Cart.count")
    assert text is not None
    assert text.startswith("    @property\n    def count(self):\n")
    assert text.endswith("        return sum(helper(item) for item in self.items)\n")


def test_symbol_source_is_exact_slice() -> None:
    text = symbol_source(SHOP, "total")
    assert text is not None
    assert text in SHOP
    assert text.splitlines()[0] == "def total(prices):"


def test_symbol_source_unknown_name() -> None:
    assert symbol_source(SHOP, "Cart.missing") is None


def test_defined_names_covers_bindings() -> None:
    names = defined_names(SHOP)
    expected = {
        "os",
        "D",
        "RATE",
        "total",
        "prices",
        "result",
        "price",
        "Cart",
        "size",
        "__init__",
        "self",
        "owner",
        "count",
        "helper",
        "item",
        "pair",
        "T",
        "first",
        "second",
        "Row",
        "K",
    }
    assert expected <= names
    assert "items" not in names  # self.items is an attribute, not a name


def test_defined_names_match_and_walrus() -> None:
    source = (
        "def f(value):\n"
        "    if (size := len(value)) > 2:\n"
        "        pass\n"
        "    match value:\n"
        "        case [head, *tail]:\n"
        "            return head\n"
        "        case {'k': found, **others}:\n"
        "            return found\n"
        "    try:\n"
        "        pass\n"
        "    except ValueError as problem:\n"
        "        raise\n"
    )
    names = defined_names(source)
    assert {"size", "head", "tail", "found", "others", "problem"} <= names


def test_module_names_top_level_only() -> None:
    names = module_names(SHOP)
    assert {"os", "D", "RATE", "total", "Cart", "pair", "Row"} <= names
    assert "result" not in names
    assert "helper" not in names


def test_find_class_attributes() -> None:
    info = find_class(SHOP, "Cart")
    assert info is not None
    assert info.class_names == {"size", "__init__", "count"}
    assert info.instance_names == {"owner", "items", "_cache"}


def test_find_class_missing() -> None:
    assert find_class(SHOP, "Basket") is None


def test_unparsable_source_names_file_and_line() -> None:
    with pytest.raises(EditError, match=r"shop\.py does not parse at line 2"):
        enclosing_symbol("x = 1\ndef broken(:\n    pass\n", 1, path="shop.py")
