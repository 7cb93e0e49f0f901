"""An offline heal in Docker of a logic bug that no exception names: a wrong comparison."""

from __future__ import annotations

import json

import pytest

from kernel.cli import main
from tests.conftest import git

pytestmark = pytest.mark.docker

SHIPPING = """def shipping(total):
    if total > 50:
        return 0
    return 5
"""

TESTS = """from shop.shipping import shipping


def test_small_order_pays():
    assert shipping(10) == 5


def test_large_order_free():
    assert shipping(80) == 0


def test_threshold_is_free():
    assert shipping(50) == 0
"""


def test_wrong_comparison_healed(make_repo, docker_image, capsys):
    root = make_repo(
        {
            "shop/__init__.py": "",
            "shop/shipping.py": SHIPPING,
            "tests/test_shipping.py": TESTS,
            "notes.txt": "committed\n",
        }
    )
    (root / "notes.txt").write_text("uncommitted work\n")
    start = git(root, "rev-parse", "HEAD").strip()

    code = main(
        [
            "heal",
            str(root),
            "--sandbox",
            "docker",
            "--image",
            docker_image,
            "--provider",
            "offline",
            "--allow-dirty",
            "--json",
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    healed = [f for f in report["faults"] if f["status"] == "healed"]
    assert len(healed) == 1
    branch = report["branch"]
    fixed = git(root, "show", f"{branch}:shop/shipping.py")
    assert "if total >= 50:" in fixed
    assert git(root, "rev-parse", "HEAD").strip() == start
    assert (root / "notes.txt").read_text() == "uncommitted work\n"
    assert (root / "shop/shipping.py").read_text() == SHIPPING
