"""The OpenAI-compatible backend against a real server on loopback (llama-cpp-python's)."""

from __future__ import annotations

import json

import pytest

from engine.errors import OwnVoiceError
from engine.translation import prompts, registry
from engine.translation.backends import Request, Sampling, Usage
from engine.translation.backends.openai_compat import OpenAIBackend
from engine.translation.guards import StopReason
from tests.conftest import run_ownvoice
from tests.llama_server import LlamaServer, free_port


@pytest.fixture(scope="module")
def server(smol_file):
    with LlamaServer(smol_file, alias="smol", api_key="sk-test-123") as running:
        yield running


def test_streams_a_chat_translation_with_usage(server):
    backend = OpenAIBackend(model="smol", base_url=server.url, api_key="sk-test-123")
    request = Request(max_tokens=30, messages=prompts.chat_messages("Hello.", "en", "fr"),
                      sampling=Sampling(temperature=0.0))
    pieces = list(backend.stream(request))
    usage = pieces[-1]
    assert isinstance(usage, Usage)
    text = "".join(p for p in pieces[:-1])
    assert text.strip()
    assert usage.prompt_tokens > 10 and usage.completion_tokens > 0
    assert usage.finish_reason in ("stop", "length")
    assert isinstance(usage.finish_reason, StopReason)


def test_a_cut_at_the_token_budget_is_length(server):
    backend = OpenAIBackend(model="smol", base_url=server.url, api_key="sk-test-123")
    request = Request(max_tokens=2, sampling=Sampling(temperature=0.0),
                      messages=prompts.chat_messages("The weather is nice today, so we walked "
                                                     "to the harbour.", "en", "fr"))
    usage = list(backend.stream(request))[-1]
    assert usage.finish_reason == StopReason.LENGTH  # the server's own finish_reason


def test_a_wrong_key_and_a_dead_server_say_what_to_do(server):
    bad = OpenAIBackend(model="smol", base_url=server.url, api_key="wrong")
    request = Request(max_tokens=5, messages=prompts.chat_messages("Hi", "en", "fr"))
    with pytest.raises(OwnVoiceError, match="refused the API key|answered 401"):
        list(bad.stream(request))
    dead = OpenAIBackend(model="x", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=3)
    dead.client = dead.client.with_options(max_retries=0)
    with pytest.raises(OwnVoiceError, match="Cannot reach"):
        list(dead.stream(request))


def test_openai_itself_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(OwnVoiceError, match="ownvoice keys set openai"):
        OpenAIBackend(model="gpt-4o-mini")


def test_an_endpoint_model_translates_from_the_cli_with_its_key_in_the_keyring(
        server, default_model, tmp_path, ownvoice_home):
    keyring_env = {"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring",
                   "OWNVOICE_TEST_KEYRING": str(tmp_path / "keyring.json")}
    run_ownvoice("keys", "set", "local-server", input="sk-test-123\n", env=keyring_env)
    run_ownvoice("models", "add", server.url, "--model-id", "smol", "--name", "server",
                 "--key", "local-server", "--use", env=keyring_env)
    result = json.loads(run_ownvoice("translate", "--text", "Good morning.", "--to", "fr",
                                     "--json", env=keyring_env).stdout)
    assert result["model"] == "server" and result["output"].strip()
    assert result["settings"]["backend"] == "openai"
    assert result["tokens_in"] > 10
    # The key is in the keyring, and nowhere in the database.
    assert "sk-test-123" in (tmp_path / "keyring.json").read_text()
    for path in ownvoice_home.glob("ownvoice.db*"):
        assert b"sk-test-123" not in path.read_bytes()


def test_models_open_the_right_backend(store, default_model, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    row = registry.add(store, "openai:gpt-4o-mini")
    backend = registry.open_backend(row)
    assert isinstance(backend, OpenAIBackend)
    assert backend.is_openai and backend.client.api_key == "sk-from-env"


def test_a_huge_paragraph_goes_in_pieces_and_a_huge_sentence_is_refused(store, default_model):
    """The same size guard as a local model: no request with a multi-million-token budget
    (the audit saw max_tokens 3.5 million) ever leaves this machine. A long paragraph is cut
    at sentence ends into requests under the ceiling; one sentence longer than that is
    refused before anything is sent."""
    from engine.translation.translate import Translator
    from tests.openai_fake import FakeOpenAI

    with FakeOpenAI() as fake:
        backend = OpenAIBackend(model="gpt-4o-mini", base_url=fake.url, api_key="sk-x")
        endless = "and then the paragraph goes on " * 60000  # ~1.9 MB, not one sentence end
        with pytest.raises(OwnVoiceError, match="too long to translate in one piece.*Split"):
            Translator(backend).translate(endless, source="en", target="fr")
        assert fake.requests == []
        long = "This sentence is part of a paragraph that goes on and on. " * 600
        result = Translator(backend).translate(long, source="en", target="fr")
        budgets = [r["body"]["max_tokens"] for r in fake.requests]
        assert 1 < len(budgets) < 10 and max(budgets) < backend.context_tokens
        assert any("pieces" in w for w in result.warnings)
