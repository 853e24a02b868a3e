"""A GGUF's chat template is foreign code: `models add` compiles and test-renders it in the
sandbox, translation renders it in a time-limited, cancellable process, and every problem is
one line (hardening case 13: injection, broken and never-ending templates)."""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

import pytest

from engine.errors import OwnVoiceError
from engine.translation import chat_template, prompts
from engine.translation.backends import Request
from engine.translation.backends.llama import LlamaCppBackend
from engine.translation.translate import Translator
from tests.conftest import run_ownvoice

BROKEN = ("{% for message in messages %}<start_of_turn>{{ message['role'] }}\n"
          "{{ message['content'] }<end_of_turn>\n"
          "{% if add_generation_prompt %}<start_of_turn>model\n")
NEVER_ENDS = ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
              "{% for message in messages %}{{ message['content'] }}{% endfor %}")
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def injection(marker: Path) -> str:
    """The case's template: tries to reach os.popen through a global's function."""
    return ("{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}"
            "{% for message in messages %}<start_of_turn>{{ message['role'] }}\n"
            "{{ message['content'] }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n")


def with_template(src: Path, dst: Path, template: str) -> Path:
    """A copy of the GGUF `src` whose tokenizer.chat_template is `template`. A Jinja comment
    pads the new template so that the header changes length by a multiple of the data
    alignment (32): everything after it, tensor table and data, is copied as it is."""
    raw = src.read_bytes()
    key = b"tokenizer.chat_template"
    at = raw.index(struct.pack("<Q", len(key)) + key + struct.pack("<I", 8)) + 8 + len(key) + 4
    (old_length,) = struct.unpack_from("<Q", raw, at)
    body = template.encode("utf-8")
    pad = (old_length - len(body)) % 32
    if 0 < pad < 4:
        pad += 32
    body += b"{#" + b" " * (pad - 4) + b"#}" if pad else b""
    dst.write_bytes(raw[:at] + struct.pack("<Q", len(body)) + body + raw[at + 8 + old_length:])
    return dst


