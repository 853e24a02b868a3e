"""The training loop: LoRA SFT with transformers + peft, on a CPU or GPUs (accelerate).

Reads top to bottom: load the base and its tokenizer, wrap it with LoRA, encode the data,
then step through batches in a fixed order; evaluate and checkpoint several times per
epoch; stop early when validation loss stops improving. A checkpoint holds the adapter,
the optimizer, the scheduler and every random state, so `resume` continues exactly where
an interrupted run stopped: same steps, same data order, same result.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import OwnVoiceError
from . import data
from .config import TrainConfig

END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>")
# For base models without a chat template: the family's own turn tokens where the
# vocabulary has them (their end-of-turn row is then trained), ChatML otherwise.
GEMMA = ("{{ bos_token }}{% for message in messages %}{% set role = 'model' if "
         "message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + "
         "'\n' + message['content'] + '<end_of_turn>\n' }}{% endfor %}"
         "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}")
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


@dataclass
class TrainResult:
    steps: int
    base_val_loss: float | None
    best_checkpoint: str | None
    best_val_loss: float | None
    final_train_loss: float | None
    stopped_early: bool
    adapter_dir: str
    history: list[dict] = field(default_factory=list)


def _checkpoints(output: Path) -> list[Path]:
    """Complete checkpoints only: one being written lives under a .part name."""
    return sorted(p for p in (output / "checkpoints").glob("step-*")
                  if not p.name.endswith(".part"))


class Progress:
    """JSON lines the app and the remote runner tail."""

    def __init__(self, path: Path, total_steps: int, resumed_step: int, listener=None):
        self.path = path
        self.listener = listener
        self.total = total_steps
        self.start = time.perf_counter()
        self.first_step = resumed_step

    def write(self, event: str, step: int, **values) -> dict:
        import torch

        elapsed = time.perf_counter() - self.start
        done = step - self.first_step
        eta = elapsed / done * (self.total - step) if done > 0 else None
        record = {"event": event, "step": step, "total_steps": self.total,
                  "elapsed_s": round(elapsed, 2), "eta_s": round(eta, 1) if eta else None,
                  **values}
        if torch.cuda.is_available():
            record["gpu_memory_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.listener is not None:
            self.listener(record)
        return record


def _trim_progress(path: Path, keep_until: int) -> None:
    """A resumed run repeats the steps after its last checkpoint: drop their old lines, so
    whoever tails the file sees every step once, in order."""
    if not path.exists():
        return
    kept = [line for line in path.read_text("utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= keep_until
            and json.loads(line).get("event") != "done"]
    partial = path.with_name(path.name + ".part")
    partial.write_text("".join(line + "\n" for line in kept), "utf-8")
    partial.replace(path)


def load_base(config: TrainConfig, dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = Path(config.base_model).expanduser()
    kwargs = {}
    if base.suffix == ".gguf":  # transformers reads GGUF weights into torch
        kwargs["gguf_file"] = base.name
        base = base.parent
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype, **kwargs)
    except OSError as exc:
        raise OwnVoiceError(f"Cannot load the base model {config.base_model}: {exc}") from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def precision(requested: str, *, cuda: bool, bf16_supported: bool) -> str:
    """bf16 on GPUs that have it, fp32 on CPUs (and GPUs without bf16)."""
    if requested not in ("auto", "bf16", "fp32"):
        raise OwnVoiceError(f"dtype must be auto, bf16 or fp32, not {requested!r}.")
    if requested == "auto":
        return "bf16" if cuda and bf16_supported else "fp32"
    if requested == "bf16" and not (cuda and bf16_supported):
        raise OwnVoiceError("bf16 needs a GPU that supports it; use dtype auto or fp32.")
    return requested


def default_chat_template(tokenizer) -> str:
    vocabulary = tokenizer.get_vocab()
    if "<start_of_turn>" in vocabulary and "<end_of_turn>" in vocabulary:
        return GEMMA
    return CHATML


def end_of_turn_ids(tokenizer) -> list[int]:
    ids = set()
    unknown = tokenizer.unk_token_id
    for marker in END_OF_TURN:
        token = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(token, int) and token != unknown and token >= 0:
            ids.add(token)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def weighted_loss(logits, labels, weights):
    """Token cross-entropy, each example's tokens weighted by its pair weight."""
    import torch.nn.functional as F

    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    per_token = F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)),
                                shift_labels.reshape(-1), ignore_index=data.IGNORE,
                                reduction="none").view(shift_labels.shape)
    mask = (shift_labels != data.IGNORE).float()
    token_weights = mask * weights.to(mask.device)[:, None]
    return (per_token * token_weights).sum() / token_weights.sum().clamp(min=1e-8), mask.sum()


