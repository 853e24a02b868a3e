"""Reverse synthesis through OpenAI's Batch API: half the price, answers within 24 hours.

`submit` sends every request still to make as one batch and records it as a job;
`collect` (run it whenever you like: minutes or a day later) checks the batch and, once
it has completed, turns its results into pairs through the same filters as the direct
mode. A request already in an open batch is never sent twice.

The job row keeps OwnVoice's state (`JobState`): queued or running while OpenAI works on
it (a completed batch stays running until its results are collected), then done, failed
or cancelled; OpenAI's own word is kept in `JobMeta.provider_status`.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict

from engine import jsonl, llm, openai_models
from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind, JobMeta, JobState
from engine.pairs import filters
from engine.pairs.synthesis import (
    SynthConfig,
    SynthReport,
    pending_requests,
    plan,
    request_budget,
)
from engine.translation import prompts


def _custom_id(segment_id: int, style: str) -> str:
    return f"seg-{segment_id}-{style}"


def _parse_custom_id(custom_id: str) -> tuple[int, str]:
    _, segment, style = custom_id.split("-", 2)
    return int(segment), style


def submit(store, config: SynthConfig, *, model: str, base_url: str | None = None) -> Job | None:
    todo = plan(store, config).todo
    waiting = pending_requests(store)
    todo = [(s, style) for s, style in todo if _custom_id(s["id"], style) not in waiting]
    if not todo:
        return None
    lines = []
    for segment, style in todo:
        body = {"model": model,
                "messages": prompts.synth_messages(segment["text"], style,
                                                   user_lang=config.user_lang, into=config.into),
                **openai_models.chat_params(model, base_url=base_url, temperature=0.7,
                                            max_tokens=request_budget(segment["text"]))}
        lines.append(jsonl.line({"custom_id": _custom_id(segment["id"], style),
                                 "method": "POST", "url": "/v1/chat/completions",
                                 "body": body}))
    client = llm.make_openai_client(base_url, llm.key_for(base_url, None), max_retries=3)
    try:
        upload = client.files.create(
            file=("synthesis.jsonl", io.BytesIO("\n".join(lines).encode("utf-8"))),
            purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                      completion_window="24h",
                                      metadata={"app": "ownvoice", "kind": "synthesis"})
    except Exception as exc:
        raise _explained(exc, base_url) from exc
    meta = JobMeta(base_url=base_url, config=asdict(config),
                   custom_ids=[_custom_id(s["id"], st) for s, st in todo],
                   input_file_id=upload.id, provider_status=batch.status)
    return store.add_job(kind=JobKind.BATCH, status=JobState.of_openai_batch(batch.status),
                         provider_id=batch.id, model=model, meta=meta)


def collect(store, job: Job) -> tuple[Job, SynthReport | None]:
    """(the job as saved now, the pairs the batch gave if it completed now; None
    otherwise). A batch whose results were collected is done."""
    base_url = job.meta.base_url
    client = llm.make_openai_client(base_url, llm.key_for(base_url, None), max_retries=3)
    try:
        batch = client.batches.retrieve(job.provider_id)
        if batch.status != "completed":
            return store.update_job(
                job.id, status=JobState.of_openai_batch(batch.status),
                meta=job.meta.replace(provider_status=batch.status,
                                      error=_errors(batch) or job.meta.error)), None
        output = client.files.content(batch.output_file_id).text if batch.output_file_id \
            else ""
    except Exception as exc:
        raise _explained(exc, base_url) from exc
    config = SynthConfig(**{**job.meta.config, "splits": tuple(job.meta.config["splits"])})
    texts = {s["id"]: s for s in store.synth_candidates(user_lang=config.user_lang,
                                                         splits=config.splits)}
    report = SynthReport(planned=len(job.meta.custom_ids or ()))
    for line in output.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        segment_id, style = _parse_custom_id(record["custom_id"])
        response = record.get("response") or {}
        segment = texts.get(segment_id)
        if record.get("error") or response.get("status_code") != 200 or segment is None:
            report.failed += 1
            continue
        body = response["body"]
        usage = body.get("usage") or {}
        cost = llm.cost_usd(job.model, usage.get("prompt_tokens", 0),
                            usage.get("completion_tokens", 0), batch=True)
        text = body["choices"][0]["message"]["content"] or ""
        cleaned, reason = filters.review(
            segment["text"], text, user_lang=config.user_lang, into=config.into,
            others=store.accepted_synthetic(segment_id))
        if store.add_synthetic_pair(segment_id=segment_id, style=style, source_text=cleaned,
                                    target_text=segment["text"], source_lang=config.into,
                                    target_lang=config.user_lang, split=segment["split"],
                                    model=job.model, cost_usd=cost, reject_reason=reason):
            report.done += 1
            report.cost_usd += cost
            report.kept += reason is None
            report.rejected += reason is not None
            if reason:
                key = reason.split(" (")[0]
                report.reasons[key] = report.reasons.get(key, 0) + 1
        else:
            report.already += 1
    done = store.update_job(job.id, status=JobState.DONE,
                            meta=job.meta.replace(provider_status=batch.status))
    return done, report


def _errors(batch) -> str | None:
    """OpenAI's reasons for refusing a batch (its `errors` list), for people."""
    data = getattr(getattr(batch, "errors", None), "data", None) or []
    return "; ".join(e.message for e in data if getattr(e, "message", None)) or None


def _explained(exc: Exception, base_url: str | None) -> Exception:
    import openai

    if isinstance(exc, openai.OpenAIError):
        return llm.explain(exc, base_url or llm.OPENAI_BASE_URL)
    return exc if isinstance(exc, OwnVoiceError) else exc
