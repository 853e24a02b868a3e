"""The one LLM client: retries with backoff, clear errors, token and cost accounting."""

from __future__ import annotations

import json

import pytest

from engine import llm
from engine.errors import OwnVoiceError
from tests.openai_fake import FakeOpenAI


def test_rate_limits_and_server_errors_are_retried(ownvoice_home):
    with FakeOpenAI(reply=lambda m: "Bonjour.") as fake:
        fake.failures = [429, 503]
        client = llm.LLMClient(model="local", base_url=fake.url, backoff=0.01)
        result = client.chat([{"role": "user", "content": "Hello."}], max_tokens=20)
        client.close()
    assert result.text == "Bonjour."
    assert client.usage.retries == 2 and client.usage.requests == 1
    assert len(fake.requests) == 3
    assert fake.requests[-1]["body"]["max_tokens"] == 20


def test_a_server_that_keeps_failing_gives_up_with_a_clear_message(ownvoice_home):
    with FakeOpenAI() as fake:
        fake.failures = [500] * 10
        client = llm.LLMClient(model="local", base_url=fake.url, backoff=0.01, max_retries=2)
        with pytest.raises(OwnVoiceError, match="answered 500"):
            client.chat([{"role": "user", "content": "Hi"}])
        client.close()
    assert len(fake.requests) == 3


def test_client_errors_are_not_retried(ownvoice_home):
    with FakeOpenAI() as fake:
        fake.failures = [400]
        client = llm.LLMClient(model="local", base_url=fake.url, backoff=0.01)
        with pytest.raises(OwnVoiceError, match="answered 400"):
            client.chat([{"role": "user", "content": "Hi"}])
    assert len(fake.requests) == 1


def test_cost_comes_from_an_editable_price_table(ownvoice_home):
    assert llm.cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert llm.cost_usd("gpt-4o-mini", 1_000_000, 0, batch=True) == pytest.approx(0.075)
    assert llm.cost_usd("my-local-model", 10**9, 10**9) == 0.0
    (ownvoice_home / "prices.json").write_text(json.dumps(
        {"models": {"my-local-model": {"input": 1.0, "output": 2.0}}}))
    assert llm.cost_usd("my-local-model", 1_000_000, 1_000_000) == pytest.approx(3.0)
    with FakeOpenAI(prompt_tokens=500_000, completion_tokens=250_000) as fake:
        client = llm.LLMClient(model="my-local-model", base_url=fake.url)
        client.chat([{"role": "user", "content": "Hi"}])
        client.chat([{"role": "user", "content": "Hi"}])
        client.close()
    assert client.usage.cost_usd == pytest.approx(2.0)
    assert client.usage.prompt_tokens == 1_000_000


def test_openai_needs_a_key_and_never_shows_it(ownvoice_home, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(OwnVoiceError, match="ownvoice keys set openai"):
        llm.LLMClient(model="gpt-4o-mini")
    with FakeOpenAI() as fake:
        fake.failures = [401]
        client = llm.LLMClient(model="x", base_url=fake.url, api_key="sk-very-secret")
        with pytest.raises(OwnVoiceError) as error:
            client.chat([{"role": "user", "content": "Hi"}])
    assert "sk-very-secret" not in str(error.value)
    assert fake.requests[0]["auth"] == "Bearer sk-very-secret"


def test_token_estimates_are_in_the_right_range():
    assert 20 <= llm.estimate_tokens("我们需要几个接口，让客户端可以提交任务并拿到一个编号。") <= 30
    assert 15 <= llm.estimate_tokens("We need a few APIs so clients can submit a task and "
                                     "track it.") <= 25
