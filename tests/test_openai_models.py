"""Today's OpenAI: each model family gets the parameters it accepts (the stand-in enforces
OpenAI's documented rules with its own table), Retry-After in any form never crashes, and
shutdown dates from GET /v1/models become warnings and retired models."""

from __future__ import annotations

import json
from datetime import date

import pytest

from engine import llm, openai_models
from engine.errors import OwnVoiceError
from engine.openai_models import Retirement, chat_params, retirements
from engine.translation.backends import Request, Sampling
from engine.translation.backends.openai_compat import OpenAIBackend
from tests.openai_fake import FakeOpenAI, refusal

OPENAI = None  # base_url None: api.openai.com's rules


@pytest.mark.parametrize("model", ["gpt-6-luna", "gpt-6-sol", "gpt-6.1-sol", "gpt-6-astra",
                                   "gpt-6.2-sol", "o3", "o4-mini-2025-04-16",
                                   "gpt-6.1-terra", "gpt-5.6-luna", "gpt-5-mini",
                                   "gpt-4o-mini-2024-07-18", "gpt-4.1",
                                   "ft:gpt-4o-mini-2024-07-18:org:ownvoice:abc123"])
def test_every_family_gets_parameters_openai_accepts(model):
    params = chat_params(model, base_url=OPENAI, max_tokens=300, temperature=0.7, top_p=0.9)
    assert refusal({"model": model, **params}) is None, params
    assert params["max_completion_tokens"] == 300 and "max_tokens" not in params


def test_the_defaults_translate_without_reasoning_and_keep_their_temperature():
    luna = chat_params(openai_models.SYNTHESIS_MODEL, base_url=OPENAI, max_tokens=100,
                       temperature=0.7)
    assert luna == {"temperature": 0.7, "reasoning_effort": "none",
                    "max_completion_tokens": 100}
    sol = chat_params(openai_models.BASELINE_MODEL, base_url=OPENAI, max_tokens=100,
                      temperature=0.3)
    assert sol["reasoning_effort"] == "none" and sol["temperature"] == 0.3
    # gpt-6.1-sol has no "none": the least effort, and no sampling parameters at all.
    assert chat_params("gpt-6.1-sol", base_url=OPENAI, max_tokens=100, temperature=0.3) == {
        "reasoning_effort": "low", "max_completion_tokens": 100}
    # A local server (llama.cpp, vLLM) keeps the classic form; an OpenAI reasoning model
    # behind another address (a proxy) keeps its own.
    assert chat_params("qwen2.5-7b", base_url="http://127.0.0.1:8080/v1", max_tokens=100,
                       temperature=0.3) == {"temperature": 0.3, "max_tokens": 100}
    assert chat_params("gpt-6-luna", base_url="http://127.0.0.1:4000/v1", max_tokens=100,
                       temperature=0.3) == luna | {"temperature": 0.3}


def _real_base_url(monkeypatch, fake):
    """Make the stand-in *be* api.openai.com for the rules (its address stays loopback)."""
    monkeypatch.setattr(openai_models, "OPENAI_BASE_URL", fake.url)
    monkeypatch.setattr(llm, "OPENAI_BASE_URL", fake.url)


