"""A fine-tuned model's prompt is the short one: the direction only, the same in its training
data and in every request it gets; models from before keep the instruction they learnt."""

from __future__ import annotations

import json

from engine import languages
from engine.corpus.importer import import_paths
from engine.jobs import JobKind, JobState
from engine.training import pipeline
from engine.translation import prompts, registry
from engine.translation.backends import Request
from engine.translation.translate import Translator
from tests.test_dataset import make_pairs


def _job_with_gguf(store, blog, smol_file):
    make_pairs(store, blog)
    job = pipeline.prepare(store, base_model=str(smol_file), max_steps=1)
    return store.job(job.id)


def test_a_job_trains_on_the_voice_prompt_and_its_model_is_prompted_with_it(
        store, blog, smol_file, tmp_path):
    job = _job_with_gguf(store, blog, smol_file)
    assert job.meta.prompt == prompts.VOICE
    lines = [json.loads(line) for line in
             (pipeline.job_dir(job.id) / "train.jsonl").read_text().splitlines()]
    assert {line["messages"][0]["content"] for line in lines} == {"English → Chinese"}

    row = pipeline.register(store, job, gguf=str(smol_file), sha256=None,
                            base_model="SmolLM2-135M")
    assert row["meta"]["prompt"] == prompts.VOICE
    backend = registry.open_backend(row)
    try:
        assert backend.voice_prompt
        request = Translator(backend).request_for("Good morning.", "en", "zh")
        assert request.messages == lines[0]["messages"][:1] + [
            {"role": "user", "content": "Good morning."}]
        # The retry that insists on placeholders still says so.
        strict = Translator(backend).request_for("⟦1⟧Hi⟦2⟧", "en", "zh", strict=True)
        assert strict.messages[0]["content"].startswith("English → Chinese Keep every marker")
    finally:
        backend.close()


def test_a_model_trained_before_the_voice_prompt_keeps_the_instruction(store, blog, smol_file):
    job = _job_with_gguf(store, blog, smol_file)
    job = store.update_job(job.id, status=JobState.PREPARED, meta=job.meta.replace(prompt=None))
    row = pipeline.register(store, job, gguf=str(smol_file), sha256=None, base_model="x")
    assert "prompt" not in row["meta"]
    backend = registry.open_backend(row)
    try:
        messages = Translator(backend).request_for("Good morning.", "en", "zh").messages
        assert messages[0]["content"] == prompts.system_prompt("en", "zh")
        assert messages[0]["content"].startswith("Translate the following text")
    finally:
        backend.close()


def test_the_voice_prompt_costs_a_few_tokens_in_every_direction(store, blog, smol_file):
    """Tokens the model reads beyond the paragraph itself and the chat template's own: a
    handful for the voice prompt in every direction, against the instruction's and the
    retrieval few-shot baseline's (benchmarks/translate.py measures the ratio on a blog)."""
    import_paths(store, [blog])
    examples = [s["text"] for s in store.segments(kind="prose", lang="zh", limit=8)]
    assert len(examples) == 8
    text = "I started waking up an hour earlier, not to work more, but to do nothing."
    row = registry.add(store, str(smol_file), name="voice-like", prompt=prompts.VOICE)
    backend = registry.open_backend(row)
    try:
        def tokens(messages):
            return len(backend.prompt_tokens(Request(max_tokens=1, messages=messages))[0])

        bare = tokens([{"role": "system", "content": ""}, {"role": "user", "content": text}])
        for source in languages.NAMES:
            for target in languages.NAMES:
                if source != target:
                    voice = Translator(backend).request_for(text, source, target).messages
                    assert tokens(voice) - bare <= 8, (source, target, voice[0])
        voice = tokens(Translator(backend).request_for(text, "en", "zh").messages) - bare
        instruction = tokens(prompts.chat_messages(text, "en", "zh")) - bare
        few_shot = tokens(prompts.style_examples_messages(text, "en", "zh", examples)) - bare
    finally:
        backend.close()
    assert voice * 4 <= instruction and voice * 40 <= few_shot, (voice, instruction, few_shot)


def test_the_job_kinds_that_register_endpoint_models_keep_the_prompt_too(store, smol_file):
    job = store.add_job(kind=JobKind.PILOT, status=JobState.DONE, provider_id="ftjob-1",
                        model="gpt-4.1-mini")
    job = store.update_job(job.id, status=JobState.DONE, result="ft:gpt-4.1-mini:me::abc",
                           meta=job.meta.replace(prompt=prompts.VOICE,
                                                 base_url="http://127.0.0.1:9/v1"))
    from engine.pairs import pilot

    row = pilot.use(store, job)
    assert row["meta"]["prompt"] == prompts.VOICE
    assert registry.open_backend(row).voice_prompt
