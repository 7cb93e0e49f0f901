"""The openai provider end to end: the real openai client against the scripted server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from patches.errors import ProviderError
from patches.openai_provider import OpenAIProvider
from patches.types import FaultKind, Location, Proposal, RepairRequest, TraceFrame, Usage
from tests.scripted_llm import Reply, ScriptedLLM

MakeRepo = Callable[[dict[str, str]], Path]

CART = '''\
"""A shopping cart."""

API_TOKEN = "tok-4f9a2b7c1d-live"


class Cart:
    def __init__(self):
        self.items = []

    def add(self, name, price, quantity=1):
        self.items.append((name, price, quantity))

    def total(self):
        result = 0
        for name, price, quantity in self.items:
            result += price
        return result

    def count(self):
        result = 0
        for name, price, quantity in self.items:
            result += quantity
        return result
'''

TEST_CART = """\
from shop.cart import Cart


def test_total_counts_quantity():
    cart = Cart()
    cart.add("pen", 2, quantity=5)
    assert cart.total() == 10
"""

FIX = """\
The total ignores the quantity of each line.

shop/cart.py
```python
<<<<<<< SEARCH
            result += price
=======
            result += price * quantity
>>>>>>> REPLACE
```
"""

AMBIGUOUS = """\
shop/cart.py
<<<<<<< SEARCH
        result = 0
=======
        result = 0.0
>>>>>>> REPLACE
"""

BROKEN = """\
shop/cart.py
<<<<<<< SEARCH
            result += price