@pytest.mark.parametrize("model", ["gpt-6-luna", "gpt-6.1-sol", "gpt-4o-mini"])
def test_the_client_and_the_backend_are_accepted_for_each_family(model, monkeypatch,
                                                                   ownvoice_home):
    with FakeOpenAI(reply=lambda m: "Fine.") as fake:
        _real_base_url(monkeypatch, fake)
        client = llm.LLMClient(model=model, base_url=fake.url, api_key="k", backoff=0)
        assert client.chat([{"role": "user", "content": "hi"}], temperature=0.7).text == "Fine."
        backend = OpenAIBackend(model=model, base_url=fake.url, api_key="k")
        request = Request(max_tokens=50, messages=[{"role": "user", "content": "hi"}],
                          sampling=Sampling(temperature=0.3, top_p=1.0))
        assert "".join(p for p in backend.stream(request) if isinstance(p, str)) == "Fine."
    bodies = [r["body"] for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert len(bodies) == 2 and all(refusal(b) is None for b in bodies)


def test_an_unknown_reasoning_model_is_learnt_from_its_refusal(monkeypatch, ownvoice_home):
    import tests.openai_fake as fake_module

    monkeypatch.setitem(fake_module._EFFORTS, "gpt-7-nova", ("low", "medium"))  # a future one
    with FakeOpenAI(reply=lambda m: "Fine.") as fake:
        _real_base_url(monkeypatch, fake)
        client = llm.LLMClient(model="gpt-7-nova", base_url=fake.url, api_key="k", backoff=0)
        for _ in range(2):
            assert client.chat([{"role": "user", "content": "hi"}]).text == "Fine."
    bodies = [r["body"] for r in fake.requests]
    assert "temperature" in bodies[0] and refusal(bodies[0]) is not None  # refused once…
    assert [b.get("reasoning_effort") for b in bodies[1:]] == ["low", "low"]  # …then learnt


@pytest.mark.parametrize("header", ["-1", "1.5", "later", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_any_retry_after_is_waited_out_never_a_crash(header, ownvoice_home, monkeypatch):
    slept = []
    monkeypatch.setattr(llm.time, "sleep", slept.append)
    with FakeOpenAI(reply=lambda m: "Fine.", retry_after=header) as fake:
        _real_base_url(monkeypatch, fake)
        fake.failures = [429, 429]
        client = llm.LLMClient(model="gpt-6-luna", base_url=fake.url, api_key="k")
        assert client.chat([{"role": "user", "content": "hi"}]).text == "Fine."
    assert len(slept) == 2 and all(0 <= s <= 60 for s in slept), slept
    assert client.usage.retries == 2


@pytest.mark.parametrize("header, waits", [("5", [5.0, 5.0]), ("Sat, 01 Jan 2000 00:00:00 GMT",
                                                               [0.0, 0.0])])
def test_a_valid_retry_after_is_what_is_waited(header, waits, ownvoice_home, monkeypatch):
    slept = []
    monkeypatch.setattr(llm.time, "sleep", slept.append)
    with FakeOpenAI(reply=lambda m: "Fine.", retry_after=header) as fake:
        fake.failures = [429, 429]
        llm.LLMClient(model="gpt-4o-mini", base_url=fake.url, api_key="k",
                      backoff=100).chat([{"role": "user", "content": "hi"}])
    # "5" is five seconds; a date in the past is now — never the client's own backoff
    # (100 s here), which is for a server that says nothing.
    assert slept == waits


def test_a_model_without_none_is_learnt_from_refusing_it(monkeypatch, ownvoice_home):
    import tests.openai_fake as fake_module

    # A future Sol our table takes for a "none" family; the stand-in knows better.
    monkeypatch.setitem(fake_module._EFFORTS, "gpt-6.3-sol", ("low", "medium"))
    with FakeOpenAI(reply=lambda m: "Fine.") as fake:
        _real_base_url(monkeypatch, fake)
        client = llm.LLMClient(model="gpt-6.3-sol", base_url=fake.url, api_key="k", backoff=0)
        assert client.chat([{"role": "user", "content": "hi"}]).text == "Fine."
    bodies = [r["body"] for r in fake.requests]
    assert bodies[0]["reasoning_effort"] == "none" and refusal(bodies[0])
    assert bodies[1]["reasoning_effort"] == "low" and "temperature" not in bodies[1]


def test_prices_are_current_and_count_cached_input_and_batch(ownvoice_home):
    assert llm.cost_usd("gpt-6-luna", 1_000_000, 1_000_000) == pytest.approx(0.60)
    assert llm.cost_usd("gpt-6-luna", 1_000_000, 0, cached_tokens=1_000_000) == \
        pytest.approx(0.01)
    assert llm.cost_usd("gpt-6-sol", 1_000_000, 1_000_000, batch=True) == pytest.approx(6.0)
    assert llm.cost_usd("gpt-6.1-sol-2026-09-29", 0, 1_000_000) == pytest.approx(10.0)
    table = llm.price_table()
    assert table["batch_discount"] == 0.5 and table["read_on"] >= "2026-11-30"
    assert "gpt-4.1-nano" not in table["models"]  # shut down 2026-10-23


def test_shutdown_dates_are_read_once_a_day_and_become_warnings(ownvoice_home, monkeypatch):
    models = {"gpt-6-luna": None, "gpt-4o-mini-2024-07-18": "2027-01-14",
              "ft:gpt-4o-mini-2024-07-18:org-test:ownvoice:abc123": "2027-01-14",
              "gpt-5-mini": "2026-12-11"}
    with FakeOpenAI(models=models) as fake:
        dates = llm.shutdown_dates(fake.url)
        again = llm.shutdown_dates(fake.url)  # from the cache: no second request
        assert [r["path"] for r in fake.requests] == ["/v1/models"]
    assert dates == again == {k: v for k, v in models.items() if v}
    cached = json.loads((ownvoice_home / openai_models.CACHE_FILE).read_text())
    assert cached[fake.url]["models"] == dates == openai_models.cached(fake.url)

    used = ["gpt-6-luna", "gpt-4o-mini-2024-07-18", "gpt-5-mini",
            "ft:gpt-4o-mini-2024-07-18:org-test:ownvoice:other"]  # no date of its own
    found = retirements(used, dates=dates, today=date(2026, 11, 30))
    assert [(r.model, r.days_left) for r in found] == [
        ("gpt-5-mini", 11), ("ft:gpt-4o-mini-2024-07-18:org-test:ownvoice:other", 45),
        ("gpt-4o-mini-2024-07-18", 45)]
    assert found[2].replacement == "gpt-6-luna"
    assert "shuts down on 2027-01-14 (in 45 days). OpenAI recommends gpt-6-luna" in \
        found[2].message()
    assert "retrain" in found[1].message()
    past = retirements(used, dates=dates, today=date(2027, 1, 20))
    assert all(r.retired for r in past) and "was shut down" in past[0].message()
    assert retirements(used, dates=dates, today=date(2026, 8, 1)) == []  # > 90 days away


def test_an_unreachable_api_keeps_the_last_answer(ownvoice_home):
    with FakeOpenAI(models={"gpt-4o": "2027-01-14"}) as fake:
        url = fake.url
        assert llm.shutdown_dates(url) == {"gpt-4o": "2027-01-14"}
    # The server is gone; a stale cache is still the best answer, and nothing raises.
    assert llm.shutdown_dates(url, max_age_s=0) == {"gpt-4o": "2027-01-14"}
    assert llm.shutdown_dates("http://127.0.0.1:9/v1") == {}
    cache = json.loads((ownvoice_home / openai_models.CACHE_FILE).read_text())
    assert cache["http://127.0.0.1:9/v1"]["failed"] is True  # not asked again for an hour


def test_retirement_messages_are_one_line():
    line = Retirement("gpt-4o", date(2027, 1, 14), 1, "gpt-6-luna").message()
    assert "\n" not in line and "(in 1 day)" in line


def test_openai_refusing_a_fine_tuning_job_says_so_in_one_line(store, blog, ownvoice_home):
    from engine.pairs import pilot
    from tests.test_pilot import make_pairs

    make_pairs(store, blog)
    plan = pilot.prepare(store, pairs=12, base_url="http://127.0.0.1:9/v1")
    with FakeOpenAI(fine_tuning_open=False) as fake, pytest.raises(OwnVoiceError) as caught:
        pilot.start(store, plan, base_url=fake.url)
    message = str(caught.value)
    assert "no longer lets this organisation start fine-tuning" in message
    assert "\n" not in message and store.jobs() == []
    with pytest.raises(OwnVoiceError, match="no longer lets"):
        pilot.prepare(store, pairs=12, today=date(2027, 1, 6))  # OpenAI itself: closed


def test_the_command_line_warns_marks_and_refuses_retired_models(store, ownvoice_home):
    """A registered endpoint model within 90 days of its shutdown is warned about; one past
    it is listed as retired and refused (one line) instead of failing with 404s."""
    from datetime import timedelta

    from engine.translation import registry
    from tests.conftest import run_ownvoice

    soon = (date.today() + timedelta(days=45)).isoformat()
    gone = (date.today() - timedelta(days=1)).isoformat()
    with FakeOpenAI(models={"gpt-4o-mini-2024-07-18": soon, "gpt-4.1-mini": gone,
                            "gpt-6-luna": None}) as fake:
        for model in ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini", "gpt-6-luna"):
            registry.add(store, f"openai:{model}", base_url=fake.url, key_name="openai")
        registry.add(store, "http://127.0.0.1:9/v1", model_id="local", name="local")
        listed = run_ownvoice("models", "list")
        asked = json.loads((ownvoice_home / openai_models.CACHE_FILE).read_text())
        assert list(asked) == [fake.url]  # a local server is never asked for dates
        rows = {r["name"]: r for r in json.loads(
            run_ownvoice("models", "list", "--json").stdout)}
    assert f"Warning: gpt-4o-mini-2024-07-18 shuts down on {soon} (in 45 days). OpenAI " \
           "recommends gpt-6-luna instead." in listed.stderr
    assert f"gpt-4.1-mini was shut down on {gone}" in listed.stderr
    assert f"[retired {gone}]" in listed.stdout and f"[shuts down {soon}]" in listed.stdout
    assert (rows["gpt-4.1-mini"]["retired"], rows["gpt-6-luna"]["shutdown_date"]) == (True, None)
    refused = run_ownvoice("translate", "--model", "gpt-4.1-mini", "--text", "你好", "--to", "en",
                           check=False)
    assert refused.returncode == 1 and "was shut down" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    run_ownvoice("models", "remove", "gpt-4.1-mini", input="y\n")  # a retired one goes too


def test_the_app_shows_a_banner_and_stops_offering_retired_models(qtbot, window, store):
    from datetime import timedelta

    from engine.translation import registry

    soon = (date.today() + timedelta(days=30)).isoformat()
    gone = (date.today() - timedelta(days=3)).isoformat()
    with FakeOpenAI(models={"gpt-4o-2024-11-20": soon, "gpt-4.1-2025-04-14": gone}) as fake:
        registry.add(store, "openai:gpt-4o-2024-11-20", base_url=fake.url, key_name="openai")
        registry.add(store, "openai:gpt-4.1-2025-04-14", base_url=fake.url, key_name="openai")
        window.hub.models_changed.emit()
        assert window.translate_page.model_combo.findText("gpt-4.1-2025-04-14") >= 0
        window.check_retirements()
        qtbot.waitUntil(window.retirement_banner.isVisible, timeout=10000)
    text = window.retirement_banner.text()
    assert f"gpt-4o-2024-11-20 shuts down on {soon} (in 30 days)" in text
    assert "recommends gpt-6-luna" in text and f"was shut down on {gone}" in text
    combo = window.translate_page.model_combo
    assert combo.findText("gpt-4.1-2025-04-14") == -1 and combo.findText("gpt-4o-2024-11-20") >= 0
