"""SEARCH/REPLACE blocks: parsing replies and applying blocks to files."""

from __future__ import annotations

from pathlib import Path

import pytest

from patches.errors import EditError
from patches.reply_formats import apply_reply
from patches.search_replace import Block, apply_block, parse_blocks

CART = """\
class Cart:
    def __init__(self):
        self.items = []

    def total(self):
        result = 0
        for item in self.items:
            result += item.price
        return result

    def count(self):
        result = 0
        for item in self.items:
            result += 1
        return result
"""


def test_parse_path_before_fence() -> None:
    reply = (
        "The loop adds the wrong field.\n\n"
        "shop/cart.py\n"
        "```python\n"
        "<<<<<<< SEARCH\n"
        "    x = 1\n"
        "=======\n"
        "    x = 2\n"
        ">>>>>>> REPLACE\n"
        "```\n"
    )
    assert parse_blocks(reply) == [Block("shop/cart.py", "    x = 1\n", "    x = 2\n")]


def test_parse_path_inside_fence() -> None:
    reply = "```\nshop/cart.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n"
    assert parse_blocks(reply) == [Block("shop/cart.py", "a\n", "b\n")]


def test_parse_decorated_path() -> None:
    reply = "**`shop/cart.py`**\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"
    assert parse_blocks(reply)[0].path == "shop/cart.py"


def test_parse_several_blocks() -> None:
    reply = (
        "a.py\n<<<<<<< SEARCH\none\n=======\n1\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\ntwo\n=======\n2\n>>>>>>> REPLACE\n\n"
        "b.py\n```python\n<<<<<<< SEARCH\nthree\n=======\n3\n>>>>>>> REPLACE\n```\n"
    )
    blocks = parse_blocks(reply)
    assert [block.path for block in blocks] == ["a.py", "a.py", "b.py"]
    assert [block.replace for block in blocks] == ["1\n", "2\n", "3\n"]


def test_parse_empty_replace_deletes() -> None:
    blocks = parse_blocks("a.py\n<<<<<<< SEARCH\nold\n=======\n>>>>>>> REPLACE\n")
    assert blocks == [Block("a.py", "old\n", "")]


def test_parse_no_blocks() -> None:
    assert parse_blocks("I think the bug is in total().") == []


def test_parse_missing_divider() -> None:
    with pytest.raises(EditError, match="missing its '=======' line"):
        parse_blocks("a.py\n<<<<<<< SEARCH\nold\n>>>>>>> REPLACE\n")


def test_parse_missing_closing_marker() -> None:
    with pytest.raises(EditError, match="missing its '>>>>>>> REPLACE' line"):
        parse_blocks("a.py\n<<<<<<< SEARCH\nold\n=======\nnew\n")


def test_parse_missing_path() -> None:
    with pytest.raises(EditError, match="has no file path"):
        parse_blocks("<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n")


def test_parse_prose_is_not_a_path() -> None:
    with pytest.raises(EditError, match="has no file path"):
        parse_blocks("Here is the fix:\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n")


def test_parse_stray_replace_marker() -> None:
    with pytest.raises(EditError, match="outside any block"):
        parse_blocks("a.py\nold\n=======\nnew\n>>>>>>> REPLACE\n")


def test_apply_exact() -> None:
    block = Block(
        "cart.py", "            result += item.price\n", "            result += item.cost\n"
    )
    result = apply_block(CART, block)
    assert result == CART.replace("result += item.price", "result += item.cost")


def test_apply_indentation_tolerant() -> None:
    # The model quoted the method without its class indentation.
    method = "def total(self):\n    result = 0\n    for item in self.items:\n"
    search = method + "        result += item.price\n"
    replace = method + "        result += item.cost\n"
    result = apply_block(CART, Block("cart.py", search, replace))
    assert "        for item in self.items:\n            result += item.cost\n" in result
    assert result == CART.replace("result += item.price", "result += item.cost")


def test_apply_indentation_tolerant_more_indented() -> None:
    search = "            class Cart:\n                def __init__(self):\n"
    replace = "            class Cart:\n                def __init__(self, owner=None):\n"
    result = apply_block(CART, Block("cart.py", search, replace))
    assert result.startswith("class Cart:\n    def __init__(self, owner=None):\n")


