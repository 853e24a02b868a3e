"""OwnVoice's Tinker client with the real tinker SDK against a local fake of the service
(tests/tinker_fake.py), which trains a real LoRA on the tiny test model on CPU."""

from __future__ import annotations

import json
import socket
import statistics

import pytest

from engine.errors import OwnVoiceError
from engine.training import data
from engine.training import tinker as tk
from engine.translation import prompts
from tests.tinker_fake import FakeTinker

# Answers the tiny base was not pretrained on: a LoRA has something to learn.
PAIRS = [("Good morning.", "早安，朋友。"), ("Where is the station?", "请问车站在哪？"),
         ("I like tea.", "我很爱喝茶。"), ("It is raining.", "外面在下雨。")]


def records(count: int = 8) -> list[dict]:
    out = []
    for i in range(count):
        source, target = PAIRS[i % len(PAIRS)]
        out.append({"messages": prompts.chat_messages(source, "en", "zh")
                    + [{"role": "assistant", "content": target}],
                    "weight": 2.0 if i == 0 else 1.0})
    return out


@pytest.fixture(scope="module")
def fake(tiny_base, tmp_path_factory):
    with FakeTinker({tk.DEFAULT_BASE: tiny_base}, tmp_path_factory.mktemp("tinker")) as running:
        yield running


@pytest.fixture(scope="module")
def run(fake, tiny_base):
    return tk.TinkerRun(base_model=tk.DEFAULT_BASE, tokenizer=str(tiny_base), rank=8,
                        learning_rate=1e-2, epochs=3, batch_size=4, base_url=fake.base_url)


@pytest.fixture(scope="module")
def trained(fake, run):
    batch = tk.datums(records(), run)
    before, steps = fake.trained_tokens, []
    done = tk.train(run, batch, api_key=fake.api_key,
                    on_step=lambda step, total, loss: steps.append((step, total, loss)))
    return done, batch, fake.trained_tokens - before, steps


def test_weights_cover_the_answer_only_shifted_for_cross_entropy(run):
    tokenizer = tk.load_tokenizer(run)
    record = records()[0]
    example = data.encode(tokenizer, record, run.max_length)
    (datum,) = tk.datums([record], run)
    inputs = datum.model_input.to_ints()
    targets = datum.loss_fn_inputs["target_tokens"].data
    weights = datum.loss_fn_inputs["weights"].data
    assert inputs == example.input_ids[:-1] and targets == example.input_ids[1:]
    answer = [i for i, label in enumerate(example.labels) if label != data.IGNORE]
    # target i is token i + 1: weighted exactly where that token is the answer's
    assert [i + 1 for i, w in enumerate(weights) if w] == answer
    assert set(weights) == {0.0, 2.0}
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")  # the end of turn is trained too
    assert [w for t, w in zip(targets, weights, strict=True) if t == end][-1] == 2.0


def test_training_bills_what_the_estimate_said_and_the_loss_falls(trained, run):
    done, batch, sent, steps = trained
    estimate = tk.estimate(batch, run)
    assert estimate.train_tokens == sent == sum(len(d.model_input.to_ints())
                                                for d in batch) * 3
    assert estimate.steps == done.steps == len(done.losses) == 6
    assert estimate.usd == pytest.approx(sent * 0.22 / 1e6)
    assert [s[:2] for s in steps] == [(i, 6) for i in range(1, 7)]
    assert statistics.mean(done.losses[-3:]) < statistics.mean(done.losses[:3])
    assert done.sampler_path.startswith(f"tinker://{done.model_id}/sampler_weights/")
    assert "/external_weights/" in done.external_path and "/weights/" in done.state_path


def test_sessions_close_with_success_and_no_unembed_is_trained(trained, fake):
    done = trained[0]
    assert fake.runs[done.model_id].lora["train_unembed"] is False
    assert all(s["finished"]["reason"]["type"] == "success" for s in fake.sessions.values()
               if s.get("finished"))


def test_sampling_the_pilot_and_the_base(trained, fake, run):
    done = trained[0]
    messages = prompts.chat_messages("Good morning.", "en", "zh")
    before = fake.sampled_tokens
    answers = tk.sample(run, done.sampler_path, [messages, messages], api_key=fake.api_key,
                        max_tokens=12)
    assert len(answers) == 2 and answers[0] == answers[1] and answers[0]  # greedy
    assert "<|im_end|>" not in answers[0]
    assert 0 < fake.sampled_tokens - before <= 24
    assert tk.sample(run, tk.DEFAULT_BASE, [messages], api_key=fake.api_key, max_tokens=12)


