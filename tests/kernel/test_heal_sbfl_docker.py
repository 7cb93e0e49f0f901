"""An offline heal in Docker whose bug only per-test coverage can point at.

The failing test calls ``total``; the wrong comparison sits in ``unit_price``,
which ``total`` calls. No frame of the traceback is in ``unit_price`` and the
test line does not name it, so without coverage the engine never looks there.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kernel.checks import observe
from kernel.cli import main
from kernel.faults import file_reader, spectrum_of
from patches.repair.sbfl import rank_lines
from patches.types import FaultKind
from sandbox.docker_backend import DockerBackend
from sandbox.results import RunStatus, TestRun
from sandbox.workspace import Snapshot
from tests.conftest import git

pytestmark = pytest.mark.docker

CART = """def unit_price(item):
    price = item["price"]
    if item["quantity"] > 10:
        price = price * 0.9
    return price


def total(items):
    return sum(unit_price(item) * item["quantity"] for item in items)
"""
BUGGY_LINE = ("shop/cart.py", 3)

TESTS = """from shop.cart import total


def test_single_item():
    assert total([{"price": 4, "quantity": 1}]) == 4


def test_bulk_discount():
    assert total([{"price": 10, "quantity": 20}]) == 180


def test_discount_starts_at_ten():
    assert total([{"price": 10, "quantity": 10}]) == 90
"""

FILES = {"shop/__init__.py": "", "shop/cart.py": CART, "tests/test_cart.py": TESTS}


def test_docker_baseline_ranks_by_ochiai(make_repo, docker_image):
    root = make_repo(FILES)
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=root, capture_output=True, check=True
    ).stdout
    backend = DockerBackend(docker_image)
    try:
        state = observe(backend, Snapshot(archive), root, timeout=120)
    finally:
        backend.close()
    fault = next(f for f in state.faults if f.kind is FaultKind.TEST)
    spectrum = spectrum_of(state.run)

    assert spectrum is not None
    assert len(spectrum.executed) == 3
    with_coverage = [(s.path, s.line) for s in rank_lines(fault.to_request(spectrum), read(root))]
    without = [(s.path, s.line) for s in rank_lines(fault.to_request(None), read(root))]
    assert BUGGY_LINE in with_coverage[:3]
    assert BUGGY_LINE not in without


def test_helper_bug_healed_in_docker(make_repo, docker_image, capsys):
    root = make_repo({**FILES, "notes.txt": "committed\n"})
    (root / "notes.txt").write_text("uncommitted work\n")

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
    fixed = git(root, "show", f"{report['branch']}:shop/cart.py")
    assert 'if item["quantity"] >= 10:' in fixed
    assert (root / "notes.txt").read_text() == "uncommitted work\n"
    assert (root / "shop/cart.py").read_text() == CART


def read(root: Path):
    return file_reader(root)


def test_truncated_coverage_not_used():
    lines = {"tests/test_cart.py::test_single_item": {"shop/cart.py": frozenset({2, 3, 5})}}
    complete = TestRun(RunStatus.COMPLETED, 0, coverage=lines)
    truncated = TestRun(RunStatus.COMPLETED, 0, coverage=lines, coverage_truncated=True)

    assert spectrum_of(complete) is not None
    assert spectrum_of(truncated) is None
