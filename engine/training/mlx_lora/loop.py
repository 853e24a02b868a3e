"""LoRA training with MLX (Apple silicon; the CPU build elsewhere): the torch trainer's run,
step for step, on mlx-lm's models and LoRA layers.

    from engine.training.mlx_lora.loop import train
    result = train(TrainConfig.load("job.json"))              # same job file, same folders
    result = train(config, resume=True)                       # continue exactly

What is shared with engine/training/loop.py, not redone: the examples (data.encode: chat
template, assistant-only labels with the end of turn, pair weights), the batches and their
order (data.step_plan, data.padded), the chat template and end-of-turn tokens (base.py), the
rhythm of evaluations, checkpoints and early stopping and the result (schedule.py), the
progress events (progress.py) and the checkpoint layout that choose.py reads. What is MLX's
own: the model and its LoRA (model.py, rows.py), the loss (loss.py: the same number as
torch's), AdamW and its schedule (optim.py) and the checkpoint's contents (checkpoint.py).

mlx-lm's own trainer (`mlx_lm.tuner.trainer.train`) has an unweighted loss, its own batch
order and no optimizer state in its checkpoints; this loop keeps mlx-lm's models, LoRA
layers and optimizers and steps them itself with `nn.value_and_grad`, as that trainer does.
Micro-batches are padded (mlx-lm's models take no position ids, so no packing); the step
is not `mx.compile`d (padded widths change from batch to batch).
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_map

from engine.errors import OwnVoiceError
from engine.training import data, schedule
from engine.training.base import load_tokenizer, settle_chat_template
from engine.training.checkpoint import complete
from engine.training.config import TrainConfig
from engine.training.mlx_lora import checkpoint, loss, optim
from engine.training.mlx_lora import model as adapters
from engine.training.progress import Progress, trim
from engine.training.schedule import TrainResult


def peak_memory_gb() -> float | None:
    """Peak Metal memory so far (GB, 1e9 bytes); None where MLX runs on the CPU."""
    return mx.get_peak_memory() / 1e9 if mx.metal.is_available() else None


def step_seed(seed: int, step: int) -> int:
    """MLX's random seed for a step (LoRA dropout): from the run's seed and the step alone,
    so a resumed run draws what the uninterrupted one drew."""
    return (seed % 2**31) * 1_000_003 + step


def train(config: TrainConfig, *, resume: bool = False, cancelled=None, on_progress=None,
          base=None) -> TrainResult:
    """Train a LoRA on `config.base_model` with MLX, as engine.training.loop.train does with
    torch; `resume` continues the last complete checkpoint (of an MLX run).

    `cancelled()` is asked after every step (true: checkpoint and stop); `on_progress`
    receives every progress event. `base`: (tokenizer, mlx-lm model, its config dict)
    already loaded, instead of `config.base_model`. Raises OwnVoiceError for a base that does
    not load, bad data or options, a torch run's checkpoint."""
    if config.objective != "sft":
        raise OwnVoiceError("Preference training (DPO) runs with PyTorch: train it on this "
                            "machine with `--on local`, not with MLX.")
    mx.reset_peak_memory()  # this run's peak, not an earlier job's in the same process
    patched: list[tuple[type, object]] = []
    try:
        return _train(config, resume=resume, cancelled=cancelled, on_progress=on_progress,
                      base=base, patched=patched)
    finally:
        # mlx-lm's gradient checkpointing replaces the layer class's __call__ for the whole
        # process: put it back, or checkpoint choice and every later job would run through it.
        for cls, original in reversed(patched):
            cls.__call__ = original
        mx.clear_cache()


