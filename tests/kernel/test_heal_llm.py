"""End-to-end heals with the openai provider: the real openai client against the scripted server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.cli import main
from tests.conftest import git
from tests.scripted_llm import Reply, ScriptedLLM

pytestmark = pytest.mark.docker

FAKE_KEY = "sk-test-0123456789abcdefSECRET"

PRICING = '''"""Prices after discounts."""


def discounted(price: float, rate: float) -> float:
    """Return the price after taking off ``rate`` (0.25 means 25 % off)."""
    return price * rate


def with_tax(price: float, tax: float) -> float:
    return price * (1 + tax)
'''

TESTS = """from pricing import discounted, with_tax


def test_discount_takes_rate_off():
    assert discounted(100.0, 0.25) == 75.0


def test_tax_is_added():
    assert with_tax(100.0, 0.5) == 150.0
"""

CORRECT_REPLY = """The discount multiplies by the rate instead of by what is left after it.

pricing.py
```python
<<<<<<< SEARCH
    return price * rate
=======
    return price * (1 - rate)
>>>>>>> REPLACE
```
"""

WRONG_REPLY = """pricing.py
```python
<<<<<<< SEARCH
    return price * rate
=======
    return price - rate
>>>>>>> REPLACE
```
"""


@pytest.fixture
def pricing_repo(make_repo) -> Path:
    return make_repo({"pricing.py": PRICING, "test_pricing.py": TESTS})


@pytest.fixture
def model_env(monkeypatch):
    def point_at(server: ScriptedLLM) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
        monkeypatch.setenv("AGENTOS_MAX_RETRIES", "0")

    return point_at


def heal(root: Path, image: str, *extra: str) -> list[str]:
    return [
        "heal",
        str(root),
        "--sandbox",
        "docker",
        "--image",
        image,
        "--provider",
        "openai",
        "--model",
        "scripted-coder",
        "--json",
        *extra,
    ]


def test_llm_fixes_logic_bug(pricing_repo, docker_image, model_env, capsys):
    start = git(pricing_repo, "rev-parse", "HEAD").strip()
    with ScriptedLLM([Reply.text(CORRECT_REPLY)]) as server:
        model_env(server)
        code = main(heal(pricing_repo, docker_image))

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    [fix] = git(pricing_repo, "rev-list", f"{start}..HEAD").split()
    message = git(pricing_repo, "log", "-1", "--format=%B", fix)
    assert "Agentos-Provider: openai" in message
    assert "Agentos-Model: scripted-coder" in message
    assert "return price * (1 - rate)" in (pricing_repo / "pricing.py").read_text()
    assert report["usage"]["total_tokens"] == 160
    assert report["usage"]["requests"] == 1
    [request] = server.chat_requests
    assert request.body["model"] == "scripted-coder"
    assert "test_discount_takes_rate_off" in json.dumps(request.body)
    assert FAKE_KEY not in request.raw.decode()
    record = (pricing_repo / ".agentos" / "heals" / f"{report['heal_id']}.json").read_text()
    assert FAKE_KEY not in record


def test_failed_validation_leaves_no_commit(pricing_repo, docker_image, model_env, capsys):
    head = git(pricing_repo, "rev-parse", "HEAD")
    with ScriptedLLM([Reply.text(WRONG_REPLY)]) as server:
        model_env(server)
        code = main(heal(pricing_repo, docker_image, "--max-attempts", "1", "--max-rounds", "1"))

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert len(server.chat_requests) == 1
    assert git(pricing_repo, "rev-parse", "HEAD") == head
    assert git(pricing_repo, "status", "--porcelain") == ""
    [outcome] = report["faults"]
    assert outcome["status"] == "unhealed"
    [attempt] = outcome["attempts"]
    assert attempt["accepted"] is False
    assert "test_discount_takes_rate_off" in attempt["reason"]


def test_garbage_reply_is_rejected(pricing_repo, docker_image, model_env, capsys):
    head = git(pricing_repo, "rev-parse", "HEAD")
    garbage = "Sure! I have fixed it. }}}<<<<<<< SEARCH\nnothing useful here"
    with ScriptedLLM([Reply.text(garbage)]) as server:
        model_env(server)
        code = main(heal(pricing_repo, docker_image, "--max-attempts", "1", "--max-rounds", "1"))

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert git(pricing_repo, "rev-parse", "HEAD") == head
    [outcome] = report["faults"]
    assert outcome["status"] == "unhealed"
    assert outcome["attempts"]
    assert all(not attempt["accepted"] for attempt in outcome["attempts"])


MISSED_REPLY = """pricing.py
<<<<<<< SEARCH
    return rate * price
