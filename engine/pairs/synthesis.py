"""Reverse synthesis: the user's paragraphs, machine-translated the other way, become pairs.

Input of a pair = the machine's translation of the user's paragraph (into the language
they translate from); expected output = the user's original paragraph. Each paragraph is
translated in several prompt styles. Every result is written as it arrives, in its own
transaction, and a unique index forbids a second pair for the same paragraph and style:
kill the run at any moment, start it again, and it continues with the rest — no pair
lost, none duplicated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from engine.errors import OwnVoiceError
from engine.jobs import Job, JobKind
from engine.llm import LLMClient, estimate_tokens
from engine.pairs import filters
from engine.translation import guards, prompts

STYLE_ORDER = list(prompts.SYNTH_STYLES)  # --styles N takes the first N


@dataclass
class SynthConfig:
    user_lang: str  # the language the user writes in (the pairs' target)
    into: str  # the language the machine translates into (the pairs' source)
    styles: list[str] = field(default_factory=lambda: ["plain"])
    splits: tuple[str, ...] = ("train", "val", "test")
    limit: int | None = None  # at most this many paragraphs

    def __post_init__(self) -> None:
        unknown = [s for s in self.styles if s not in prompts.SYNTH_STYLES]
        if unknown:
            raise OwnVoiceError(f"Unknown style(s) {unknown}; known: {STYLE_ORDER}")
        if self.user_lang == self.into:
            raise OwnVoiceError("The synthetic translations must be in another language than "
                                "your writing: pass --into LANG.")


@dataclass
class SynthReport:
    planned: int = 0  # requests this run had to make
    done: int = 0
    kept: int = 0
    rejected: int = 0
    already: int = 0  # pairs from earlier runs (skipped)
    too_long: int = 0  # paragraphs too long for one request (left out)
    failed: int = 0  # requests that failed for good (they are retried on the next run)
    cost_usd: float = 0.0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def pairs_per_minute(self) -> float:
        return self.done / self.seconds * 60 if self.seconds else 0.0

    def as_json(self) -> dict:
        return {**asdict(self), "pairs_per_minute": round(self.pairs_per_minute, 1)}


Progress = Callable[[SynthReport], None]


def open_batches(store) -> list[Job]:
    """Batches OpenAI is still working on, or whose results are still to collect."""
    return [job for job in store.jobs(kind=JobKind.BATCH) if job.status.active]


def pending_requests(store) -> set[str]:
    """The custom ids of the requests waiting in an open batch."""
    return {cid for job in open_batches(store) for cid in job.meta.custom_ids or ()}


def request_budget(text: str) -> int:
    """The output budget (tokens) of one synthesis request for a paragraph."""
    return guards.max_new_tokens(estimate_tokens(text))


def fits(text: str) -> bool:
    """Whether a paragraph's request stays under guards.REQUEST_TOKEN_CEILING (prompt and
    budget): a megabyte "paragraph" never becomes a request with a budget of millions."""
    return estimate_tokens(text) + request_budget(text) <= guards.REQUEST_TOKEN_CEILING


class Plan(NamedTuple):
    todo: list[tuple[dict, str]]  # (paragraph, style) requests still to make
    already: int  # pairs made by earlier runs, or waiting in an open batch
    too_long: int  # paragraphs left out: too long for one request (split them in the post)


def plan(store, config: SynthConfig) -> Plan:
    """The requests still to make, and what is left out and why."""
    segments = store.synth_candidates(user_lang=config.user_lang, splits=config.splits,
                                      limit=config.limit)
    done = store.synthetic_done()
    # Requests waiting in an open Batch API job are not made a second time.
    waiting = pending_requests(store)
    todo, already, too_long = [], 0, 0
    for segment in segments:
        if not fits(segment["text"]):
            too_long += 1
            continue
        for style in config.styles:
            if (segment["id"], style) in done or f"seg-{segment['id']}-{style}" in waiting:
                already += 1
            else:
                todo.append((segment, style))
    return Plan(todo, already, too_long)


def run(store, client: LLMClient, config: SynthConfig, *, progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None) -> SynthReport:
    todo, already, too_long = plan(store, config)
    report = SynthReport(planned=len(todo), already=already, too_long=too_long)
    start = time.perf_counter()
    pending: dict[Future, tuple[dict, str]] = {}
    queue = iter(todo)

    def top_up() -> None:
        while len(pending) < client.concurrency * 2:
            if cancelled is not None and cancelled():
                return
            item = next(queue, None)
            if item is None:
                return
            segment, style = item
            messages = prompts.synth_messages(segment["text"], style, user_lang=config.user_lang,
                                              into=config.into)
            future = client.submit(messages, max_tokens=request_budget(segment["text"]),
                                   temperature=0.7)
            pending[future] = item

    top_up()
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            segment, style = pending.pop(future)
            try:
                result = future.result()
            except OwnVoiceError as exc:
                report.failed += 1
                if str(exc) not in report.errors:
                    report.errors.append(str(exc))
                continue
            output, reason = filters.review(
                segment["text"], result.text, user_lang=config.user_lang, into=config.into,
                others=store.accepted_synthetic(segment["id"]))
            store.add_synthetic_pair(
                segment_id=segment["id"], style=style, source_text=output,
                target_text=segment["text"], source_lang=config.into,
                target_lang=config.user_lang, split=segment["split"], model=client.model,
                cost_usd=result.cost_usd, reject_reason=reason)
            report.done += 1
            report.cost_usd += result.cost_usd
            if reason:
                report.rejected += 1
                key = reason.split(" (")[0]
                report.reasons[key] = report.reasons.get(key, 0) + 1
            else:
                report.kept += 1
            report.seconds = time.perf_counter() - start
            if progress is not None:
                progress(report)
        if report.failed and report.failed >= 5 and report.done == 0:
            break  # the endpoint is down or the key is wrong: no point sending the rest
        top_up()
    report.seconds = time.perf_counter() - start
    return report