def _fit_to_memory(config: TrainConfig, output: Path, *, resuming: bool,
                   examples: list[data.Example]) -> tuple[TrainConfig, list[str]]:
    """The settings this run trains with and what the memory check changed (in words). A
    fresh run: fitted to this machine's memory (engine/training/memory.py) for `examples`'
    real lengths — a job whose base was not downloaded when it was prepared was never
    checked, and a Mac that runs out of memory aborts the process; nothing fits:
    InsufficientMemory, one line. A resumed run: the settings it began with (its
    OUTPUT/config.json), whatever the memory is now."""
    import json

    from engine.training import memory

    if resuming:
        try:
            began = TrainConfig.load(output / "config.json")
        except OwnVoiceError:
            return config, []
        return memory.fitted_config(config, memory.Fitted(
            began.batch_size, began.grad_accum, began.gradient_checkpointing,
            began.lora_layers, 0, ())), []
    try:
        base_json = json.loads((adapters.local_folder(config.base_model) / "config.json")
                               .read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return config, []  # mlx-lm says what is wrong with the base when it loads it
    selected = (base_json.get("text_config") or base_json).get("model_type") in loss.PLAIN_HEAD
    fitted = memory.fit_config(config, base_json, budget=memory.available_bytes(),
                               lengths=memory.Lengths.of(examples, selected_logits=selected))
    return memory.fitted_config(config, fitted), list(fitted.changes)


def _train(config: TrainConfig, *, resume: bool, cancelled, on_progress, base,
           patched: list) -> TrainResult:
    output = Path(config.output_dir)
    (output / "checkpoints").mkdir(parents=True, exist_ok=True)
    last = complete(output)[-1] if resume and complete(output) else None

    # --- the model and the data --------------------------------------------------------
    changes: list[str] = []
    if base is None:
        tokenizer = load_tokenizer(config)
    else:
        tokenizer, model, model_config = base
    settle_chat_template(tokenizer, config)
    train_set, val_set = data.encode_files(tokenizer, config)
    if base is None:
        # the memory check, now that the base is here (downloaded if need be) and the
        # examples' lengths are known; then the model, with the settings that fit
        config, changes = _fit_to_memory(config, output, resuming=last is not None,
                                         examples=train_set + val_set)
        model, model_config = adapters.load_model(config.base_model)
    settings = adapters.with_lora(model, model_config, tokenizer, config)
    lengths = [len(e.input_ids) for e in train_set]

    def plan(epoch: int) -> list[list[list[int]]]:
        return data.step_plan(lengths, config.batch_size, config.seed, epoch,
                              accumulate=config.grad_accum)

    rhythm = schedule.Schedule.of(config, len(plan(0)))
    optimizer, rate = optim.adamw(config, rhythm.total_steps)
    pad = tokenizer.pad_token_id or 0  # any id: padding is never attended to nor learnt
    if config.gradient_checkpointing:
        from mlx_lm.tuner.trainer import grad_checkpoint

        layer_class = type(model.layers[0])
        patched.append((layer_class, layer_class.__call__))
        grad_checkpoint(model.layers[0])  # mlx-lm patches the layer class: every layer

    # --- resume ----------------------------------------------------------------------------
    state = schedule.new_state(framework="mlx")
    if last is not None:
        state = checkpoint.load(last, model=model, optimizer=optimizer)
    step = state["step"]
    trim(output / "progress.jsonl", step if resume else 0)
    config.save(output / "config.json")
    progress = Progress(output / "progress.jsonl", rhythm.total_steps, step, on_progress,
                        memory_gb=peak_memory_gb)
    if changes:
        progress.log(step, f"memory: changed to fit this machine: {'; '.join(changes)}")
    loss_and_grad = nn.value_and_grad(model, loss.batch_loss)

    def batch_of(examples: list[data.Example]) -> dict:
        return data.padded(examples, pad)

    def evaluate() -> float | None:
        """Token-weighted validation loss, in the torch trainer's batches."""
        if not val_set:
            return None
        model.eval()
        total = tokens = 0.0
        for ids in data.batch_order([len(e.input_ids) for e in val_set],
                                    config.batch_size, 0, 0):
            value, count = loss.batch_loss(model, loss.arrays(batch_of([val_set[i]
                                                                        for i in ids])))
            total += value.item() * count.item()
            tokens += count.item()
        model.train()
        mx.clear_cache()  # batches of other widths than training's: free their buffers
        return total / tokens if tokens else None

    def update(step_ids: list[list[int]]) -> tuple[float, int]:
        """One optimizer step over its micro-batches (gradients averaged, as the torch
        trainer's loss / micro-batches); returns (mean loss, real tokens)."""
        grads, total, tokens = None, mx.array(0.0), 0
        for ids in step_ids:
            batch = batch_of([train_set[i] for i in ids])
            tokens += int(batch["attention_mask"].sum())
            (value, _), micro = loss_and_grad(model, loss.arrays(batch))
            grads = micro if grads is None else tree_map(mx.add, grads, micro)
            total = total + value
            mx.eval(grads, total)
        if len(step_ids) > 1:
            grads = tree_map(lambda g: g / len(step_ids), grads)
        optimizer.update(model, grads)
        mx.eval(model.trainable_parameters(), optimizer.state)
        return total.item() / len(step_ids), tokens

    # --- the loop --------------------------------------------------------------------------
    base_val_loss = schedule.base_val_loss_of(state)
    if step == 0 and val_set:  # where the base model stands: the fine-tune must beat it
        base_val_loss = evaluate()
        progress.evaluation(0, val_loss=base_val_loss, base=True)
    if step == 0:
        progress.log(0, f"MLX on {mx.default_device()}, batches padded")
    model.train()
    run = schedule.Run(config, output, rhythm, progress, state, base_val_loss)

    def save(folder: Path, metrics: dict) -> None:
        checkpoint.save(folder, model=model, tokenizer=tokenizer, settings=settings,
                        optimizer=optimizer, state=state, config=config, metrics=metrics)

    last_loss, stopped_early, stop = None, False, False
    while step < rhythm.total_steps and not (stop or stopped_early):
        epoch, position = divmod(step, rhythm.steps_per_epoch)
        run.restart_clock()
        for step_ids in plan(epoch)[position:]:
            mx.random.seed(step_seed(config.seed, step))
            last_loss, tokens = update(step_ids)
            step += 1
            stop, stopped_early = run.stepped(step, loss=last_loss, lr=rate(step).item(),
                                              tokens=tokens, cancelled=cancelled,
                                              evaluate=evaluate, save=save)
            if stop or stopped_early or step >= rhythm.total_steps:
                break

    adapters.save_adapter(model, output / "adapter", settings=settings, tokenizer=tokenizer)
    return schedule.finish(output, state, step=step, base_val_loss=base_val_loss,
                           last_loss=last_loss, stopped_early=stopped_early, progress=progress)
