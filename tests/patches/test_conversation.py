"""The openai provider over several rounds, its prompt context and its secrets, end to end."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from patches.errors import ProviderError
from patches.offline import OfflineProvider
from patches.openai_provider import OpenAIProvider
from patches.types import FeedbackKind, Turn
from tests.patches.test_openai_provider import CART, FIX, TEST_CART, cart_fault, provider, reasons
from tests.scripted_llm import Reply, ScriptedLLM

MakeRepo = Callable[[dict[str, str]], Path]

MISSED = """shop/cart.py
<<<<<<< SEARCH
            result = result + price
=======
            result = result + price * quantity
>>>>>>> REPLACE
"""

PRICES = '''"""Unit prices."""

RATES = {"pen": 2, "ink": 7}


def unit_price(name):
    return RATES[name]


def line_total(name, quantity):
    return unit_price(name) + quantity
'''


@pytest.fixture
def shop(make_repo: MakeRepo) -> Path:
    return make_repo(
        {"shop/__init__.py": "", "shop/cart.py": CART, "tests/test_cart.py": TEST_CART}
    )


def test_feedback_round_carries_history(shop: Path) -> None:
    with ScriptedLLM([Reply.text(MISSED), Reply.text(FIX)]) as llm:
        model = provider(llm)
        first = model.propose(cart_fault(), shop, limit=1)
        (rejection,) = first.rejections
        turn = Turn(rejection.reply, FeedbackKind.NOT_APPLIED, rejection.reason)
        second = model.propose(dataclasses.replace(cart_fault(), history=(turn,)), shop, limit=1)

    assert first.candidates == ()
    assert rejection.reply == MISSED
    assert len(second.candidates) == 1
    messages = llm.requests[1].body["messages"]
    assert [message["role"] for message in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == MISSED
    assert "The most similar lines are" in messages[3]["content"]
    assert "            result += price" in messages[3]["content"]
    assert "Nothing was applied" in messages[3]["content"]


def test_validation_feedback_is_quoted(shop: Path) -> None:
    failure = "rejected: target still does not pass\n\nE       assert 8 == 10"
    turn = Turn(FIX, FeedbackKind.VALIDATION_FAILED, failure)
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        provider(llm).propose(dataclasses.replace(cart_fault(), history=(turn,)), shop, limit=1)

    feedback = llm.requests[0].body["messages"][-1]["content"]
    assert "validation failed" in feedback
    assert "E       assert 8 == 10" in feedback


def test_candidate_keeps_its_reply(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    (candidate,) = proposal.candidates
    assert candidate.reply == FIX


def test_whitespace_variant_is_duplicate(shop: Path) -> None:
    spaced = FIX.replace("price * quantity", "price*quantity  # per line")
    with ScriptedLLM([Reply.text(FIX, spaced)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=2)

    assert len(proposal.candidates) == 1
    assert reasons(proposal) == ["choice 2 repeats an earlier one"]


def test_choices_setting_sets_n(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX, FIX)]) as llm:
        provider(llm, choices=2).propose(cart_fault(), shop, limit=1)

    assert llm.requests[0].body["n"] == 2


def test_unshown_file_is_rejected(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/__init__.py": "", "shop/cart.py": CART, "shop/other.py": "VALUE = 1\n"})
    reply = "shop/other.py\n<<<<<<< SEARCH\nVALUE = 1\n=======\nVALUE = 2\n>>>>>>> REPLACE\n"
    with ScriptedLLM([Reply.text(reply)]) as llm:
        proposal = provider(llm).propose(cart_fault(), root, limit=1)

    (reason,) = reasons(proposal)
    assert "shop/other.py is not a file this fault may edit" in reason


def test_context_shows_used_definitions(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/__init__.py": "", "shop/prices.py": PRICES})
    request = dataclasses.replace(
        cart_fault(),
        location=dataclasses.replace(cart_fault().location, path="shop/prices.py", line=11),
        frames=(),
        test_ids=(),
    )
    with ScriptedLLM([Reply.text("no edit")]) as llm:
        provider(llm).propose(request, root, limit=1)

    user = llm.requests[0].body["messages"][1]["content"]
    assert "### shop/prices.py: `line_total`, lines 10-11" in user
    assert "`unit_price` (used by `line_total`)" in user
    assert "`RATES` (used by `line_total`)" not in user  # not used directly
    assert "outline: signatures only" in user
    assert "def unit_price(name):\n    ..." in user


def test_context_budget_leaves_out_extras(make_repo: MakeRepo) -> None:
    root = make_repo({"shop/__init__.py": "", "shop/prices.py": PRICES})
    request = dataclasses.replace(
        cart_fault(),
        location=dataclasses.replace(cart_fault().location, path="shop/prices.py", line=11),
        frames=(),
        test_ids=(),
    )
    with ScriptedLLM([Reply.text("no edit")]) as llm:
        provider(llm, context_tokens=1).propose(request, root, limit=1)

    user = llm.requests[0].body["messages"][1]["content"]
    assert "`line_total`, lines 10-11" in user
    assert "used by" not in user
    assert "outline" not in user


def test_env_file_values_stay_out(make_repo: MakeRepo) -> None:
    env = "DATABASE_URL=postgres://shop:hunter2secret@db/shop\n"
    root = make_repo(
        {"shop/__init__.py": "", "shop/cart.py": CART, "tests/test_cart.py": TEST_CART, ".env": env}
    )
    output = "E   could not connect to postgres://shop:hunter2secret@db/shop"
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        provider(llm).propose(cart_fault(output), root, limit=1)

    raw = llm.requests[0].raw.decode()
    assert "hunter2secret" not in raw
    assert "[REDACTED]" in raw


def test_key_patterns_stay_out(shop: Path) -> None:
    aws = "AKIA" + "ABCDEFGHIJKLMNOP"
    github = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    output = f"E   boto said {aws} was invalid, token {github}"
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        provider(llm).propose(cart_fault(output), shop, limit=1)

    raw = llm.requests[0].raw.decode()
    assert aws not in raw
    assert github not in raw


def test_bad_request_message_shown(shop: Path) -> None:
    with ScriptedLLM([Reply.error(400, "context length exceeded: 9000 > 8192")]) as llm:
        with pytest.raises(ProviderError, match="HTTP 400: context length exceeded"):
            provider(llm).propose(cart_fault(), shop, limit=1)


def test_json_that_is_not_completion(shop: Path) -> None:
    body = '{"object": "list", "data": []}'
    with ScriptedLLM([Reply.raw(body, content_type="application/json")]) as llm:
        with pytest.raises(ProviderError, match="not a chat completion|invalid response"):
            provider(llm).propose(cart_fault(), shop, limit=1)


def test_retry_after_then_second_round(shop: Path) -> None:
    replies = [
        Reply.error(429, headers={"Retry-After": "0"}),
        Reply.text(MISSED),
        Reply.text(FIX),
    ]
    with ScriptedLLM(replies) as llm:
        model = provider(llm, max_retries=1)
        first = model.propose(cart_fault(), shop, limit=1)
        (rejection,) = first.rejections
        turn = Turn(rejection.reply, FeedbackKind.NOT_APPLIED, rejection.reason)
        second = model.propose(dataclasses.replace(cart_fault(), history=(turn,)), shop, limit=1)

    assert len(llm.requests) == 3
    assert len(second.candidates) == 1


def test_timeout_then_success_on_retry(shop: Path) -> None:
    with ScriptedLLM([Reply.delayed(3.0), Reply.text(FIX)]) as llm:
        proposal = provider(llm, timeout=0.5, max_retries=1).propose(cart_fault(), shop, limit=1)

    assert len(proposal.candidates) == 1
    assert len(llm.requests) == 2


def test_offline_takes_no_feedback() -> None:
    assert OfflineProvider.accepts_feedback is False
    assert OpenAIProvider.accepts_feedback is True


def test_tool_call_edits_applied(shop: Path) -> None:
    arguments = json.dumps({"edits": FIX})
    with ScriptedLLM([Reply.tool("apply_edits", arguments)]) as llm:
        proposal = provider(llm, tool_calling=True).propose(cart_fault(), shop, limit=1)

    assert llm.requests[0].body["tools"][0]["function"]["name"] == "apply_edits"
    assert "tool_choice" not in llm.requests[0].body
    (candidate,) = proposal.candidates
    assert "price * quantity" in candidate.diff


def test_mangled_tool_call_falls_back(shop: Path) -> None:
    with ScriptedLLM([Reply.tool("apply_edits", '{"edits": "unterminated', content=FIX)]) as llm:
        proposal = provider(llm, tool_calling=True).propose(cart_fault(), shop, limit=1)

    assert len(proposal.candidates) == 1


def test_tools_not_sent_by_default(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        provider(llm).propose(cart_fault(), shop, limit=1)

    assert "tools" not in llm.requests[0].body
