"""Offline heals that only the name search fixes: no rule finds a close name, validation picks."""

from __future__ import annotations

import json

from kernel.cli import main
from tests.conftest import git

PRICES = """def total_price(items, rate):
    subtotal = sum(items)
    return subtotal * (1 + tax)
"""

TEST_PRICES = """from shop.prices import total_price


def test_total_with_rate():
    assert total_price([10, 20], 0.5) == 45
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

TEST_ACCOUNT = """from shop.account import Account


def test_report_shows_balance():
    account = Account("ann")
    account.deposit(5)
    assert account.report() == "ann: 5"
"""


def test_name_search_heals_both_faults(make_repo, capsys):
    root = make_repo(
        {
            "shop/__init__.py": "",
            "shop/prices.py": PRICES,
            "shop/account.py": ACCOUNT,
            "tests/test_prices.py": TEST_PRICES,
            "tests/test_account.py": TEST_ACCOUNT,
        }
    )
    (root / "notes.txt").write_text("untracked work\n")
    start = git(root, "rev-parse", "HEAD").strip()

    code = main(["heal", str(root), "--sandbox", "local", "--provider", "offline", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert "(1 + rate)" in (root / "shop/prices.py").read_text()
    assert "{self.balance}" in (root / "shop/account.py").read_text()
    healed = [f for f in report["faults"] if f["status"] == "healed"]
    assert len(healed) == 2
    changes = [
        line
        for line in git(root, "log", "--format=%B", f"{start}..HEAD").splitlines()
        if line.startswith("Change: ")
    ]
    assert sorted(changes) == [
        "Change: Use `balance` instead of `funds` at shop/account.py:10 "
        "(another attribute of Account)",
        "Change: Use `rate` instead of `tax` at shop/prices.py:3 (another name in scope)",
    ]
    assert git(root, "status", "--porcelain") == "?? notes.txt\n"
    assert (root / "notes.txt").read_text() == "untracked work\n"
