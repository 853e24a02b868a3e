"""A model's chat template, kept apart from the text it formats.

A chat template is Jinja code from whoever made the model file, and the texts it formats
(the user's paragraphs, documents, model output) are data. Two rules follow:

- **Text never becomes control tokens.** A conversation is rendered with a random
  placeholder in place of each message's text; the result, a `Layout`, is the template's
  own text with holes. A prompt is the layout filled with the texts, and `token_ids`
  parses special tokens in the template's text only: a paragraph that contains
  "<|im_end|>" stays those characters. Translation (llama.cpp) and training (transformers)
  both build their token ids this way.
- **A GGUF's template runs in a box.** It is rendered in a separate process
  (template_worker.py: jinja2's ImmutableSandboxedEnvironment, as llama-cpp-python uses,
  under memory and CPU limits) that is killed after `TIME_LIMIT_S` or when the user cancels.
  Only placeholders and fixed probe texts go in; the user's text never passes through the
  template. `models add` renders it once the same way (`check_metadata`) and refuses a file
  whose template does not compile, breaks the sandbox's rules, runs too long, or refuses
  the messages OwnVoice sends.
"""

from __future__ import annotations

import itertools
import json
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import OwnVoiceError

TIME_LIMIT_S = 5.0  # a real template renders in milliseconds
START_LIMIT_S = 60.0  # starting the renderer (a Python and jinja2) on a busy machine
MEMORY_LIMIT_BYTES = 1 << 30
MAX_RENDER_CHARS = 1_000_000
# The roles of every conversation OwnVoice sends a local model (prompts.chat_messages).
OWNVOICE_ROLES = ("system", "user")
# Stand-ins for a model's bos/eos texts where the model is not loaded (`models add`).
STAND_IN_BOS, STAND_IN_EOS = "<s>", "</s>"
_WORKER = Path(__file__).with_name("template_worker.py")
_PROBLEMS = {"invalid": "is invalid: {detail}", "unsafe": "is unsafe: {detail}",
             "refused": "refuses the messages OwnVoice sends: {detail}",
             "memory": "uses too much memory to render"}


class RenderCancelled(Exception):
    """The user cancelled while the template was being rendered."""


@dataclass(frozen=True)
class Piece:
    text: str
    template: bool  # the template's own text (special tokens parsed) or a message's text


@dataclass(frozen=True)
class Layout:
    """A rendered conversation with holes where the messages' texts go."""

    parts: tuple[str | int, ...]  # template text, or the index of the message that goes here
    strip: tuple[bool, ...]  # per message: the template trims its text (`| trim`)

    def fill(self, contents: Sequence[str]) -> list[Piece]:
        pieces = []
        for part in self.parts:
            if isinstance(part, int):
                text = contents[part]
                pieces.append(Piece(text.strip() if self.strip[part] else text, False))
            elif part:
                pieces.append(Piece(part, True))
        return pieces


def problem(name: str, what: str) -> OwnVoiceError:
    return OwnVoiceError(f"The chat template in {name} {what}; use another model file.")


