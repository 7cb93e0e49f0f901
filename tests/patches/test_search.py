"""The mutation search: order, budgets, and no literal taken from a test."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from patches.offline import OfflineProvider
from patches.repair.search import Budget, is_derived_from_code, search
from patches.types import FaultKind, RepairRequest, Spectrum

MakeRepo = Callable[[dict[str, str]], Path]

SHIPPING = (
    "def shipping(total):\n    base = 5\n    if total > 50:\n        return 0\n    return base\n"
)
TESTS = (
    "from app.ship import shipping\n\n\n"
    "def test_free_at_threshold():\n    assert shipping(50) == 0\n\n\n"
    "def test_small():\n    assert shipping(13) == 5\n"
)
FAILING = "tests/test_ship.py::test_free_at_threshold"


def shipping_request() -> RepairRequest:
    spectrum = Spectrum(
        executed={
            FAILING: {"app/ship.py": frozenset({2, 3, 5})},
            "tests/test_ship.py::test_small": {"app/ship.py": frozenset({2, 3, 5})},
            "tests/test_ship.py::test_big": {"app/ship.py": frozenset({2, 3, 4})},
        },
        failed=frozenset({FAILING}),
    )
    return RepairRequest(
        fault_id="f",
        kind=FaultKind.TEST,
        summary="",
        message="assert 5 == 0",
        location=None,
        exc_type="AssertionError",
        test_ids=(FAILING,),
        spectrum=spectrum,
    )


def reader(root: Path) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        file = root / path
        return file.read_text() if file.is_file() else None

    return read


def test_boundary_fix_comes_first(make_repo: MakeRepo) -> None:
    root = make_repo({"app/ship.py": SHIPPING, "tests/test_ship.py": TESTS})

    result = search(shipping_request(), reader(root), Budget(40, 30.0), "offline")

    first = result.candidates[0].edits[0].after
    assert first == SHIPPING.replace("total > 50", "total >= 50")


def test_candidate_budget_respected(make_repo: MakeRepo) -> None:
    root = make_repo({"app/ship.py": SHIPPING, "tests/test_ship.py": TESTS})

    result = search(shipping_request(), reader(root), Budget(3, 30.0), "offline")

    assert len(result.candidates) == 3
    assert result.exhausted == "candidates"


def test_seconds_budget_respected(make_repo: MakeRepo) -> None:
    root = make_repo({"app/ship.py": SHIPPING, "tests/test_ship.py": TESTS})

    result = search(shipping_request(), reader(root), Budget(40, 0.0), "offline")

    assert result.candidates == ()
    assert result.exhausted == "seconds"


def test_no_literal_from_failing_test(make_repo: MakeRepo) -> None:
    # Only special-casing the test's input (13) or expected value (99)
    # would make this test pass; the search must not produce either.
    source = "def double(x):\n    return x * 2\n"
    tests = "from app.d import double\n\n\ndef test_it():\n    assert double(13) == 99\n"
    root = make_repo({"app/d.py": source, "tests/test_d.py": tests})
    request = RepairRequest(
        fault_id="f",
        kind=FaultKind.TEST,
        summary="",
        message="assert 26 == 99",
        location=None,
        exc_type="AssertionError",
        test_ids=("tests/test_d.py::test_it",),
        spectrum=Spectrum(
            {"tests/test_d.py::test_it": {"app/d.py": frozenset({2})}},
            frozenset({"tests/test_d.py::test_it"}),
        ),
    )

    result = search(request, reader(root), Budget(200, 30.0), "offline")

    assert result.candidates
    for candidate in result.candidates:
        added = [line for line in candidate.diff.splitlines() if line.startswith("+ ")]
        assert not any(re.search(r"\b(13|99)\b", line) for line in added), candidate.diff


def test_literal_check() -> None:
    before = "x = 5\n"

    assert is_derived_from_code(before, "x = 6\n")
    assert is_derived_from_code(before, "x = None\n")
    assert not is_derived_from_code(before, "x = 42\n")
    assert not is_derived_from_code(before, "x = 'secret'\n")


def test_provider_ranks_its_proposal(make_repo: MakeRepo) -> None:
    root = make_repo({"app/ship.py": SHIPPING, "tests/test_ship.py": TESTS})

    proposal = OfflineProvider(max_candidates=5).propose(shipping_request(), root, limit=40)

    assert proposal.ranked
    assert len(proposal.candidates) == 5
    assert proposal.candidates[0].summary.startswith("Change `> 50` to `>= 50`")
