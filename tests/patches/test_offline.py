"""The offline provider: each rule on a bug it fixes and on a near miss it must leave alone."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from patches.errors import EditError
from patches.offline import OfflineProvider, apply_text_edits
from patches.types import (
    FaultKind,
    LintFix,
    Location,
    Proposal,
    RepairRequest,
    TextEdit,
    TraceFrame,
)

MakeRepo = Callable[[dict[str, str]], Path]


def test_fault(
    path: str,
    line: int,
    exc_type: str,
    message: str,
    test_file: str = "tests/test_shop.py",
    extra_frames: tuple[TraceFrame, ...] = (),
) -> RepairRequest:
    """A test fault as the kernel maps it: the test frame first, the failing frame innermost."""
    frames = (
        TraceFrame(test_file, 5, "test_it", "result = run()"),
        *extra_frames,
        TraceFrame(path, line, "function", ""),
    )
    return RepairRequest(
        fault_id="f1",
        kind=FaultKind.TEST,
        summary=f"{test_file}::test_it failed: {exc_type}: {message}",
        message=message,
        location=Location(path, line),
        exc_type=exc_type,
        frames=frames,
        test_ids=(f"{test_file}::test_it",),
    )


test_fault.__test__ = False  # a helper, not a test


def ruff_diagnostics(root: Path, path: str, rule: str) -> list[dict]:
    done = subprocess.run(
        ["ruff", "check", "--isolated", "--select", rule, "--output-format", "json", path],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(done.stdout)


def lint_request(diagnostic: dict, path: str) -> RepairRequest:
    fix = diagnostic["fix"]
    edits = tuple(
        TextEdit(
            edit["location"]["row"],
            edit["location"]["column"],
            edit["end_location"]["row"],
            edit["end_location"]["column"],
            edit["content"],
        )
        for edit in fix["edits"]
    )
    return RepairRequest(
        fault_id="lint1",
        kind=FaultKind.LINT,
        summary=f"{diagnostic['code']} {diagnostic['message']}",
        message=diagnostic["message"],
        location=Location(path, diagnostic["location"]["row"], diagnostic["location"]["column"]),
        lint_code=diagnostic["code"],
        lint_fix=LintFix(fix["message"], fix["applicability"], edits),
    )


def only_candidate_text(proposal: Proposal, path: str) -> str:
    assert len(proposal.candidates) == 1, proposal.rejections
    candidate = proposal.candidates[0]
    assert candidate.provider == "offline"
    assert candidate.paths == (path,)
    return candidate.edits[0].after


def rejection_reasons(proposal: Proposal) -> list[str]:
    return [rejection.reason for rejection in proposal.rejections]


# Lint fixes


def test_lint_safe_fix_applied(make_repo: MakeRepo) -> None:
    source = "import os\nimport sys\n\nprint(sys.argv)\n"
    root = make_repo({"tool.py": source})
    (diagnostic,) = ruff_diagnostics(root, "tool.py", "F401")
    assert diagnostic["fix"]["applicability"] == "safe"

    proposal = OfflineProvider().propose(lint_request(diagnostic, "tool.py"), root, limit=3)

    assert only_candidate_text(proposal, "tool.py") == "import sys\n\nprint(sys.argv)\n"
    assert "-import os" in proposal.candidates[0].diff


def test_lint_unsafe_fix_marked_unsafe(make_repo: MakeRepo) -> None:
    source = "def compute():\n    return 1\n\n\ndef run():\n    unused = compute()\n"
    root = make_repo({"tool.py": source})
    (diagnostic,) = ruff_diagnostics(root, "tool.py", "F841")
    assert diagnostic["fix"]["applicability"] == "unsafe"

    proposal = OfflineProvider().propose(lint_request(diagnostic, "tool.py"), root, limit=3)

    assert only_candidate_text(proposal, "tool.py").endswith("def run():\n    compute()\n")
    assert proposal.candidates[0].unsafe_fixes == ("F841",)
    assert "unsafe fix for F841" in proposal.candidates[0].summary


def test_lint_safe_fix_not_marked_unsafe(make_repo: MakeRepo) -> None:
    root = make_repo({"tool.py": "import os\n"})
    (diagnostic,) = ruff_diagnostics(root, "tool.py", "F401")

    proposal = OfflineProvider().propose(lint_request(diagnostic, "tool.py"), root, limit=3)

    assert proposal.candidates[0].unsafe_fixes == ()


def test_lint_unsafe_fix_comes_last(make_repo: MakeRepo) -> None:
    # F821 carries no ruff fix, so a made-up unsafe one shows the order
    # against the rename rule's candidate for the same fault.
    source = "total = 3\nprint(totl)\n"
    root = make_repo({"tool.py": source})
    (diagnostic,) = ruff_diagnostics(root, "tool.py", "F821")
    request = lint_request(
        {
            **diagnostic,
            "fix": {
                "message": "Drop the line",
                "applicability": "unsafe",
                "edits": [
                    {
                        "location": {"row": 2, "column": 1},
                        "end_location": {"row": 3, "column": 1},
                        "content": "",
                    }
                ],
            },
        },
        "tool.py",
    )

    proposal = OfflineProvider().propose(request, root, limit=3)

    summaries = [candidate.summary for candidate in proposal.candidates]
    assert len(summaries) == 2, proposal.rejections
    assert summaries[0].startswith("Rename `totl` to `total`")
    assert proposal.candidates[0].unsafe_fixes == ()
    assert proposal.candidates[1].unsafe_fixes == ("F821",)


def test_lint_display_only_fix_not_applied(make_repo: MakeRepo) -> None:
    source = "def compute():\n    return 1\n\n\ndef run():\n    unused = compute()\n"
    root = make_repo({"tool.py": source})
    (diagnostic,) = ruff_diagnostics(root, "tool.py", "F841")
    diagnostic["fix"]["applicability"] = "display-only"

    proposal = OfflineProvider().propose(lint_request(diagnostic, "tool.py"), root, limit=3)

    assert proposal.candidates == ()
    (reason,) = rejection_reasons(proposal)
    assert "F841 at tool.py:6 as display-only" in reason


def test_text_edits_count_characters() -> None:
    source = "name = 'héllo'; value = 1\nnext = 2\n"
    # Replace "value" (characters 17-21 of line 1) and delete line 2.
    edits = (TextEdit(1, 17, 1, 22, "count"), TextEdit(2, 1, 3, 1, ""))
    assert apply_text_edits(source, edits) == "name = 'héllo'; count = 1\n"


def test_text_edits_overlap_rejected() -> None:
    with pytest.raises(EditError, match="overlap"):
        apply_text_edits("abcdef\n", (TextEdit(1, 1, 1, 4, "x"), TextEdit(1, 3, 1, 5, "y")))


def test_text_edits_outside_file_rejected() -> None:
    with pytest.raises(EditError, match="outside the file"):
        apply_text_edits("a\n", (TextEdit(7, 1, 7, 2, "x"),))


# Undefined names

REPORT = '''\
"""Reports about orders."""

import os


def dump(data):
    return json.dumps(data, sort_keys=True)


def folder():
    return os.getcwd()
'''


def test_missing_stdlib_import_added(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/report.py": REPORT})
    request = test_fault("shop/report.py", 7, "NameError", "name 'json' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=3)

    expected = REPORT.replace("import os\n", "import json\nimport os\n")
    assert only_candidate_text(proposal, "shop/report.py") == expected


def test_missing_import_in_file_without_imports(make_repo: MakeRepo) -> None:
    source = '"""Paths."""\n\n\ndef home():\n    return pathlib.Path.home()\n'
    root = make_repo({"paths.py": source})
    request = test_fault("paths.py", 5, "NameError", "name 'pathlib' is not defined")

    text = only_candidate_text(OfflineProvider().propose(request, root, 1), "paths.py")

    assert (
        text == '"""Paths."""\n\nimport pathlib\n\n\ndef home():\n    return pathlib.Path.home()\n'
    )


def test_stdlib_name_not_used_as_module(make_repo: MakeRepo) -> None:
    # "code" is a standard-library module, but here it is a plain value: no import.
    source = "def shift(offset):\n    return code + offset\n"
    root = make_repo({"calc.py": source})
    request = test_fault("calc.py", 2, "NameError", "name 'code' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=3)

    # Only the name search proposes something: the other value in scope.
    assert [c.summary for c in proposal.candidates] == [
        "Use `offset` instead of `code` at calc.py:2 (another name in scope)"
    ]
    assert rejection_reasons(proposal) == [
        "no offline rule matches NameError on 'code': no defined name is close to it"
    ]


TOTALS = """\
def total(prices):
    subtotal = 0
    for price in prices:
        subtotal += price
    label = "subtotl"  # subtotl is spelled wrong below
    return subtotl
