"""The name search: other existing names of the same kind, when no rule fits the fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from patches.offline import OfflineProvider
from patches.types import Proposal, TraceFrame
from tests.patches.test_offline import rejection_reasons, test_fault

MakeRepo = Callable[[dict[str, str]], Path]

PRICES = """def total_price(items, rate):
    subtotal = sum(items)
    return subtotal * (1 + tax)
"""

ACCOUNT = """class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0

    def deposit(self, amount):
        self.balance += amount

    def report(self):
        return f"{self.owner}: {self.funds}"
"""


def summaries(proposal: Proposal) -> list[str]:
    return [candidate.summary for candidate in proposal.candidates]


def test_name_error_offers_values_in_scope(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/prices.py": PRICES})
    request = test_fault("shop/prices.py", 3, "NameError", "name 'tax' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=10)

    texts = {candidate.edits[0].after for candidate in proposal.candidates}
    assert PRICES.replace("(1 + tax)", "(1 + rate)") in texts
    assert len(texts) == 3  # rate, items and subtotal; total_price is not a value
    assert all("(another name in scope)" in summary for summary in summaries(proposal))


def test_name_error_value_not_replaced_by_function(make_repo: MakeRepo) -> None:
    source = "def tax_rate():\n    return 0.2\n\n\ndef with_tax():\n    return 100 * (1 + tax)\n"
    root = make_repo({"prices.py": source})
    request = test_fault("prices.py", 6, "NameError", "name 'tax' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=10)

    assert proposal.candidates == ()
    assert "the name search found no other name of the same kind for NameError" in (
        rejection_reasons(proposal)
    )


def test_name_error_call_offers_functions(make_repo: MakeRepo) -> None:
    source = (
        "def net(amount):\n    return amount\n\n\ndef report(amount):\n    return gross(amount)\n"
    )
    root = make_repo({"prices.py": source})
    request = test_fault("prices.py", 6, "NameError", "name 'gross' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=10)

    # The parameter is a value, and report() calling itself would recurse.
    assert summaries(proposal) == [
        "Use `net` instead of `gross` at prices.py:6 (another name in scope)"
    ]


def test_attribute_error_offers_other_values(make_repo: MakeRepo) -> None:
    root = make_repo({"bank/account.py": ACCOUNT})
    request = test_fault(
        "bank/account.py", 10, "AttributeError", "'Account' object has no attribute 'funds'"
    )

    proposal = OfflineProvider().propose(request, root, limit=10)

    texts = sorted(candidate.edits[0].after for candidate in proposal.candidates)
    assert texts == sorted(
        ACCOUNT.replace("self.funds", f"self.{name}") for name in ("balance", "owner")
    )


def test_attribute_value_not_replaced_by_method(make_repo: MakeRepo) -> None:
    source = (
        "class Meter:\n    def read(self):\n        return 1\n\n"
        "    def show(self):\n        return self.value\n"
    )
    root = make_repo({"meter.py": source})
    request = test_fault("meter.py", 6, "AttributeError", "'Meter' object has no attribute 'value'")

    proposal = OfflineProvider().propose(request, root, limit=10)

    assert proposal.candidates == ()
    assert "the name search found no other name of the same kind for AttributeError" in (
        rejection_reasons(proposal)
    )


def test_import_error_offers_module_names(make_repo: MakeRepo) -> None:
    prices = "def gross_price(amount):\n    return amount\n\n\nRATE = 2\n"
    invoice = "from shop.prices import net\n\n\ndef bill(amount):\n    return net(amount)\n"
    root = make_repo({"shop/__init__.py": "", "shop/prices.py": prices, "shop/invoice.py": invoice})
    request = test_fault(
        "shop/invoice.py",
        1,
        "ImportError",
        "cannot import name 'net' from 'shop.prices' (/repo/shop/prices.py)",
    )

    proposal = OfflineProvider().propose(request, root, limit=10)

    texts = {candidate.edits[0].after for candidate in proposal.candidates}
    assert invoice.replace("net", "gross_price") in texts
    assert invoice.replace("net", "RATE") in texts
    assert len(texts) == 2


def test_name_search_respects_limit(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/prices.py": PRICES})
    request = test_fault("shop/prices.py", 3, "NameError", "name 'tax' is not defined")

    proposal = OfflineProvider().propose(request, root, limit=2)

    assert len(proposal.candidates) == 2


def test_swapped_arguments_searched_after_names(make_repo: MakeRepo) -> None:
    # An int has no rjust because label() passes its arguments the wrong way round.
    source = (
        "def pad(text, width):\n    return text.rjust(width)\n\n\n"
        "def label(name, width):\n    return pad(width, name)\n"
    )
    root = make_repo({"app/prog.py": source})
    caller = TraceFrame("app/prog.py", 6, "label", "return pad(width, name)")
    request = test_fault(
        "app/prog.py",
        2,
        "AttributeError",
        "'int' object has no attribute 'rjust'",
        extra_frames=(caller,),
    )

    proposal = OfflineProvider().propose(request, root, limit=40)

    texts = [candidate.edits[0].after for candidate in proposal.candidates]
    assert source.replace("pad(width, name)", "pad(name, width)") in texts


def test_method_call_offers_other_methods(make_repo: MakeRepo) -> None:
    source = (
        "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
        "    def peek(self):\n        return self.items[-1]\n\n"
        "    def top_two(self):\n        return [self.peak(), self.items[-2]]\n"
    )
    root = make_repo({"app/stack.py": source})
    request = test_fault(
        "app/stack.py", 9, "AttributeError", "'Stack' object has no attribute 'peak'"
    )

    proposal = OfflineProvider().propose(request, root, limit=3)

    # top_two() calling itself would recurse, and items is not a method.
    assert summaries(proposal)[0] == (
        "Use `peek` instead of `peak` at app/stack.py:9 (another attribute of Stack)"
    )
    assert not any(
        "`top_two`" in summary or "`items`" in summary for summary in summaries(proposal)
    )