def train(config: TrainConfig, *, resume: bool = False, cancelled=None,
          on_progress=None) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from torch.utils.data import DataLoader
    from transformers import get_linear_schedule_with_warmup

    output = Path(config.output_dir)
    (output / "checkpoints").mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    bf16 = precision(config.dtype, cuda=cuda,
                     bf16_supported=cuda and torch.cuda.is_bf16_supported()) == "bf16"
    accelerator = Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not cuda)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    # --- the model ------------------------------------------------------------------------
    tokenizer, model = load_base(config, torch.bfloat16 if bf16 else torch.float32)
    config.resolved(model.config.model_type)
    if config.chat_template:
        tokenizer.chat_template = config.chat_template
    if not tokenizer.chat_template:
        config.chat_template = default_chat_template(tokenizer)
        tokenizer.chat_template = config.chat_template
    eot = end_of_turn_ids(tokenizer) if config.train_end_of_turn else []
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=config.target_modules,
                      task_type="CAUSAL_LM", trainable_token_indices=eot or None)
    model = get_peft_model(model, lora)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()

    # --- the data -------------------------------------------------------------------------
    train_set = [data.encode(tokenizer, r, config.max_length)
                 for r in data.read_jsonl(config.train_file)]
    val_set = [data.encode(tokenizer, r, config.max_length)
               for r in data.read_jsonl(config.val_file)] if config.val_file else []
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    total_steps = config.max_steps or math.ceil(config.epochs * steps_per_epoch)
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    lengths = [len(e.input_ids) for e in train_set]
    pad = tokenizer.pad_token_id

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps,
                                                max(total_steps, 1))
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    # --- resume ---------------------------------------------------------------------------
    step, best, best_path, stale, history = 0, None, None, 0, []
    if resume and _checkpoints(output):
        last = _checkpoints(output)[-1]
        state = torch.load(last / "trainer_state.pt", weights_only=False)
        set_peft_model_state_dict(accelerator.unwrap_model(model),
                                  load_file(last / "adapter" / "adapter_model.safetensors"))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        if cuda and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        step, best, stale, history = state["step"], state["best"], state["stale"], \
            state["history"]
        best_path = state["best_path"]
    _trim_progress(output / "progress.jsonl", step if resume else 0)
    progress = Progress(output / "progress.jsonl", total_steps, step, on_progress)
    config.save(output / "config.json")

    def evaluate() -> float | None:
        if not val_set:
            return None
        model.eval()
        total = weight = 0.0
        with torch.no_grad():
            for batch_ids in data.batch_order([len(e.input_ids) for e in val_set],
                                              config.batch_size, 0, 0):
                batch = data.collate([val_set[i] for i in batch_ids], pad)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                logits = model(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits
                loss, tokens = weighted_loss(logits, batch["labels"], batch["weights"])
                total += float(loss) * float(tokens)
                weight += float(tokens)
        model.train()
        return total / weight if weight else None

    def save_checkpoint(loss: float | None, val_loss: float | None) -> Path:
        final = output / "checkpoints" / f"step-{step:06d}"
        path = final.with_name(final.name + ".part")  # renamed once complete: never half-there
        if accelerator.is_main_process:
            shutil.rmtree(path, ignore_errors=True)
            accelerator.unwrap_model(model).save_pretrained(path / "adapter")
            tokenizer.save_pretrained(path / "adapter")
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                                "cuda": torch.cuda.get_rng_state_all() if cuda else None},
                        "step": step, "best": best, "best_path": best_path, "stale": stale,
                        "history": history}, path / "trainer_state.pt")
            config.save(path / "config.json")
            (path / "metrics.json").write_text(json.dumps({"step": step, "train_loss": loss,
                                                          "val_loss": val_loss}))
            shutil.rmtree(final, ignore_errors=True)
            path.rename(final)
        return final

    # --- the loop -------------------------------------------------------------------------
    base_val_loss = history[0]["base_val_loss"] if history and "base_val_loss" in history[0] \
        else None
    if step == 0 and val_set:  # where the base model stands: the fine-tune must beat it
        base_val_loss = evaluate()
        progress.write("eval", 0, val_loss=base_val_loss, base=True)
    model.train()
    last_loss, stopped_early, stop = None, False, False
    while step < total_steps and not (stop or stopped_early):
        epoch, position = divmod(step, steps_per_epoch)
        batches = data.batch_order(lengths, config.batch_size, config.seed, epoch)[position:]
        loader = DataLoader(batches, batch_size=None, num_workers=config.num_workers,
                            collate_fn=lambda ids: data.collate([train_set[i] for i in ids],
                                                                pad),
                            persistent_workers=False,
                            # Its own generator: creating a loader must not draw from the
                            # global RNG (dropout's), or a resumed run would diverge.
                            generator=torch.Generator().manual_seed(config.seed + epoch))
        for batch in loader:
            started = time.perf_counter()
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).logits
            loss, _ = weighted_loss(logits, batch["labels"], batch["weights"])
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            last_loss = float(loss.detach())
            tokens = int(batch["attention_mask"].sum())
            progress.write("train", step, epoch=round(step / steps_per_epoch, 3),
                           loss=round(last_loss, 5), lr=scheduler.get_last_lr()[0],
                           tokens_per_s=round(tokens / (time.perf_counter() - started), 1))
            stop = cancelled is not None and cancelled()
            if step % eval_every == 0 or step == total_steps or stop:
                val_loss = evaluate()
                history.append({"step": step, "train_loss": last_loss, "val_loss": val_loss,
                                "base_val_loss": base_val_loss})
                improved = val_loss is not None and (best is None or val_loss < best)
                if improved:
                    best, stale = val_loss, 0
                    best_path = str(output / "checkpoints" / f"step-{step:06d}")
                elif val_loss is not None:
                    stale += 1
                path = save_checkpoint(last_loss, val_loss)
                progress.write("checkpoint", step, val_loss=val_loss, path=str(path),
                               best=improved)
                if stale >= config.early_stopping_patience:
                    stopped_early = True
                    progress.write("early_stop", step, best_val_loss=best)
                    break
            if stop or step >= total_steps:
                break

    adapter_dir = output / "adapter"
    if accelerator.is_main_process:
        final = Path(best_path) / "adapter" if best_path else None
        accelerator.unwrap_model(model).save_pretrained(adapter_dir)
        tokenizer.save_pretrained(adapter_dir)
        result = TrainResult(steps=step, base_val_loss=base_val_loss,
                             best_checkpoint=best_path, best_val_loss=best,
                             final_train_loss=last_loss, stopped_early=stopped_early,
                             adapter_dir=str(final or adapter_dir), history=history)
        (output / "result.json").write_text(json.dumps(asdict(result), indent=2))
        progress.write("done", step, best_val_loss=best, adapter=result.adapter_dir)
        return result
    return TrainResult(step, base_val_loss, best_path, best, last_loss, stopped_early,
                       str(adapter_dir))