"""


def test_misspelled_name_renamed(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/totals.py": TOTALS})
    request = test_fault("shop/totals.py", 6, "NameError", "name 'subtotl' is not defined")

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "shop/totals.py")

    assert text == TOTALS.replace("    return subtotl\n", "    return subtotal\n")
    assert 'label = "subtotl"  # subtotl is spelled wrong below' in text


def test_misspelled_name_in_fstring_renamed(make_repo: MakeRepo) -> None:
    source = 'def label(owner):\n    total = 3\n    return f"{owner}: {totl} items"\n'
    root = make_repo({"label.py": source})
    request = test_fault("label.py", 3, "NameError", "name 'totl' is not defined")

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "label.py")

    assert text == source.replace("{totl}", "{total}")


def test_stdlib_module_in_fstring_imported(make_repo: MakeRepo) -> None:
    source = 'def show(x):\n    return f"root={math.sqrt(x)}"\n'
    root = make_repo({"show.py": source})
    request = test_fault("show.py", 2, "NameError", "name 'math' is not defined")

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "show.py")

    assert text == "import math\n\n\n" + source


def test_misspelled_builtin_from_lint(make_repo: MakeRepo) -> None:
    source = "def show(value):\n    pritn(value)\n"
    root = make_repo({"show.py": source})
    (diagnostic,) = ruff_diagnostics(root, "show.py", "F821")
    request = RepairRequest(
        fault_id="lint2",
        kind=FaultKind.LINT,
        summary="F821",
        message=diagnostic["message"],
        location=Location(
            "show.py", diagnostic["location"]["row"], diagnostic["location"]["column"]
        ),
        lint_code="F821",
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "show.py")

    assert text == "def show(value):\n    print(value)\n"


def test_two_equally_close_names_untouched(make_repo: MakeRepo) -> None:
    source = "def pick(data1, data2):\n    return data\n"
    root = make_repo({"pick.py": source})
    request = test_fault("pick.py", 2, "NameError", "name 'data' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=3)

    # The rule does not guess; the name search offers both for validation to decide.
    assert [c.summary for c in proposal.candidates] == [
        "Use `data1` instead of `data` at pick.py:2 (another name in scope)",
        "Use `data2` instead of `data` at pick.py:2 (another name in scope)",
    ]
    assert rejection_reasons(proposal) == [
        "no offline rule matches NameError on 'data': 'data1', 'data2' are equally close"
    ]


def test_unknown_name_rejected(make_repo: MakeRepo) -> None:
    source = "def run(items):\n    return frobnicate_widgets(items)\n"
    root = make_repo({"run.py": source})
    request = test_fault("run.py", 2, "NameError", "name 'frobnicate_widgets' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=3)

    assert proposal.candidates == ()
    assert rejection_reasons(proposal) == [
        "no offline rule matches NameError on 'frobnicate_widgets': no defined name is close to it",
        "the name search found no other name of the same kind for NameError",
    ]


def test_name_error_in_test_code_untouched(make_repo: MakeRepo) -> None:
    test_source = "def test_it():\n    assert totl == 3\n\n\ntotal = 3\n"
    root = make_repo({"tests/test_shop.py": test_source})
    request = RepairRequest(
        fault_id="f2",
        kind=FaultKind.TEST,
        summary="tests/test_shop.py::test_it failed",
        message="name 'totl' is not defined",
        location=Location("tests/test_shop.py", 2),
        exc_type="NameError",
        frames=(TraceFrame("tests/test_shop.py", 2, "test_it", "assert totl == 3"),),
    )

    proposal = OfflineProvider().propose(request, root, limit=3)

    assert proposal.candidates == ()
    assert rejection_reasons(proposal) == [
        "no offline rule matches NameError on 'totl': it is not at any reported line",
        "the name search has no line to change for NameError",
    ]


# Missing attributes

CART = """\
class Cart:
    discount = 0

    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)

    @classmethod
    def from_list(cls, items):
        cart = cls()
        for item in items:
            cart.add(item)
        return cart

    def total(self):
        return sum(item.price for item in self.itmes)
