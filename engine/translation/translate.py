"""Translate a document with one model, paragraph by paragraph, and remember it.

The document keeps its shape (engine.translation.document); each paragraph goes to the backend
with the prompt its style needs (chat template or few-shot completion), streams back
through the guards, and the whole translation lands in the history with its timings.
Every paragraph's result says why its generation ended (`stop_reason`, a
guards.StopReason), and so does the document's; warnings are for people to read.

A backend that decodes several requests at once (`Backend.parallel` > 1: a local model's
batched decoder) gets that many paragraphs at a time, each on its own worker thread with
its own guards and retries; the text still reaches `on_text` in the document's order, from
the calling thread (engine.translation.in_order).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

from engine import languages
from engine.corpus import lang as langdetect
from engine.errors import OwnVoiceError
from engine.translation import document, guards, prompts, protect
from engine.translation.backends import Backend, Request, Sampling, Usage
from engine.translation.guards import StopReason
from engine.translation.in_order import InOrder

# "Show me another": a second translation that differs where the model hesitates (the
# model's other sampling settings, e.g. its repeat penalty, stay as they are).
ANOTHER_TEMPERATURE, ANOTHER_TOP_P = 0.8, 0.95

OnText = Callable[[str], None]


@dataclass
class UnitResult:
    source: str
    output: str
    warnings: list[str] = field(default_factory=list)  # for people; never parsed
    stop_reason: StopReason = StopReason.STOP  # why this paragraph's generation ended


@dataclass
class TranslationResult:
    source_text: str
    output: str
    source_lang: str
    target_lang: str
    units: list[UnitResult]
    tokens_in: int
    tokens_out: int
    ttft_ms: float | None
    total_ms: float
    warnings: list[str]
    settings: dict
    cancelled: bool = False  # the user stopped it: stop_reason == "cancelled"
    id: int | None = None  # the history row
    # The document's: the worst of its paragraphs' (guards.document_stop_reason).
    stop_reason: StopReason = StopReason.STOP

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_out / (self.total_ms / 1000) if self.total_ms else 0.0

    def as_json(self) -> dict:
        data = asdict(self)
        data["tokens_per_second"] = round(self.tokens_per_second, 1)
        return data


def detect_source(text: str) -> str:
    """The language of `text` as a code OwnVoice translates from (engine/languages.py).
    Raises OwnVoiceError with what to do when it cannot tell, or when the detector names a
    language OwnVoice does not know (a short "ok" reads as Catalan)."""
    detected, confident = langdetect.detect(text)
    if detected is None:
        raise OwnVoiceError("Cannot tell which language this text is in; pass --from LANG.")
    if detected not in languages.NAMES:
        if not confident:
            raise OwnVoiceError("This text is too short to tell its language; pass --from "
                                "LANG (e.g. --from en).")
        raise OwnVoiceError(f"This text looks like language {detected!r}, which OwnVoice "
                            "does not translate from; pass --from LANG if it is another.")
    return detected


class AlreadyInTarget(OwnVoiceError):
    """Every paragraph is already in the language asked for."""


def paragraph_language(text: str, default: str) -> str:
    """The language of one paragraph when the detector is sure and OwnVoice knows it, else
    `default` (the document's): a short line ("OK.", "10:00") keeps the document's."""
    detected, confident = langdetect.detect(text, prefer=default)
    return detected if confident and detected in languages.NAMES else default


class Translator:
    """One backend, one language pair at a time; keeps the model loaded between calls."""

    def __init__(self, backend: Backend, *, sampling: Sampling | None = None):
        self.backend = backend
        self.sampling = sampling or backend.default_sampling

    def another(self, seed: int) -> Translator:
        """The same model and settings, sampling at ANOTHER_TEMPERATURE / ANOTHER_TOP_P with
        `seed`: "show me another" — a second translation to choose from."""
        return Translator(self.backend, sampling=replace(
            self.sampling, temperature=ANOTHER_TEMPERATURE, top_p=ANOTHER_TOP_P, seed=seed))

    def request_for(self, text: str, source: str, target: str, *,
                    strict: bool = False) -> Request:
        """The request for one paragraph; `strict`: the retry after lost placeholders
        (greedy decoding, and chat models are told to keep the markers)."""
        sampling = replace(self.sampling, temperature=0.0) if strict else self.sampling
        if self.backend.prompt_style == "completion":
            prompt = prompts.completion_prompt(text, source, target,
                                               markers=protect.OPEN in text)
            max_tokens = guards.max_new_tokens(self.backend.count_tokens(text))
            return Request(max_tokens=max_tokens, prompt=prompt, stop=prompts.COMPLETION_STOP,
                           sampling=sampling)
        return Request(max_tokens=guards.max_new_tokens(self.backend.count_tokens(text)),
                       messages=prompts.chat_messages(text, source, target, strict=strict,
                                                      voice=self.backend.voice_prompt),
                       sampling=sampling)

    def translate(self, text: str, *, target: str, source: str | None = None,
                  format: str = "markdown", on_text: OnText | None = None,
                  cancelled: Callable[[], bool] | None = None) -> TranslationResult:
        """`text` (a whole document in `format`, one of document.FORMATS) translated into
        `target`, in the source's shape: only its prose units go to the model; each
        translated unit is checked in place (document.Document.check_unit) and the whole
        document before it is returned (document.Document.verify). A unit that fails is
        retried once, strictly, then kept as it was with a warning that names it and what
        went wrong. `on_text` receives the document as it is produced (for display)."""
        target = languages.normalise(target)
        detect_each = not source  # no --from: each paragraph says what language it is in
        source = languages.normalise(source) if source else detect_source(text)
        doc = document.split(text, format)
        if not doc.units:
            raise OwnVoiceError("There is nothing to translate in this text (only code, "
                                "tables or markup).")
        sources = [paragraph_language(u.text, source) if detect_each else source
                   for u in doc.units]
        if all(s == target for s in sources):
            raise AlreadyInTarget(f"The text is already in {languages.name(target)}; choose "
                                  "another language to translate into.")
        emit = on_text or (lambda _piece: None)
        start = time.perf_counter()
        # A paragraph that never starts because the user cancelled is "cancelled" too.
        results: list[UnitResult] = [UnitResult(u.text, "", stop_reason=StopReason.CANCELLED)
                                     for u in doc.units]
        # Twice the backend's width: a paragraph's request is already waiting when another's
        # sequence ends, so the backend's batch stays full.
        workers = min(2 * self.backend.parallel, sum(s != target for s in sources))
        if self.backend.parallel > 1 and workers > 1:
            done = self._units_at_once(doc, sources, target, emit, cancelled, start, workers)
        else:
            done = self._units_in_turn(doc, sources, target, emit, cancelled, start)
        tokens_in = sum(d.tokens_in for d in done.values())
        tokens_out = sum(d.tokens_out for d in done.values())
        firsts = [d.first for d in done.values() if d.first is not None]
        ttft = min(firsts) if firsts else None
        stopped = False
        for item in range(len(doc.units)):  # as in turn: nothing after a cancelled paragraph
            if item not in done:  # it never started: the user had cancelled
                stopped = True
                break
            results[item] = done[item].result
            if results[item].stop_reason == StopReason.CANCELLED:
                stopped = True
                break
        outputs = [r.output for r in results]
        if not stopped:
            self._verify(doc, results, outputs)
        output = doc.assemble(outputs)
        warnings = [f"{_where(doc.units[i])}: {w}" if len(results) > 1 else w
                    for i, r in enumerate(results) for w in r.warnings]
        warnings += [f"Not translated: {note}." for note in doc.notes]
        reason = guards.document_stop_reason(r.stop_reason for r in results)
        return TranslationResult(
            source_text=text, output=output, source_lang=source, target_lang=target, units=results,
            tokens_in=tokens_in, tokens_out=tokens_out,
            ttft_ms=None if ttft is None else round(ttft * 1000, 1),
            total_ms=round((time.perf_counter() - start) * 1000, 1), warnings=warnings,
            settings={"backend": self.backend.kind, "prompt_style": self.backend.prompt_style,
                      **self.sampling.as_dict()},
            cancelled=reason == StopReason.CANCELLED, stop_reason=reason)

    def _units_in_turn(self, doc: document.Document, sources: list[str], target: str,
                       emit: OnText, cancelled: Callable[[], bool] | None,
                       start: float) -> dict[int, _Done]:
        """The units one after another, the document streamed as it goes; stops after a
        cancelled unit."""
        done: dict[int, _Done] = {}
        for kind, item in doc.pieces():
            if kind == "verbatim":
                emit(item)
                continue
            done[item] = self._unit(doc, item, sources[item], target, emit, cancelled, start)
            if done[item].result.stop_reason == StopReason.CANCELLED:
                break
        return done

    def _units_at_once(self, doc: document.Document, sources: list[str], target: str,
                       emit: OnText, cancelled: Callable[[], bool] | None, start: float,
                       workers: int) -> dict[int, _Done]:
        """The units on `workers` threads, started in document order; their text reaches
        `emit` in document order, on this thread. A cancelled unit stops the others, and
        the units after it count as not started; an error in one stops the others and is
        raised (the first in document order)."""
        events: queue.SimpleQueue = queue.SimpleQueue()
        halt = threading.Event()

        def halted() -> bool:
            return halt.is_set() or (cancelled is not None and cancelled())

        def work(item: int) -> None:
            try:
                if halted():  # cancelled before it started
                    events.put(("done", item, None))
                    return
                outcome = self._unit(doc, item, sources[item], target,
                                     lambda piece: events.put(("text", item, piece)),
                                     halted, start)
            except BaseException as exc:  # noqa: BLE001 - raised on the calling thread
                halt.set()
                events.put(("error", item, exc))
                return
            if outcome.result.stop_reason == StopReason.CANCELLED:
                halt.set()
            events.put(("done", item, outcome))

        done: dict[int, _Done] = {}
        errors: dict[int, BaseException] = {}
        order = InOrder(list(doc.pieces()), emit)
        with ThreadPoolExecutor(workers, thread_name_prefix="ownvoice-paragraph") as pool:
            for item in range(len(doc.units)):
                pool.submit(work, item)
            for _ in range(len(doc.units)):
                kind, item, value = events.get()
                while kind == "text":
                    order.text(item, value)
                    kind, item, value = events.get()
                if kind == "error":
                    errors[item] = value
                elif value is not None:
                    done[item] = value
                order.done(item, last=item in errors or item not in done
                           or done[item].result.stop_reason == StopReason.CANCELLED)
        if errors:
            raise errors[min(errors)]
        return done

    def _unit(self, doc: document.Document, item: int, source: str, target: str, emit: OnText,
              cancelled: Callable[[], bool] | None, start: float) -> _Done:
        """Unit `item` translated, checked in place, retried once strictly when its
        translation breaks the document, else kept as it was."""
        unit = doc.units[item]
        if source == target:  # a paragraph already in the target language
            emit(doc.render(item, unit.text))
            return _Done(UnitResult(unit.text, unit.text, [
                f"Already in {languages.name(target)}; kept as it is."]))
        result, usage, first = self._translate_unit(unit.text, source, target, emit,
                                                    cancelled, start)
        tokens_in, tokens_out = usage.prompt_tokens, usage.completion_tokens
        problem = (None if result.stop_reason == StopReason.CANCELLED
                   else doc.check_unit(item, result.output))
        if problem:  # once more, strictly; then the paragraph stays as it was
            result, usage, _ = self._translate_unit(unit.text, source, target,
                                                    lambda _piece: None, cancelled, start,
                                                    strict=True)
            tokens_in += usage.prompt_tokens
            tokens_out += usage.completion_tokens
            problem = (None if result.stop_reason == StopReason.CANCELLED
                       else doc.check_unit(item, result.output))
            if problem:
                result = _kept(unit.text, result, f"its translation broke the document "
                                                  f"({problem}), twice")
        if doc.format == "markdown" and result.output != unit.text:
            lost = document.lost_emphasis(unit.text, result.output)
            if lost:
                result.warnings.append(f"The translation lost the source's {lost}; check it.")
        return _Done(result, tokens_in, tokens_out, first)

    @staticmethod
    def _verify(doc: document.Document, results: list[UnitResult], outputs: list[str]) -> None:
        """The whole document checked before it is returned: a unit whose translation
        breaks it (seen only together with the rest) goes back to its source text, with a
        warning; `outputs` and `results` are changed in place."""
        problem = doc.verify(doc.assemble(outputs))
        if problem is None:
            return
        sources = [u.text for u in doc.units]
        for i, output in enumerate(outputs):
            if output == sources[i]:
                continue
            alone = doc.verify(doc.assemble(sources[:i] + [output] + sources[i + 1:]))
            if alone:
                outputs[i] = sources[i]
                results[i] = _kept(sources[i], results[i], f"its translation broke the "
                                                           f"document ({alone})")
        problem = doc.verify(doc.assemble(outputs))
        if problem:  # only translations together break it: none of them is kept
            for i, output in enumerate(outputs):
                if output != sources[i]:
                    outputs[i] = sources[i]
                    results[i] = _kept(sources[i], results[i], "the translated paragraphs "
                                                               f"together broke the document "
                                                               f"({problem})")

    def fits(self, text: str, source: str, target: str) -> bool:
        """Whether one request for `text` (prompt and output budget) fits the model."""
        request = self.request_for(text, source, target)
        return (request_tokens(self.backend, request) + request.max_tokens
                + TEMPLATE_MARGIN <= self.backend.context_tokens)

    def _translate_unit(self, text: str, source: str, target: str, emit: OnText,
                        cancelled: Callable[[], bool] | None, start: float, *,
                        strict: bool = False):
        """One paragraph; one too long for a request is cut at sentence ends into pieces
        that fit, translated piece by piece and joined (a single sentence too long for the
        model is refused in one line by the backend's size guard)."""
        if self.fits(text, source, target):
            return self._translate_piece(text, source, target, emit, cancelled, start,
                                         strict=strict)
        chunks: list[str] = []
        for sentence in guards.sentences(text):
            if chunks and self.fits(join_sentences([chunks[-1], sentence], source), source,
                                    target):
                chunks[-1] = join_sentences([chunks[-1], sentence], source)
            else:
                chunks.append(sentence)
        outputs, warnings, reasons = [], [], []
        tokens_in = tokens_out = 0
        first = None
        for index, chunk in enumerate(chunks):
            if index:
                emit(join_sentences(["", ""], target))
            result, usage, started = self._translate_piece(chunk, source, target, emit,
                                                           cancelled, start, strict=strict)
            first = first if first is not None else started
            outputs.append(result.output)
            warnings += result.warnings
            reasons.append(result.stop_reason)
            tokens_in += usage.prompt_tokens
            tokens_out += usage.completion_tokens
            if result.stop_reason == StopReason.CANCELLED:
                break
        warnings.append(f"Too long for one request: translated in {len(chunks)} pieces, cut "
                        "at sentence ends.")
        reason = guards.document_stop_reason(reasons)
        return (UnitResult(text, join_sentences(outputs, target), warnings, reason),
                Usage(tokens_in, tokens_out, reason), first)

    def _translate_piece(self, text: str, source: str, target: str, emit: OnText,
                         cancelled: Callable[[], bool] | None, start: float, *,
                         strict: bool = False):
        """One paragraph: its protected spans masked, translated, restored and checked. A
        paragraph that loses a span, or whose answer is no translation at all
        (guards.not_a_translation), is tried once more, strictly, then kept as it was."""
        masked = protect.mask(text)
        if not masked.prose:  # only numbers, code, links, shortcodes…: nothing for a model
            emit(text)
            return UnitResult(text, text), Usage(0, 0, StopReason.STOP), None
        silent: OnText = lambda _piece: None  # noqa: E731 - placeholders are not shown
        tokens_in = tokens_out = 0
        first = None
        for attempt in ((True,) if strict else (False, True)):
            live = not masked.spans and not attempt  # plain prose streams as it comes
            result, usage, started = self._generate(masked.text, source, target,
                                                    emit if live else silent, cancelled,
                                                    start, strict=attempt)
            first = first if first is not None else started
            tokens_in += usage.prompt_tokens
            tokens_out += usage.completion_tokens
            usage = Usage(tokens_in, tokens_out, usage.finish_reason)
            if result.stop_reason == StopReason.CANCELLED:
                return (UnitResult(text, result.output if live else "",
                                   stop_reason=StopReason.CANCELLED), usage, first)
            failure = guards.not_a_translation(masked.text, result.output, source=source,
                                               target=target)
            if failure is None:
                try:
                    output = protect.restore(result.output, masked)
                except protect.LostSpans as exc:
                    failure = str(exc)
            if failure is not None:
                continue
            if not live:
                emit(output)
            return UnitResult(text, output, result.warnings, result.stop_reason), usage, first
        emit(text)
        return _kept(text, result, f"the model {failure}, twice"), usage, first

    def _generate(self, text: str, source: str, target: str, emit: OnText,
                  cancelled: Callable[[], bool] | None, start: float, *,
                  strict: bool = False):
        request = self.request_for(text, source, target, strict=strict)
        request.cancelled = cancelled  # also while the backend prepares the prompt
        guard = guards.RepetitionGuard()
        pending = ""  # held back until a preamble ("Here is the translation:") can be seen
        released = False
        first: float | None = None
        usage = Usage(0, 0, StopReason.STOP)
        cut: StopReason | None = None  # set when we end the stream ourselves
        pieces = 0
        stream = self.backend.stream(request)
        try:
            for piece in stream:
                if isinstance(piece, Usage):
                    usage = piece
                    continue
                if first is None:
                    first = time.perf_counter() - start
                pieces += 1
                if guard.feed(piece):
                    cut = StopReason.REPETITION
                    break
                if cancelled is not None and cancelled():
                    cut = StopReason.CANCELLED
                    break
                if released:
                    emit(piece)
                else:
                    pending += piece
                    if len(pending) > 40 or "\n" in pending.strip():
                        released = True
                        emit(guards.strip_chatter(pending, text, target=target).lstrip())
        finally:
            stream.close()
        if cut is not None:
            # The backend's own Usage never arrived: count what we saw.
            usage = Usage(request_tokens(self.backend, request), pieces, cut)
        reason = usage.finish_reason  # the backend's stop / length, or our own cut
        output = guards.match_final_punctuation(
            text, guards.strip_chatter(guard.trimmed(), text, target=target))
        if not released:
            emit(output)
        warnings = guards.check_output(text, output, source=source, target=target)
        if reason == StopReason.REPETITION:
            warnings.insert(0, "The model started repeating itself; the loop was cut off.")
        elif reason == StopReason.LENGTH:
            warnings.insert(0, "The model did not stop; its output was cut off at the token "
                               "limit.")
        return UnitResult(text, output, warnings, stop_reason=reason), usage, first


@dataclass
class _Done:
    """One unit's translation and what it cost (`first`: seconds from the start of the
    document to its first token, None when no model was asked)."""

    result: UnitResult
    tokens_in: int = 0
    tokens_out: int = 0
    first: float | None = None


def _where(unit: document.Unit) -> str:
    """A unit as a warning names it: its line and its first words."""
    words = unit.text if len(unit.text) <= 32 else unit.text[:30].rstrip() + "…"
    return f"Line {unit.line + 1} (“{words}”)"


def _kept(text: str, result: UnitResult, why: str) -> UnitResult:
    """The paragraph kept in its source language, with a warning that says why."""
    return UnitResult(text, text, [f"Kept untranslated: {why}; the paragraph stays as it "
                                   "was."], result.stop_reason)


# Tokens a chat template adds around the messages (request_tokens counts their text only).
TEMPLATE_MARGIN = 32


def join_sentences(pieces: list[str], language: str) -> str:
    """Sentences joined the way the language writes them: no space in Chinese and Japanese."""
    return ("" if languages.family(language) in ("zh", "ja") else " ").join(pieces)


def request_tokens(backend: Backend, request: Request) -> int:
    if request.prompt is not None:
        return backend.count_tokens(request.prompt)
    return sum(backend.count_tokens(m["content"]) for m in request.messages or [])
