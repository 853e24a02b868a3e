"""`ownvoice translate`, `history`, `rate`, `correct` as a user runs them, with the real
embedded model."""

from __future__ import annotations

import json
import os
import subprocess

from engine.corpus import lang
from tests.conftest import BIN, ROOT, run_ownvoice

SENTENCE = ("We need a few APIs so clients can submit a task and get back an ID to track "
            "its progress.")


def test_the_first_run_story(default_model):
    """Translate, find it in the history, correct it: the correction is a training pair."""
    result = run_ownvoice("translate", "--text", SENTENCE, "--to", "zh")
    output = result.stdout.strip()
    assert lang.detect(output)[0] == "zh"
    assert "#1 · gemma-3-270m · English → Chinese" in result.stderr
    assert "The embedded model is tiny" in result.stderr

    history = json.loads(run_ownvoice("history", "--json").stdout)
    assert [(h["id"], h["source_text"], h["output_text"]) for h in history] == [
        (1, SENTENCE, output)]
    assert history[0]["ttft_ms"] > 0 and history[0]["tokens_out"] > 0

    fixed = "我们需要几个 API，让客户端可以提交任务，并拿到一个 ID 来跟踪进度。"
    corrected = run_ownvoice("correct", "1", "--text", fixed)
    assert "{+" in corrected.stdout or "[-" in corrected.stdout  # the word diff
    assert "1 training pair(s)" in corrected.stderr
    found = json.loads(run_ownvoice("history", "--search", "进度", "--json").stdout)
    assert [h["corrected_text"] for h in found] == [fixed]
    run_ownvoice("rate", "1", "up")
    assert json.loads(run_ownvoice("history", "--json").stdout)[0]["rating"] == 1
    assert "✎" in run_ownvoice("history").stdout


def test_json_output_carries_the_history_id_and_timings(default_model):
    data = json.loads(run_ownvoice("translate", "--text", "Good morning.", "--to", "zh",
                                   "--json").stdout)
    assert data["id"] == 1 and data["model"] == "gemma-3-270m"
    assert data["source_lang"] == "en" and data["target_lang"] == "zh"
    assert data["output"].strip() and data["tokens_out"] > 0
    assert 0 < data["ttft_ms"] <= data["total_ms"]
    assert data["tokens_per_second"] > 0
    assert data["warnings"] == [] or isinstance(data["warnings"], list)


def test_files_and_standard_input(default_model, tmp_path):
    post = tmp_path / "post.md"
    post.write_text("# Notes\n\nGood morning.\n\n```\nkeep = 1\n```\n", encoding="utf-8")
    out = run_ownvoice("translate", str(post), "--to", "zh").stdout
    assert out.startswith("# ") and "```\nkeep = 1\n```" in out and "Good morning" not in out
    piped = run_ownvoice("translate", "-", "--to", "zh", input="Where is the train station?")
    assert lang.detect(piped.stdout)[0] == "zh"


def test_mistakes_are_explained(default_model):
    same = run_ownvoice("translate", "--text", "早上好。", "--to", "zh", check=False)
    assert same.returncode == 2 and "already in Chinese" in same.stderr
    unknown = run_ownvoice("translate", "--text", "Hi there", "--to", "klingon", check=False)
    assert unknown.returncode == 1 and "Unknown language 'klingon'" in unknown.stderr
    missing = run_ownvoice("correct", "99", "--text", "x", check=False)
    assert missing.returncode == 1 and "No translation #99" in missing.stderr
    model = run_ownvoice("translate", "--text", "Hi there", "--model", "nope", check=False)
    assert model.returncode == 1 and "No model named 'nope'" in model.stderr


def test_text_in_another_encoding_is_read_not_a_traceback(default_model, tmp_path):
    """Shared case hardening/14: a Latin-1 file, a non-UTF-8 terminal argument, binary and
    empty input — decoded the way `import` decodes files, or refused in one line."""
    import os
    import subprocess

    from tests.conftest import BIN, ROOT

    note = tmp_path / "latin1-note.txt"
    note.write_bytes("Le café est fermé aujourd'hui à cause des travaux.".encode("latin-1"))
    read = json.loads(run_ownvoice("translate", str(note), "--to", "en", "--json").stdout)
    assert read["source_text"].startswith("Le café est fermé") and read["source_lang"] == "fr"
    # An argument from a terminal that is not UTF-8 arrives as undecodable bytes.
    argument = subprocess.run(
        [str(BIN / "ownvoice"), "translate", "--json", "--to", "en", "--text",
         "Le caf\xe9 est ferm\xe9 aujourd'hui pour travaux.".encode("latin-1")],
        capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert argument.returncode == 0, argument.stderr.decode(errors="replace")
    assert json.loads(argument.stdout)["source_text"].startswith("Le café est fermé")
    for given, why in ((b"\x89PNG\r\n\x1a\n\x00\x00", "binary content"),
                       (b"", "Nothing to translate: standard input is empty"),
                       (b" \n\n", "Nothing to translate")):
        refused = subprocess.run([str(BIN / "ownvoice"), "translate", "-", "--to", "en"],
                                 input=given, capture_output=True, timeout=60,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        err = refused.stderr.decode()
        assert refused.returncode == 1 and why in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_a_post_comes_back_in_its_own_shape(default_model):
    """Case translate/04: a UTF-8 BOM, CRLF line endings and YAML front matter. The front
    matter is copied byte for byte, the BOM and the line endings are the source's."""
    from pathlib import Path

    post = Path(__file__).parent / "documents" / "slow-morning.md"
    result = subprocess.run([str(BIN / "ownvoice"), "translate", str(post), "--to", "zh"],
                            capture_output=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    source, out = post.read_bytes(), result.stdout
    header = source[:source.index(b"---\r\n", 5) + 5]
    assert out.startswith(header)  # BOM, front matter, CRLF: unchanged
    assert b"\n" not in out.replace(b"\r\n", b"") and out.endswith(b"\r\n")
    body = out[len(header):].decode("utf-8")
    assert lang.detect(body)[0] == "zh" and "## " in body
