"""Export on the CPU: LoRA → merged → GGUF (llama.cpp's converter) → quantised → loaded by
llama-cpp-python, prompted with the embedded template, and it stops."""

from __future__ import annotations

import json

import pytest

from engine.download import file_sha256
from engine.errors import OwnVoiceError
from engine.training import export
from engine.training.loop import train
from engine.translation.gguf_meta import read_metadata
from tests.test_train import config_for


@pytest.fixture(scope="module")
def adapter(tiny_base, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lora")
    train(config_for(tiny_base, tmp, max_steps=6, learning_rate=1e-3))
    return tmp / "out" / "adapter"


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_K_M", "F16"])
def test_the_whole_chain_produces_a_gguf_that_answers_and_stops(tiny_base, adapter, tmp_path,
                                                                quant):
    result = export.export(base_model=str(tiny_base), adapter_dir=adapter,
                           out_dir=tmp_path / "export", quant=quant, name="voice",
                           card={"pairs": 16, "metrics": {"val_loss": 0.1}})
    gguf = tmp_path / "export" / f"voice-{quant.lower()}.gguf"
    assert result.gguf == str(gguf) and gguf.exists()
    assert result.sha256 == file_sha256(gguf) and result.size_bytes == gguf.stat().st_size
    assert result.smoke_test["stopped"] and result.smoke_test["output"] == "早上好。"
    metadata = read_metadata(gguf)
    assert "<|im_start|>" in metadata["tokenizer.chat_template"]  # the training template
    assert not list((tmp_path / "export").glob("*.part"))
    if quant != "F16":
        assert not (tmp_path / "export" / "voice-f16.gguf").exists()
    modelfile = (tmp_path / "export" / "Modelfile").read_text()
    assert f"FROM ./voice-{quant.lower()}.gguf" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "TEMPLATE" in modelfile
    card = json.loads((tmp_path / "export" / "model-card.json").read_text())
    assert card["base_model"] == str(tiny_base) and card["pairs"] == 16
    assert card["export"]["sha256"] == result.sha256


def test_a_model_that_fails_its_smoke_test_is_kept_and_registered_unverified(
        tiny_model, tmp_path, default_model):
    """The training was paid for: the GGUF stays, the model is registered but marked, never
    made active, and the user is told what to try."""
    from tests.conftest import run_ownvoice

    # A do-nothing adapter on the random tiny model: it babbles to the token limit.
    train(config_for(tiny_model, tmp_path / "lora", max_steps=1, learning_rate=1e-9,
                     train_end_of_turn=False))
    result = run_ownvoice("export", "--base", str(tiny_model), "--adapter",
                          str(tmp_path / "lora" / "out" / "adapter"), "--out",
                          str(tmp_path / "export"), "--quant", "Q8_0", "--name", "babbler")
    assert "the model is unverified" in result.stderr and "--checkpoint" in result.stderr
    assert (tmp_path / "export" / "babbler-q8_0.gguf").exists()
    models = {m["name"]: m for m in json.loads(run_ownvoice("models", "list", "--json").stdout)}
    assert "did not stop" in models["babbler"]["unverified"]
    assert not models["babbler"]["active"]
    assert "fine-tuned (unverified)" in run_ownvoice("models", "list").stdout
    used = run_ownvoice("models", "use", "babbler")
    assert "unverified" in used.stderr


def test_unknown_quantisations_are_refused(tmp_path):
    with pytest.raises(OwnVoiceError, match="Unknown quantisation 'Q3'"):
        export.quantize(tmp_path / "a.gguf", tmp_path / "b.gguf", "Q3")


def test_the_export_command_registers_the_model(tiny_base, adapter, tmp_path, default_model):
    from tests.conftest import run_ownvoice

    out = json.loads(run_ownvoice("export", "--base", str(tiny_base), "--adapter", str(adapter),
                                  "--out", str(tmp_path / "e"), "--quant", "Q8_0", "--name",
                                  "my-voice", "--json").stdout)
    assert out["smoke_test"]["passed"]
    models = {m["name"]: m for m in json.loads(run_ownvoice("models", "list", "--json").stdout)}
    assert models["my-voice"]["origin"] == "fine-tuned"
    assert models["my-voice"]["sha256"] == out["sha256"]


@pytest.mark.parametrize("reason, warning, stopped", [
    ("stop", "", True),
    ("stop", "The phrase 'did not stop' or 'repeating' in a warning decides nothing.", True),
    ("length", "Cut at the budget (reworded).", False),
    ("repetition", "", False),
])
def test_the_smoke_test_reads_the_stop_reason(monkeypatch, reason, warning, stopped):
    from engine.translation.backends import llama
    from engine.translation.guards import StopReason
    from engine.translation.translate import TranslationResult, UnitResult

    class Loaded:
        prompt_style = "chat"

        def __init__(self, path):
            pass

        def close(self):
            pass

    class Answering:
        def __init__(self, backend):
            pass

        def translate(self, text, *, source, target):
            warnings = [warning] if warning else []
            unit = UnitResult(text, "早上好。", warnings, stop_reason=StopReason(reason))
            return TranslationResult(text, "早上好。", source, target, [unit], 1, 1, 1.0, 1.0,
                                     warnings, {}, stop_reason=StopReason(reason))

    monkeypatch.setattr(llama, "LlamaCppBackend", Loaded)
    monkeypatch.setattr("engine.translation.translate.Translator", Answering)
    smoke = export.smoke_test("model.gguf", "Good morning.", source="en", target="zh")
    assert smoke["stopped"] is stopped and smoke["passed"] is stopped


def test_the_adapter_folder_says_which_merge_it_needs(adapter, tmp_path, monkeypatch):
    """peft's merge for a PyTorch adapter, MLX's fuse for an MLX one (mlx-lm's file name);
    anything else, or an MLX adapter without MLX, is one line saying what to give."""
    from engine.training import mlx_lora
    from engine.training.merging import merge_for
    from tests.conftest import run_ownvoice

    assert merge_for(adapter) is export.merge
    mlx_adapter = tmp_path / "mlx-adapter"
    mlx_adapter.mkdir()
    (mlx_adapter / "adapters.safetensors").write_bytes(b"")
    monkeypatch.setattr(mlx_lora, "available", lambda: False)
    with pytest.raises(OwnVoiceError, match="is an MLX adapter; fusing it needs MLX"):
        merge_for(mlx_adapter)
    assert export.main(["--base", "b", "--adapter", str(mlx_adapter), "--out",
                        str(tmp_path / "o")]) == 1  # the box's export: one line, not MLX
    refused = run_ownvoice("export", "--base", "any/base", "--adapter", str(tmp_path),
                           "--out", str(tmp_path / "out"), check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "is not a LoRA adapter folder" in refused.stderr
    assert not (tmp_path / "out").exists()
