"""The training loop: LoRA SFT with transformers + peft, on a CPU or GPUs (accelerate).

Reads top to bottom: load the base and its tokenizer, wrap it with LoRA, encode the data,
then step through a fixed plan of batches; evaluate and checkpoint several times per
epoch; stop early when validation loss stops improving. `resume` continues from the last
checkpoint exactly where an interrupted run stopped: same steps, same data order, same
result. Under `accelerate launch` (or torchrun) every process takes its share of each
step's micro-batches; the script does not change.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.training import checkpoint, data
from engine.training.base import default_chat_template, end_of_turn_ids, load_base, precision
from engine.training.config import TrainConfig
from engine.training.progress import Progress, trim


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
    from peft import LoraConfig, get_peft_model
    from torch.utils.data import DataLoader
    from transformers import get_linear_schedule_with_warmup

    output = Path(config.output_dir)
    cuda = torch.cuda.is_available()
    bf16 = precision(config.dtype, cuda=cuda,
                     bf16_supported=cuda and torch.cuda.is_bf16_supported()) == "bf16"
    accelerator = Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not cuda)
    main, rank, world = (accelerator.is_main_process, accelerator.process_index,
                         accelerator.num_processes)
    if main:
        (output / "checkpoints").mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    torch.manual_seed(config.seed)  # the same LoRA initialisation in every process

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
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={
            "use_reentrant": False})  # the reentrant variant breaks under DDP
        model.enable_input_require_grads()

    # --- the data -------------------------------------------------------------------------
    train_set = [data.encode(tokenizer, r, config.max_length)
                 for r in data.read_jsonl(config.train_file)]
    val_set = [data.encode(tokenizer, r, config.max_length)
               for r in data.read_jsonl(config.val_file)] if config.val_file else []
    lengths = [len(e.input_ids) for e in train_set]

    def plan(epoch: int) -> list[list[list[int]]]:
        return data.step_plan(lengths, config.batch_size, config.seed, epoch,
                              accumulate=config.grad_accum, processes=world)

    steps_per_epoch = len(plan(0))
    total_steps = config.max_steps or math.ceil(config.epochs * steps_per_epoch)
    eval_every = max(1, steps_per_epoch // max(1, config.evals_per_epoch))
    pad = tokenizer.pad_token_id

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps,
                                                max(total_steps, 1))
    # The scheduler stays unprepared: accelerate would step it once per process, but our
    # steps are already counted across processes.
    model, optimizer = accelerator.prepare(model, optimizer)

    # --- resume ---------------------------------------------------------------------------
    state = {"step": 0, "best": None, "best_path": None, "stale": 0, "history": [],
             "processes": world}
    if resume and checkpoint.complete(output):
        state = checkpoint.load(accelerator, checkpoint.complete(output)[-1], model=model,
                                optimizer=optimizer, scheduler=scheduler)
        if state.get("processes", 1) != world:
            raise OwnVoiceError(f"This run was trained by {state.get('processes', 1)} "
                                f"process(es); resume it with the same number, not {world}.")
    step = state["step"]
    if main:
        trim(output / "progress.jsonl", step if resume else 0)
        config.save(output / "config.json")
    progress = Progress(output / "progress.jsonl", total_steps, step, on_progress,
                        enabled=main)

    def evaluate() -> float | None:
        """Token-weighted validation loss; each process scores its share, summed across."""
        if not val_set:
            return None
        plain = accelerator.unwrap_model(model)  # no collectives inside the forward pass
        plain.eval()
        sums = torch.zeros(2, device=accelerator.device)
        with torch.no_grad():
            batches = data.batch_order([len(e.input_ids) for e in val_set],
                                       config.batch_size, 0, 0)
            for batch_ids in batches[rank::world]:
                batch = data.collate([val_set[i] for i in batch_ids], pad)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                logits = plain(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits
                loss, tokens = weighted_loss(logits, batch["labels"], batch["weights"])
                sums += torch.stack([loss.float() * tokens, tokens.float()])
        sums = accelerator.reduce(sums, "sum")
        plain.train()
        return float(sums[0] / sums[1]) if float(sums[1]) else None

    def micro_batches(step_ids: list[list[int]]):
        return [data.collate([train_set[i] for i in ids], pad) for ids in step_ids]

    # --- the loop -------------------------------------------------------------------------
    history = state["history"]
    base_val_loss = history[0].get("base_val_loss") if history else None
    if step == 0 and val_set:  # where the base model stands: the fine-tune must beat it
        base_val_loss = evaluate()
        progress.evaluation(0, val_loss=base_val_loss, base=True)
    model.train()
    last_loss, stopped_early, stop = None, False, False
    while step < total_steps and not (stop or stopped_early):
        epoch, position = divmod(step, steps_per_epoch)
        mine = [step_ids[rank::world] for step_ids in plan(epoch)[position:]]
        loader = DataLoader(mine, batch_size=None, num_workers=config.num_workers,
                            collate_fn=micro_batches, persistent_workers=False,
                            # Its own generator: creating a loader must not draw from the
                            # global RNG (dropout's), or a resumed run would diverge.
                            generator=torch.Generator().manual_seed(config.seed + epoch))
        started = time.perf_counter()  # includes waiting for data: a starved GPU shows
        for batches in loader:
            totals = torch.zeros(2, device=accelerator.device)  # loss sum, tokens
            for k, batch in enumerate(batches):
                batch = {key: v.to(accelerator.device) for key, v in batch.items()}
                syncing = k == len(batches) - 1  # gradients cross processes once per step
                with contextlib.nullcontext() if syncing else accelerator.no_sync(model):
                    logits = model(input_ids=batch["input_ids"],
                                   attention_mask=batch["attention_mask"]).logits
                    loss, _ = weighted_loss(logits, batch["labels"], batch["weights"])
                    accelerator.backward(loss / len(batches))
                totals += torch.stack([loss.detach().float(),
                                       batch["attention_mask"].sum().float()])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            totals[0] /= len(batches)
            totals = accelerator.reduce(totals, "sum")
            last_loss = float(totals[0]) / world
            now = time.perf_counter()
            progress.step(step, epoch=round(step / steps_per_epoch, 3),
                          loss=round(last_loss, 5), lr=scheduler.get_last_lr()[0],
                          tokens_per_s=round(float(totals[1]) / (now - started), 1))
            started = now
            stop = cancelled is not None and cancelled()
            if step % eval_every == 0 or step == total_steps or stop:
                val_loss = evaluate()
                history.append({"step": step, "train_loss": last_loss, "val_loss": val_loss,
                                "base_val_loss": base_val_loss})
                improved = val_loss is not None and (state["best"] is None
                                                     or val_loss < state["best"])
                folder = output / "checkpoints" / f"step-{step:06d}"
                if improved:
                    state.update(best=val_loss, stale=0, best_path=str(folder))
                elif val_loss is not None:
                    state["stale"] += 1
                state.update(step=step, history=history)
                checkpoint.save(accelerator, folder, model=model, tokenizer=tokenizer,
                                optimizer=optimizer, scheduler=scheduler, state=state,
                                config=config, metrics={"step": step, "train_loss": last_loss,
                                                        "val_loss": val_loss})
                progress.checkpoint(step, val_loss=val_loss, path=str(folder),
                                    best=improved)
                if state["stale"] >= config.early_stopping_patience:
                    stopped_early = True
                    progress.log(step, f"stopped early at step {step}: validation loss "
                                       f"stopped improving (best {state['best']:.4f})")
                    break
            if stop or step >= total_steps:
                break

    adapter_dir = output / "adapter"
    best_path = state["best_path"]
    result = TrainResult(steps=step, base_val_loss=base_val_loss, best_checkpoint=best_path,
                         best_val_loss=state["best"], final_train_loss=last_loss,
                         stopped_early=stopped_early,
                         adapter_dir=str(Path(best_path) / "adapter" if best_path
                                         else adapter_dir), history=history)
    if main:
        accelerator.unwrap_model(model).save_pretrained(adapter_dir)
        tokenizer.save_pretrained(adapter_dir)
        (output / "result.json").write_text(json.dumps(asdict(result), indent=2))
        progress.log(step, f"training finished at step {step}"
                     + (f", best validation loss {state['best']:.4f}"
                        if state["best"] is not None else ""))
    accelerator.wait_for_everyone()
    return result