@pytest.fixture(scope="module")
def marker(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ssti") / "OWNVOICE_SSTI_MARKER"


@pytest.fixture(scope="module")
def smol_with(tmp_path_factory, smol_file):
    """SmolLM2 with another chat template, one copy per template (~100 MB each)."""
    folder = tmp_path_factory.mktemp("templates")
    made: dict[str, Path] = {}

    def make(name: str, template: str) -> Path:
        if name not in made:
            made[name] = with_template(smol_file, folder / f"smol-{name}.gguf", template)
        return made[name]

    return make


def one_line_error(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_copies_are_real_models_with_the_new_template(smol_with):
    backend = LlamaCppBackend(smol_with("chatml", CHATML))
    assert backend.chat_template.startswith(CHATML)
    tokens, _ = backend.prompt_tokens(Request(max_tokens=8, messages=prompts.chat_messages(
        "Hello.", "en", "fr")))
    assert backend.load().detokenize(tokens, special=True).decode().endswith(
        "<|im_start|>user\nHello.<|im_end|>\n<|im_start|>assistant\n")
    backend.close()


@pytest.mark.parametrize(("kind", "expected"), [
    ("injection", "is unsafe: access to attribute '__init__'"),
    ("broken", "is invalid: unexpected '}' (line 2)"),
    ("never-ends", "takes longer than 5 s to render"),
])
def test_models_add_refuses_a_bad_template_in_one_line(kind, expected, smol_with, marker,
                                                       default_model):
    template = {"injection": injection(marker), "broken": BROKEN, "never-ends": NEVER_ENDS}
    path = smol_with(kind, template[kind])
    started = time.monotonic()
    result = run_ownvoice("models", "add", str(path), "--name", kind, check=False)
    elapsed = time.monotonic() - started
    line = one_line_error(result)
    assert f"The chat template in {path.name} {expected}" in line
    assert line.endswith("use another model file.")
    assert not marker.exists()  # the sandbox held: no code ran
    assert elapsed < 30  # the never-ending one is stopped at its deadline, not left running
    listed = json.loads(run_ownvoice("models", "list", "--json").stdout)
    assert kind not in [m["name"] for m in listed]


def test_templates_that_refuse_or_rewrite_ownvoices_messages_are_refused():
    no_system = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role "
                 "not supported') }}{% endif %}{% for m in messages %}{{ m['content'] }}"
                 "{% endfor %}")
    with pytest.raises(OwnVoiceError, match="refuses the messages OwnVoice sends: System role "
                                            "not supported; use another model file"):
        chat_template.check_metadata({"tokenizer.chat_template": no_system}, "g.gguf")
    shouting = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
    with pytest.raises(OwnVoiceError, match="changes the text of the messages"):
        chat_template.check_metadata({"tokenizer.chat_template": shouting}, "s.gguf")
    # A named template (llama-cpp-python compiles them all at load) is compiled too.
    with pytest.raises(OwnVoiceError, match="is invalid: unexpected '}'"):
        chat_template.check_metadata({"tokenizer.chat_template": CHATML,
                                      "tokenizer.chat_template.tool_use": BROKEN}, "t.gguf")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_a_template_that_eats_memory_is_refused():
    with pytest.raises(OwnVoiceError, match="uses too much memory"):
        chat_template.check_metadata({"tokenizer.chat_template": "{{ 'x' * 3000000000 }}"},
                                     "m.gguf")


def test_a_trimming_template_gets_its_texts_trimmed():
    """Llama 3 and Gemma templates `| trim` the texts; the layout does the same."""
    trims = ("{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
             "{{ m['content'] | trim }}<|eot_id|>{% endfor %}<|start_header_id|>assistant"
             "<|end_header_id|>\n\n")
    layout = chat_template.render_layout(trims, ("system", "user"), name="l.gguf",
                                         bos_token="", eos_token="")
    assert layout.strip == (True, True)
    pieces = layout.fill(["  Translate.  ", "\n Hi <|eot_id|> \n"])
    assert "".join(p.text for p in pieces) == (
        "<|start_header_id|>system<|end_header_id|>\n\nTranslate.<|eot_id|><|start_header_id|>"
        "user<|end_header_id|>\n\nHi <|eot_id|><|eot_id|><|start_header_id|>assistant"
        "<|end_header_id|>\n")  # Jinja drops a template's last newline
    assert [p.text for p in pieces if not p.template] == ["Translate.", "Hi <|eot_id|>"]


@pytest.fixture(scope="module")
def smol_request(smol_file):
    return Request(max_tokens=8, messages=prompts.chat_messages("Where is the station?", "en",
                                                                 "fr"))


def test_a_bad_template_at_translation_time_is_one_line(smol_file, smol_request, marker):
    for template, expected in ((injection(marker), "is unsafe"), (BROKEN, "is invalid"),
                               (NEVER_ENDS, "takes longer than")):
        backend = LlamaCppBackend(smol_file, chat_template=template)
        backend.load()
        started = time.monotonic()
        with pytest.raises(OwnVoiceError, match=expected) as caught:
            next(backend.stream(smol_request))
        assert time.monotonic() - started < chat_template.TIME_LIMIT_S + 3  # the deadline
        assert "\n" not in str(caught.value)
        backend.close()
    assert not marker.exists()


def test_a_translation_can_be_cancelled_while_the_template_renders(smol_file):
    backend = LlamaCppBackend(smol_file, chat_template=NEVER_ENDS)
    backend.load()
    started = time.monotonic()
    result = Translator(backend).translate(
        "Where is the station? It was here yesterday.", source="en", target="fr",
        cancelled=lambda: time.monotonic() - started > 0.5)
    assert result.cancelled and result.stop_reason == "cancelled"
    assert result.output.strip() == ""
    assert time.monotonic() - started < chat_template.TIME_LIMIT_S - 1
    backend.close()


def test_a_template_that_llama_cpp_cannot_compile_fails_to_load_in_one_line(
        smol_with, smol_request):
    backend = LlamaCppBackend(smol_with("broken", BROKEN))
    with pytest.raises(OwnVoiceError, match=r"is invalid: unexpected '}' \(line 2\); use "
                                            "another model file") as caught:
        backend.load()
    assert "\n" not in str(caught.value)


def test_translate_with_a_model_added_before_the_check_is_one_line(smol_with, store,
                                                                    default_model):
    """A model registered by an older OwnVoice, whose template does not compile."""
    from engine.download import file_sha256

    path = smol_with("broken", BROKEN)
    store.add_model(name="old-broken", backend="llama.cpp", path=str(path),
                    sha256=file_sha256(path), size_bytes=path.stat().st_size,
                    prompt_style="chat", origin="imported", meta={})
    result = run_ownvoice("translate", "--model", "old-broken", "--from", "en", "--to", "fr",
                          "--text", "Where is the train station?", check=False)
    line = one_line_error(result)
    assert f"The chat template in {path.name} is invalid: unexpected '}}'" in line