"""


def test_misspelled_self_attribute_renamed(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/cart.py": CART})
    request = test_fault(
        "shop/cart.py", 18, "AttributeError", "'Cart' object has no attribute 'itmes'"
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "shop/cart.py")

    assert text == CART.replace("self.itmes", "self.items")


CHECKOUT = """\
from shop.cart import Cart


def checkout(items):
    cart = Cart.from_lst(items)
    return cart.totl()
"""


def test_method_of_class_in_other_file_renamed(make_repo: MakeRepo) -> None:
    fixed_cart = CART.replace("self.itmes", "self.items")
    root = make_repo({"shop/cart.py": fixed_cart, "shop/checkout.py": CHECKOUT})
    request = test_fault(
        "shop/checkout.py", 6, "AttributeError", "'Cart' object has no attribute 'totl'"
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "shop/checkout.py")

    assert text == CHECKOUT.replace("cart.totl()", "cart.total()")


def test_class_attribute_renamed(make_repo: MakeRepo) -> None:
    fixed_cart = CART.replace("self.itmes", "self.items")
    root = make_repo({"shop/cart.py": fixed_cart, "shop/checkout.py": CHECKOUT})
    request = test_fault(
        "shop/checkout.py", 5, "AttributeError", "type object 'Cart' has no attribute 'from_lst'"
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "shop/checkout.py")

    assert text == CHECKOUT.replace("Cart.from_lst(", "Cart.from_list(")


def test_inherited_attribute_found(make_repo: MakeRepo) -> None:
    source = (
        "class Base:\n"
        "    def describe(self):\n"
        "        return 'base'\n"
        "\n"
        "\n"
        "class Child(Base):\n"
        "    def show(self):\n"
        "        return self.descibe()\n"
    )
    root = make_repo({"kinds.py": source})
    request = test_fault(
        "kinds.py", 8, "AttributeError", "'Child' object has no attribute 'descibe'"
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "kinds.py")

    assert text.endswith("        return self.describe()\n")


def test_repository_module_attribute_renamed(make_repo: MakeRepo) -> None:
    prices = "TAX_RATE = 0.2\n\n\ndef with_tax(amount):\n    return amount * (1 + TAX_RATE)\n"
    invoice = "from shop import prices\n\n\ndef tax(amount):\n    return amount * prices.TAX_RAET\n"
    root = make_repo({"shop/__init__.py": "", "shop/prices.py": prices, "shop/invoice.py": invoice})
    request = test_fault(
        "shop/invoice.py", 5, "AttributeError", "module 'shop.prices' has no attribute 'TAX_RAET'"
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "shop/invoice.py")

    assert text == invoice.replace("prices.TAX_RAET", "prices.TAX_RATE")


def test_stdlib_module_attribute_renamed(make_repo: MakeRepo) -> None:
    source = "import math\n\n\ndef side(area):\n    return math.sqr(area)\n"
    root = make_repo({"geometry.py": source})
    request = test_fault("geometry.py", 5, "AttributeError", "module 'math' has no attribute 'sqr'")

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "geometry.py")

    assert text == source.replace("math.sqr(", "math.sqrt(")


def test_builtin_type_attribute_renamed(make_repo: MakeRepo) -> None:
    source = "def collect(items, extra):\n    items.apend(extra)\n    return items\n"
    root = make_repo({"collect.py": source})
    request = test_fault(
        "collect.py", 2, "AttributeError", "'list' object has no attribute 'apend'"
    )

    text = only_candidate_text(OfflineProvider().propose(request, root, 3), "collect.py")

    assert text == source.replace("items.apend(", "items.append(")


def test_attribute_without_close_name_untouched(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/cart.py": CART.replace("self.itmes", "self.wheels")})
    request = test_fault(
        "shop/cart.py", 18, "AttributeError", "'Cart' object has no attribute 'wheels'"
    )

    proposal = OfflineProvider().propose(request, root, limit=3)

    # The values of Cart, not its methods add, from_list and total.
    assert [c.summary for c in proposal.candidates] == [
        "Use `items` instead of `wheels` at shop/cart.py:18 (another attribute of Cart)",
        "Use `discount` instead of `wheels` at shop/cart.py:18 (another attribute of Cart)",
    ]
    assert rejection_reasons(proposal) == [
        "no offline rule matches AttributeError on 'wheels': no defined name is close to it",
        "the mutation search found no candidate at 1 suspicious line(s)",
    ]


def test_attribute_of_unknown_class_untouched(make_repo: MakeRepo) -> None:
    source = "def run(client):\n    return client.fetchh()\n"
    root = make_repo({"run.py": source})
    request = test_fault(
        "run.py", 2, "AttributeError", "'Session' object has no attribute 'fetchh'"
    )

    proposal = OfflineProvider().propose(request, root, limit=3)

    assert proposal.candidates == ()
    assert rejection_reasons(proposal) == [
        "no offline rule matches AttributeError on 'fetchh': Session is not found",
        "the name search found no other name of the same kind for AttributeError",
        "the mutation search found no candidate at 1 suspicious line(s)",
    ]


# Limits and unmatched faults


def test_limit_zero_gives_no_candidate(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/totals.py": TOTALS})
    request = test_fault("shop/totals.py", 6, "NameError", "name 'subtotl' is not defined")

    assert OfflineProvider().propose(request, root, limit=0).candidates == ()


def test_assertion_error_goes_to_search(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/totals.py": TOTALS})
    request = test_fault("shop/totals.py", 6, "AssertionError", "assert 5 == 6")

    proposal = OfflineProvider().propose(request, root, limit=3)

    assert proposal.candidates == ()
    assert rejection_reasons(proposal) == [
        "the mutation search found no candidate at 1 suspicious line(s)"
    ]