=======
    return (1 - rate) * price
>>>>>>> REPLACE
"""


def test_missed_block_gets_nearest_text(pricing_repo, docker_image, model_env, capsys):
    with ScriptedLLM([Reply.text(MISSED_REPLY), Reply.text(CORRECT_REPLY)]) as server:
        model_env(server)
        code = main(heal(pricing_repo, docker_image))

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert "return price * (1 - rate)" in (pricing_repo / "pricing.py").read_text()
    first, second = server.chat_requests
    assert len(first.body["messages"]) == 2
    system, user, reply, feedback = second.body["messages"]
    assert reply == {"role": "assistant", "content": MISSED_REPLY}
    assert feedback["role"] == "user"
    assert "does not match" in feedback["content"]
    assert "The most similar lines are" in feedback["content"]
    assert "    return price * rate" in feedback["content"]
    assert report["usage"]["requests"] == 2


def test_failed_validation_is_sent_back(pricing_repo, docker_image, model_env, capsys):
    with ScriptedLLM([Reply.text(WRONG_REPLY), Reply.text(CORRECT_REPLY)]) as server:
        model_env(server)
        code = main(heal(pricing_repo, docker_image, "--candidates", "1"))

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    first, second = server.chat_requests
    assert first.body.get("n") in (None, 1)
    *_, reply, feedback = second.body["messages"]
    assert reply["content"] == WRONG_REPLY
    assert "validation failed" in feedback["content"]
    assert "test_discount_takes_rate_off" in feedback["content"]
    assert "99.75" in feedback["content"]  # the assertion values of the failing test
    [outcome] = report["faults"]
    assert [attempt["accepted"] for attempt in outcome["attempts"]] == [False, True]


def test_token_budget_stops_rounds(pricing_repo, docker_image, model_env, capsys):
    with ScriptedLLM([Reply.text(WRONG_REPLY), Reply.text(CORRECT_REPLY)]) as server:
        model_env(server)
        code = main(heal(pricing_repo, docker_image, "--max-tokens", "100"))

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert len(server.chat_requests) == 1
    [outcome] = report["faults"]
    assert "token budget is spent (160 of 100 tokens)" in outcome["reason"]
    assert "max_tokens" in outcome["reason"]


def test_auto_asks_offline_before_model(pricing_repo, docker_image, model_env, capsys):
    with ScriptedLLM([Reply.text(CORRECT_REPLY)]) as server:
        model_env(server)
        code = main(
            [
                "heal",
                str(pricing_repo),
                "--sandbox",
                "docker",
                "--image",
                docker_image,
                "--model",
                "scripted-coder",
                "--json",
            ]
        )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["providers"] == ["offline", "openai"]
    [outcome] = report["faults"]
    providers = [attempt["provider"] for attempt in outcome["attempts"]]
    assert providers[0] == "offline"
    assert providers[-1] == "openai"


def test_unreachable_endpoint_is_asked_once(make_repo, docker_image, monkeypatch, capsys):
    tests = TESTS.replace("150.0", "151.0")  # a second failing test, so a second fault
    root = make_repo({"pricing.py": PRICING, "test_pricing.py": tests})
    with ScriptedLLM([]) as server:
        closed_url = server.base_url
    monkeypatch.setenv("OPENAI_BASE_URL", closed_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("AGENTOS_MAX_RETRIES", "0")

    code = main(heal(root, docker_image))

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    first, second = report["faults"]
    assert "skipped" not in first["attempts"][-1]["reason"]
    assert second["attempts"][-1]["reason"].startswith("skipped: openai failed earlier")


def test_openai_without_model_is_usage_error(pricing_repo, capsys):
    code = main(["heal", str(pricing_repo), "--provider", "openai", "--sandbox", "local"])

    assert code == 2
    assert "--model" in capsys.readouterr().err