def one_line(detail: str, limit: int = 200) -> str:
    """Foreign text (a template's own error message) as one short line."""
    text = " ".join(str(detail).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def placeholders(messages: Sequence[dict], nonce: str) -> list[dict]:
    return [{**message, "content": f"[[ownvoice-{nonce}-{i}]]"}
            for i, message in enumerate(messages)]


def match(with_placeholders: str, rendered: str, contents: Sequence[str], nonce: str,
          *, name: str) -> Layout:
    """The layout of `with_placeholders` whose filling with `contents` gives `rendered`
    (the same conversation rendered with its real texts)."""
    split = re.split(rf"\[\[ownvoice-{nonce}-(\d+)\]\]", with_placeholders)
    parts = tuple(int(part) if i % 2 else part for i, part in enumerate(split))
    n = len(contents)
    choices = itertools.product((False, True), repeat=n) if n <= 6 else [(False,) * n,
                                                                          (True,) * n]
    for strip in choices:
        layout = Layout(parts, tuple(strip))
        if "".join(piece.text for piece in layout.fill(contents)) == rendered:
            return layout
    raise problem(name, "changes the text of the messages it formats, so OwnVoice cannot "
                        "keep that text apart from the template's control tokens")


def layout_of(render: Callable[[list[dict]], str], messages: Sequence[dict], *,
              name: str) -> Layout:
    """Render `messages` with placeholders and as they are (through `render`, e.g. a
    tokenizer's apply_chat_template) and find where their texts went."""
    nonce = secrets.token_hex(8)
    return match(render(placeholders(messages, nonce)), render(list(messages)),
                 [message["content"] for message in messages], nonce, name=name)


def token_ids(pieces: Sequence[Piece], encode: Callable[[str, bool], list[int]]) -> list[int]:
    """Token ids of a filled layout; `encode(text, special)` tokenizes with or without
    parsing special tokens. The template's text is parsed, a message's text never is.

    A message's text that holds no control-token text (it tokenizes the same either way)
    is tokenized together with the template text around it, as the whole rendered prompt
    always was: tokenizers merge across those edges (e.g. a leading-space marker), so
    ordinary text gets exactly the ids it had. Only a text that spells a control token is
    tokenized on its own, as plain text.
    """
    ids: list[int] = []
    run = ""
    for piece in pieces:
        if piece.template or encode(piece.text, True) == encode(piece.text, False):
            run += piece.text
            continue
        if run:
            ids += encode(run, True)
            run = ""
        ids += encode(piece.text, False)
    if run:
        ids += encode(run, True)
    return ids


def probe_messages(roles: Sequence[str]) -> list[dict]:
    """Fixed texts for the layout's roles, with space around them (to see `| trim`)."""
    return [{"role": role, "content": f" \nOwnVoice probe {i}.\n "} for i, role in
            enumerate(roles)]


def render_layout(template: str, roles: Sequence[str], *, name: str, bos_token: str,
                  eos_token: str, cancelled: Callable[[], bool] | None = None,
                  also_compile: Sequence[str] = ()) -> Layout:
    """The layout of a conversation with these roles (and the generation prompt), rendered
    in the worker process. Raises OwnVoiceError naming the problem, or RenderCancelled."""
    nonce = secrets.token_hex(8)
    probes = probe_messages(roles)
    renders = run_worker({"templates": [template, *also_compile], "bos_token": bos_token,
                          "eos_token": eos_token,
                          "renders": [placeholders(probes, nonce), probes]},
                         name=name, cancelled=cancelled)
    return match(renders[0], renders[1], [m["content"] for m in probes], nonce, name=name)


def run_worker(job: dict, *, name: str, cancelled: Callable[[], bool] | None = None) -> list:
    """Run one job in template_worker.py; kill it at the deadline or on cancel."""
    job = {**job, "max_chars": MAX_RENDER_CHARS, "memory_bytes": MEMORY_LIMIT_BYTES,
           "cpu_seconds": int(TIME_LIMIT_S) + 1}
    process = subprocess.Popen([sys.executable, "-I", str(_WORKER)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, encoding="utf-8")
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()

    def next_line(limit_s: float, late: str) -> str | None:
        deadline = time.monotonic() + limit_s
        while True:
            try:
                return lines.get(timeout=0.05)
            except queue.Empty:
                if cancelled is not None and cancelled():
                    raise RenderCancelled() from None
                if time.monotonic() > deadline:
                    raise problem(name, late) from None

    try:
        # The clock starts once the worker has started and imported jinja2: a busy machine
        # is slow to start a Python, not a sign of a template that never ends.
        if next_line(START_LIMIT_S, "could not be checked: the template renderer did not "
                                    f"start within {START_LIMIT_S:g} s") != "ready\n":
            raise problem(name, "could not be checked: the template renderer did not start")
        try:
            process.stdin.write(json.dumps(job))
            process.stdin.close()
        except BrokenPipeError:  # it died: what it said (nothing) is judged below
            pass
        out = next_line(TIME_LIMIT_S, f"takes longer than {TIME_LIMIT_S:g} s to render (a "
                                      "loop that does not end?)") or ""
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    try:
        result = json.loads(out)
    except json.JSONDecodeError:
        raise problem(name, f"could not be rendered (the renderer stopped with exit code "
                            f"{process.returncode})") from None
    if "error" in result:
        what = _PROBLEMS.get(result["error"], "is invalid: {detail}")
        raise problem(name, what.format(detail=one_line(result["detail"])))
    return result["renders"]


def check_metadata(metadata: dict, name: str) -> None:
    """Refuse a GGUF whose chat template(s) do not compile, or whose default template cannot
    render the messages OwnVoice sends in the sandbox, within the limits."""
    named = [value for key, value in metadata.items()
             if key.startswith("tokenizer.chat_template.") and isinstance(value, str)]
    default = metadata.get("tokenizer.chat_template")
    if isinstance(default, str):
        render_layout(default, OWNVOICE_ROLES, name=name, bos_token=STAND_IN_BOS,
                      eos_token=STAND_IN_EOS, also_compile=named)
    elif named:
        run_worker({"templates": named, "bos_token": STAND_IN_BOS, "eos_token": STAND_IN_EOS,
                    "renders": []}, name=name)


def load_error(name: str, exc: Exception) -> OwnVoiceError:
    """A jinja2 error raised while llama-cpp-python compiled the file's templates."""
    detail = getattr(exc, "message", None) or str(exc)
    line = getattr(exc, "lineno", None)
    return problem(name, f"is invalid: {one_line(detail)}" + (f" (line {line})" if line else ""))