def test_the_downloaded_adapter_loads_in_peft_and_merges(trained, fake, run, tiny_base,
                                                         tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from engine.training import export

    folder = tk.download_adapter(run, trained[0].external_path, tmp_path / "adapter",
                                 api_key=fake.api_key)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 8
    assert config["base_model_name_or_path"] == str(tiny_base)
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"}
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base),
                                      str(folder))
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(torch.count_nonzero(p) for p in lora_b)  # the trained values
    merged, parameters = export.merge(str(tiny_base), folder, tmp_path / "merged")
    assert (merged / "model.safetensors").exists() and parameters > 0


def test_the_openai_compatible_endpoint_translates_with_the_pilot(trained, fake):
    from engine.translation.backends import Request, Sampling, Usage
    from engine.translation.backends.openai_compat import OpenAIBackend

    backend = OpenAIBackend(model=trained[0].sampler_path,
                            base_url=tk.openai_base_url(fake.base_url), api_key=fake.api_key)
    pieces = list(backend.stream(Request(
        max_tokens=16, messages=prompts.chat_messages("Good morning.", "en", "zh"),
        sampling=Sampling(temperature=0.0))))
    usage = pieces[-1]
    assert isinstance(usage, Usage) and usage.prompt_tokens > 10
    assert 0 < usage.completion_tokens <= 16
    assert "".join(pieces[:-1]).strip()
    reply = backend.client.chat.completions.create(
        model=tk.DEFAULT_BASE, max_tokens=4, temperature=0,
        messages=prompts.chat_messages("Good morning.", "en", "zh"))
    assert reply.usage.completion_tokens <= 4


def test_a_wrong_key_or_no_service_is_one_line(fake, run):
    batch = tk.datums(records(1), run)
    with pytest.raises(OwnVoiceError) as refused:
        tk.train(run, batch, api_key="tml-wrong")
    assert "key" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(OwnVoiceError, match="refused the API key"):
        tk.sample(run, tk.DEFAULT_BASE, [[{"role": "user", "content": "x"}]],
                  api_key="not-a-tinker-key")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = tk.TinkerRun(base_model=run.base_model, tokenizer=run.tokenizer,
                          base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(OwnVoiceError, match="Cannot reach Tinker"):
        tk.train(closed, batch, api_key=fake.api_key)


def test_stopping_saves_a_resumable_state(fake, run):
    batch = tk.datums(records(), run)
    done = tk.train(run, batch, api_key=fake.api_key, stop=lambda: True)
    assert done.steps == 1 and done.sampler_path is None
    assert done.state_path == f"tinker://{done.model_id}/weights/step-1"


def test_prices_are_dated_and_the_data_folder_overrides_them(ownvoice_home):
    price = tk.prices(tk.DEFAULT_BASE)
    assert price["train"] == 0.22 and price["prefill"] == 0.07 and price["read_on"]
    from importlib import resources

    assert set(tk.BASES) <= set(json.loads(
        (resources.files("resources") / tk.PRICES_FILE).read_text())["models"])
    with pytest.raises(OwnVoiceError, match="Qwen/Qwen3-8B"):
        tk.prices("nope/model")
    ownvoice_home.mkdir(parents=True, exist_ok=True)
    (ownvoice_home / tk.PRICES_FILE).write_text(json.dumps(
        {"read_on": "2027-01-01", "models": {"nope/model": {"prefill": 1, "sample": 2,
                                                            "train": 3}}}))
    assert tk.prices("nope/model") == {"prefill": 1, "sample": 2, "train": 3,
                                       "read_on": "2027-01-01"}


def test_a_billing_refusal_is_one_line(fake, run):
    fake.fail_next("/api/v1/create_model", 402, {"detail": "no credit"}, times=50)
    try:
        with pytest.raises(OwnVoiceError, match="billing"):
            tk.train(run, tk.datums(records(1), run), api_key=fake.api_key)
    finally:
        fake.failures.clear()


def test_bases_and_urls():
    assert tk.openai_base_url("http://h:1/x/") == "http://h:1/x/oai/api/v1"
    assert tk.tokenizer_for(tk.DEFAULT_BASE) == tk.DEFAULT_BASE
    with pytest.raises(OwnVoiceError, match="tokenizer"):
        tk.tokenizer_for("nope/model")