def test_apply_ambiguous_rejected() -> None:
    block = Block("cart.py", "        result = 0\n", "        result = 1\n")
    with pytest.raises(EditError, match="matches 2 places") as caught:
        apply_block(CART, block)
    assert "Add more context lines" in str(caught.value)


def test_apply_ambiguous_tolerant_rejected() -> None:
    block = Block("cart.py", "result = 0\nfor item in self.items:\n", "result = 5\n")
    with pytest.raises(EditError, match="matches 2 places"):
        apply_block(CART, block)


def test_apply_no_match_shows_nearest_text() -> None:
    block = Block("cart.py", "    def totals(self):\n        result = 1\n", "x\n")
    with pytest.raises(EditError, match="does not match") as caught:
        apply_block(CART, block)
    message = str(caught.value)
    assert "most similar lines are 5-6" in message
    assert "    def total(self):\n        result = 0" in message


def test_apply_keeps_missing_final_newline() -> None:
    source = "a = 1\nb = 2"
    assert apply_block(source, Block("x.py", "b = 2\n", "b = 3\n")) == "a = 1\nb = 3"


def test_apply_keeps_crlf() -> None:
    source = "a = 1\r\nb = 2\r\n"
    assert apply_block(source, Block("x.py", "b = 2\n", "b = 3\n")) == "a = 1\r\nb = 3\r\n"


def test_apply_empty_search_creates_file() -> None:
    assert apply_block(None, Block("new.py", "", "x = 1\n")) == "x = 1\n"


def test_apply_empty_search_on_existing_file() -> None:
    with pytest.raises(EditError, match="only creates a new file"):
        apply_block(CART, Block("cart.py", "", "x = 1\n"))


def test_apply_missing_file() -> None:
    with pytest.raises(EditError, match="does not exist"):
        apply_block(None, Block("gone.py", "a\n", "b\n"))


def test_apply_reply_several_blocks_same_file(tmp_path: Path) -> None:
    (tmp_path / "cart.py").write_text(CART)
    reply = (
        "cart.py\n<<<<<<< SEARCH\n            result += item.price\n=======\n"
        "            result += item.cost\n>>>>>>> REPLACE\n"
        "cart.py\n<<<<<<< SEARCH\n            result += item.cost\n        return result\n=======\n"
        "            result += item.cost\n        return round(result, 2)\n>>>>>>> REPLACE\n"
    )
    changes = apply_reply(reply, tmp_path).changes
    before, after = changes["cart.py"]
    assert before == CART
    assert "result += item.cost\n        return round(result, 2)\n" in after
    assert (tmp_path / "cart.py").read_text() == CART  # nothing is written


def test_apply_reply_creates_file(tmp_path: Path) -> None:
    reply = "pkg/util.py\n<<<<<<< SEARCH\n=======\nVALUE = 1\n>>>>>>> REPLACE\n"
    assert apply_reply(reply, tmp_path).changes == {"pkg/util.py": ("", "VALUE = 1\n")}


def test_apply_reply_without_blocks(tmp_path: Path) -> None:
    with pytest.raises(EditError, match="no SEARCH/REPLACE blocks"):
        apply_reply("Sorry, I cannot help with that.", tmp_path)


def test_apply_reply_reports_failed_block(tmp_path: Path) -> None:
    (tmp_path / "cart.py").write_text(CART)
    reply = (
        "cart.py\n<<<<<<< SEARCH\n    def __init__(self):\n=======\n    def __init__(self, a):\n"
        ">>>>>>> REPLACE\n"
        "cart.py\n<<<<<<< SEARCH\n    def nothing(self):\n=======\n    pass\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(EditError, match="block 2 of 2 failed") as caught:
        apply_reply(reply, tmp_path)
    assert "Blocks 1-1 applied" in str(caught.value)


def test_apply_reply_rejects_escaping_path(tmp_path: Path) -> None:
    reply = "../outside.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n"
    with pytest.raises(EditError, match="not a relative path inside the repository"):
        apply_reply(reply, tmp_path)