=======
            result += price * (quantity
>>>>>>> REPLACE
"""


@pytest.fixture
def shop(make_repo: MakeRepo) -> Path:
    return make_repo(
        {"shop/__init__.py": "", "shop/cart.py": CART, "tests/test_cart.py": TEST_CART}
    )


def cart_fault(test_output: str = "") -> RepairRequest:
    return RepairRequest(
        fault_id="abc123",
        kind=FaultKind.TEST,
        summary="tests/test_cart.py::test_total_counts_quantity failed: AssertionError",
        message="assert 2 == 10\n +  where 2 = total()",
        location=Location("shop/cart.py", 16, 1, "Cart.total"),
        exc_type="AssertionError",
        frames=(
            TraceFrame(
                "tests/test_cart.py", 7, "test_total_counts_quantity", "assert cart.total() == 10"
            ),
        ),
        test_ids=("tests/test_cart.py::test_total_counts_quantity",),
        test_output=test_output or "E       assert 2 == 10",
    )


def provider(llm: ScriptedLLM, **options: object) -> OpenAIProvider:
    settings: dict = {"api_key": "test-key", "base_url": llm.base_url, "timeout": 5.0}
    settings.update(options)
    return OpenAIProvider("test-model", **settings)


def reasons(proposal: Proposal) -> list[str]:
    return [rejection.reason for rejection in proposal.rejections]


def test_correct_reply_gives_candidate(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.rejections == ()
    (candidate,) = proposal.candidates
    assert candidate.provider == "openai"
    assert candidate.model == "test-model"
    assert candidate.summary == "The total ignores the quantity of each line."
    assert candidate.paths == ("shop/cart.py",)
    assert candidate.edits[0].after == CART.replace(
        "            result += price\n", "            result += price * quantity\n"
    )
    assert "+            result += price * quantity\n" in candidate.diff
    assert (shop / "shop" / "cart.py").read_text() == CART  # the provider never writes


def test_request_carries_prompt(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        provider(llm, temperature=0.2).propose(cart_fault(), shop, limit=1)

    (request,) = llm.requests
    body = request.body
    assert body["model"] == "test-model"
    assert body["temperature"] == 0.2
    assert "n" not in body
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "<<<<<<< SEARCH" in system["content"]
    assert "Never edit tests" in system["content"]
    assert user["role"] == "user"
    assert "AssertionError: assert 2 == 10" in user["content"]
    assert "### shop/cart.py: `Cart.total`, lines 13-17" in user["content"]
    assert "def test_total_counts_quantity():" in user["content"]
    assert "read only, do not edit" in user["content"]


def test_usage_recorded(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX, usage=(900, 70))]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.usage == Usage(prompt_tokens=900, completion_tokens=70, requests=1)


def test_missing_usage_counts_request(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX, usage=None)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.usage == Usage(requests=1)
    assert len(proposal.candidates) == 1


def test_several_choices_requested(shop: Path) -> None:
    garbage = "Looks fine to me."
    with ScriptedLLM([Reply.text(FIX, garbage, FIX)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=3)

    assert llm.requests[0].body["n"] == 3
    assert len(proposal.candidates) == 1
    assert reasons(proposal) == [
        "choice 2: the reply contains no edits: no SEARCH/REPLACE blocks, no unified diff and no "
        "code block under a file path. Reply with SEARCH/REPLACE blocks.",
        "choice 3 repeats an earlier one",
    ]


def test_fewer_choices_than_requested(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=3)

    assert len(proposal.candidates) == 1
    assert proposal.rejections == ()


def test_garbage_reply_rejected(shop: Path) -> None:
    with ScriptedLLM([Reply.text("I think the bug might be somewhere in the cart.")]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    (reason,) = reasons(proposal)
    assert reason.startswith("choice 1: the reply contains no edits")


def test_malformed_block_rejected(shop: Path) -> None:
    reply = "shop/cart.py\n<<<<<<< SEARCH\n            result += price\n>>>>>>> REPLACE\n"
    with ScriptedLLM([Reply.text(reply)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    (reason,) = reasons(proposal)
    assert "missing its '=======' line" in reason


def test_empty_reply_rejected(shop: Path) -> None:
    with ScriptedLLM([Reply.text(None)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    assert reasons(proposal) == ["choice 1: the reply is empty"]


def test_truncated_reply_rejected(shop: Path) -> None:
    with ScriptedLLM([Reply.text(FIX, finish_reason="length")]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    (reason,) = reasons(proposal)
    assert "cut off at the token limit" in reason


def test_ambiguous_block_rejected(shop: Path) -> None:
    with ScriptedLLM([Reply.text(AMBIGUOUS)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    (reason,) = reasons(proposal)
    assert "matches 2 places" in reason
    assert "Add more context lines" in reason


def test_unmatched_block_shows_nearest_text(shop: Path) -> None:
    reply = (
        "shop/cart.py\n<<<<<<< SEARCH\n            result = result + price\n"
        "=======\nx\n>>>>>>> REPLACE\n"
    )
    with ScriptedLLM([Reply.text(reply)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    (reason,) = reasons(proposal)
    assert "does not match the file" in reason
    assert "The most similar lines are 16-16:\n            result += price" in reason


def test_uncompilable_result_rejected(shop: Path) -> None:
    with ScriptedLLM([Reply.text(BROKEN)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    (reason,) = reasons(proposal)
    assert reason.startswith("choice 1: shop/cart.py does not compile after the patch, at line 16")


def test_no_choices_rejected(shop: Path) -> None:
    with ScriptedLLM([Reply.no_choices()]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert proposal.candidates == ()
    assert reasons(proposal) == ["the model returned no choices"]
    assert proposal.usage.requests == 1


def test_rate_limit_retried(shop: Path, caplog: pytest.LogCaptureFixture) -> None:
    replies = [Reply.error(429, "slow down", headers={"Retry-After": "0"}), Reply.text(FIX)]
    with caplog.at_level(logging.WARNING, logger="patches.openai_provider"):
        with ScriptedLLM(replies) as llm:
            proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert len(llm.requests) == 2
    assert len(proposal.candidates) == 1
    warnings = [
        record.getMessage() for record in caplog.records if record.levelno == logging.WARNING
    ]
    assert any("returned HTTP 429" in message for message in warnings)
    assert any("(retry 1 of 3)" in message for message in warnings)


def test_server_error_retried(shop: Path) -> None:
    with ScriptedLLM([Reply.error(500, "overloaded"), Reply.text(FIX)]) as llm:
        proposal = provider(llm).propose(cart_fault(), shop, limit=1)

    assert len(llm.requests) == 2
    assert len(proposal.candidates) == 1


def test_rate_limit_after_retries_raises(shop: Path) -> None:
    replies = [Reply.error(429, "slow down", headers={"Retry-After": "0"})] * 2
    with ScriptedLLM(replies) as llm:
        with pytest.raises(ProviderError, match="still rate limiting after 1 retries") as caught:
            provider(llm, max_retries=1).propose(cart_fault(), shop, limit=1)

    assert len(llm.requests) == 2
    assert llm.base_url in str(caught.value)


def test_exhausted_script_raises(shop: Path) -> None:
    with ScriptedLLM([]) as llm:
        with pytest.raises(
            ProviderError,
            match="returned HTTP 500 after 0 retries: ScriptedLLM has no scripted reply left",
        ) as caught:
            provider(llm, max_retries=0).propose(cart_fault(), shop, limit=1)

    assert "no scripted reply left" in str(caught.value)


def test_timeout_raises(shop: Path) -> None:
    with ScriptedLLM([Reply.delayed(30)]) as llm:
        with pytest.raises(
            ProviderError, match=r"timed out after 0.5 s \(tried 1 times\)"
        ) as caught:
            provider(llm, timeout=0.5, max_retries=0).propose(cart_fault(), shop, limit=1)

    assert llm.base_url in str(caught.value)


def test_html_body_raises(shop: Path) -> None:
    with ScriptedLLM([Reply.raw("<html><body>Welcome to nginx!</body></html>")]) as llm:
        with pytest.raises(ProviderError, match="not a chat completion"):
            provider(llm).propose(cart_fault(), shop, limit=1)


def test_broken_json_body_raises(shop: Path) -> None:
    body = '{"id": "chatcmpl-1", "choices": [{"index": 0, "message": '
    with ScriptedLLM([Reply.raw(body, content_type="application/json")]) as llm:
        with pytest.raises(ProviderError, match="not valid JSON"):
            provider(llm).propose(cart_fault(), shop, limit=1)


def test_unknown_model_raises(shop: Path) -> None:
    with ScriptedLLM([Reply.error(404, "The model `test-model` does not exist")]) as llm:
        with pytest.raises(ProviderError, match="has no model 'test-model'"):
            provider(llm).propose(cart_fault(), shop, limit=1)


def test_rejected_key_raises_without_key(shop: Path) -> None:
    with ScriptedLLM([Reply.error(401, "Incorrect API key provided: test-key")]) as llm:
        with pytest.raises(ProviderError, match="rejected the API key") as caught:
            provider(llm).propose(cart_fault(), shop, limit=1)

    assert "test-key" not in str(caught.value)


def test_missing_key_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    with pytest.raises(ProviderError, match="Set OPENAI_API_KEY"):
        OpenAIProvider("test-model", base_url="http://127.0.0.1:9/v1")


def test_missing_model_raises() -> None:
    with pytest.raises(ProviderError, match="no model name is set"):
        OpenAIProvider("", api_key="test-key", base_url="http://127.0.0.1:9/v1")


def test_prompt_keeps_secrets_out(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api_key = "sk-test-4c0ffee4c0ffee4c0ffee"
    database_password = "pw-database-7731-hunter"
    monkeypatch.setenv("OPENAI_API_KEY", api_key)
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", database_password)
    output = f"E   assert 2 == 10\nE   connecting with {database_password} and {api_key}"

    with ScriptedLLM([Reply.text(FIX)]) as llm:
        OpenAIProvider("test-model", base_url=llm.base_url).propose(cart_fault(output), shop, 1)

    (request,) = llm.requests
    raw = request.raw.decode()
    assert request.headers["authorization"] == f"Bearer {api_key}"
    assert api_key not in raw
    assert database_password not in raw
    assert "tok-4f9a2b7c1d-live" not in raw
    user = request.body["messages"][1]["content"]
    assert "API_TOKEN = [REDACTED]" in user
    assert "connecting with [REDACTED] and [REDACTED]" in user
