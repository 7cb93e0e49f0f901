"""Every reply of the corpus gives its expected file or its expected rejection."""

from __future__ import annotations

import pytest

from tests.reply_corpus import REPOSITORY, Case, load_cases, run_case

CASES = load_cases()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert sum(case.expect == "applied" for case in CASES) >= 25
    assert sum(case.expect == "rejected" for case in CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reply_case(case: Case) -> None:
    result = run_case(case)

    if case.expect == "applied":
        assert result.reasons == ()
        assert result.files == case.expected_files(REPOSITORY)
    else:
        assert case.reason, "a rejected case must name its reason"
        assert not result.applied
        assert any(case.reason in reason for reason in result.reasons), result.reasons
