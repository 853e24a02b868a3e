"""The training loop: LoRA SFT with transformers + peft, on a CPU or GPUs (accelerate).

Reads top to bottom: load the base and its tokenizer, wrap it with LoRA, encode the data,
then step through a fixed plan of batches; evaluate and checkpoint several times per
epoch; stop early when validation loss stops improving. `resume` continues from the last
checkpoint exactly where an interrupted run stopped: same steps, same data order, same
result. Under `accelerate launch` (or torchrun) every process takes its share of each
step's micro-batches; the script does not change.

A micro-batch is packed (engine/training/data.py `pack`: its examples end to end in one row,
no padding) or padded (`collate`), as `packing` says (auto: packed under flash-attention,
padded under sdpa/eager, whose block-diagonal mask over a packed row costs more than the
padding it saves). The loss is the same either way: cross-entropy over the assistant's
tokens, each weighted by its pair's weight, divided by the sum of those weights
(`micro_batch_loss`). Logits are computed only where a learnt token is predicted, not over
the prompt (transformers' `logits_to_keep`). A checkpoint records the layout its run used,
and a resumed run keeps it.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.training import checkpoint, data, dpo, schedule
from engine.training.base import (
    VARLEN_ATTENTION,
    attention,
    end_of_turn_ids,
    load_base,
    packing,
    precision,
    settle_chat_template,
)
from engine.training.config import TrainConfig
from engine.training.progress import Progress, trim
from engine.training.schedule import TrainResult


def shifted_targets(labels, weights):
    """What each position predicts: the next token's label and its pair weight (IGNORE and
    0 at each row's end). labels [B, T] int64; weights [B] (one per row, padded batches) or
    [B, T] (one per token, packed rows) → targets [B, T] int64, token weights [B, T] float."""
    import torch

    targets = torch.full_like(labels, data.IGNORE)
    targets[:, :-1] = labels[:, 1:]
    weights = weights.to(labels.device, torch.float32)
    per_token = weights[:, None].expand(labels.shape) if weights.dim() == 1 else weights
    token_weights = torch.zeros(labels.shape, dtype=torch.float32, device=labels.device)
    token_weights[:, :-1] = per_token[:, 1:]
    return targets, token_weights


def token_loss(logits, targets, weights):
    """Σ weight × cross-entropy / Σ weight over K predicted tokens: logits [K, V],
    targets [K], weights [K] → (loss, K as a tensor)."""
    import torch.nn.functional as F

    per_token = F.cross_entropy(logits.float(), targets, reduction="none")
    return ((per_token * weights).sum() / weights.sum().clamp(min=1e-8),
            targets.new_tensor(targets.numel()))


def weighted_loss(logits, labels, weights):
    """Token cross-entropy over the learnt tokens, each weighted by its pair weight.
    logits [B, T, V]; labels [B, T] (IGNORE where nothing is learnt); weights [B] or
    [B, T] → (loss, number of learnt tokens)."""
    targets, token_weights = shifted_targets(labels, weights)
    keep = targets != data.IGNORE
    return token_loss(logits[keep], targets[keep], token_weights[keep])


def on_device(batch: dict, device) -> dict:
    """A micro-batch's tensors on `device`; a packed one's longest example also as a Python
    int (`max_length`), read on the CPU, where reading it costs no wait for the GPU."""
    moved = {key: value.to(device) for key, value in batch.items()}
    if "cu_seq_lens" in batch:
        moved["max_length"] = int((batch["cu_seq_lens"][1:] - batch["cu_seq_lens"][:-1]).max())
    return moved


def micro_batch_loss(model, batch: dict, *, select_logits: bool = True,
                     varlen: bool = False):
    """The trainer's loss of one micro-batch (`data.pack` or `data.collate` output, through
    `on_device`): the same number as `weighted_loss` over full logits. `varlen`: the model
    runs flash-attention, which gets a packed row's example boundaries as they are
    (`cu_seq_lens_q/k`, `max_length_q/k`) instead of reading them off the position ids
    with a wait for the GPU in every layer. With
    `select_logits` the model projects to the vocabulary only the positions that predict a
    learnt token (a boolean `logits_to_keep`; `supports` says whether transformers can); the
    cache is off, which packed rows need (with a cache, transformers does not look for
    position-id restarts and lets every token of the row see the examples before it)."""
    targets, token_weights = shifted_targets(batch["labels"], batch["weights"])
    keep = targets != data.IGNORE
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids") if k in batch}
    if varlen and "cu_seq_lens" in batch:
        inputs.update(cu_seq_lens_q=batch["cu_seq_lens"], cu_seq_lens_k=batch["cu_seq_lens"],
                      max_length_q=batch["max_length"], max_length_k=batch["max_length"])
    if select_logits:
        logits = model(**inputs, use_cache=False, logits_to_keep=keep).logits
        logits = logits.reshape(-1, logits.size(-1))
    else:
        logits = model(**inputs, use_cache=False).logits[keep]
    return token_loss(logits, targets[keep], token_weights[keep])


def real_tokens(batch: dict) -> int:
    """Tokens of the examples themselves (padding not counted)."""
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else batch["input_ids"].numel()


def supports() -> dict[str, bool]:
    """What this transformers can do: packed rows read from position ids
    (`masking_utils.find_packed_sequence_indices`) and logits for a boolean selection of
    positions (`slice_logits_to_keep`)."""
    from transformers import masking_utils, modeling_utils

    return {"packing": hasattr(masking_utils, "find_packed_sequence_indices"),
            "select_logits": hasattr(modeling_utils, "slice_logits_to_keep")}


def with_lora(model, tokenizer, config: TrainConfig):
    """The base as OwnVoice trains it: the tokenizer's chat template settled (the config's,
    the base's own, or its family's default), LoRA on the family's projections, the
    end-of-turn rows trainable, gradient checkpointing when asked. Returns the peft model;
    `config` gets its resolved target modules and template."""
    from peft import LoraConfig, get_peft_model

    config.resolved(model.config.model_type)
    settle_chat_template(tokenizer, config)
    eot = end_of_turn_ids(tokenizer) if config.train_end_of_turn else []
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=config.target_modules,
                      task_type="CAUSAL_LM", trainable_token_indices=eot or None,
                      layers_to_transform=last_layers(model, config.lora_layers))
    model = get_peft_model(model, lora)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={
            "use_reentrant": False})  # the reentrant variant breaks under DDP
        model.enable_input_require_grads()
    return model


def with_adapter(model, tokenizer, config: TrainConfig):
    """The base with the supervised adapter `config.init_adapter` loaded trainable (its
    LoRA and end-of-turn rows), for a preference run that continues it, every dropout off;
    the chat template settled as for supervised training, gradient checkpointing when
    asked."""
    from peft import PeftModel

    config.resolved(model.config.model_type)
    settle_chat_template(tokenizer, config)
    folder = Path(config.init_adapter).expanduser()
    if not (folder / "adapter_model.safetensors").is_file():
        raise OwnVoiceError(f"{folder} is not a LoRA adapter folder (no "
                            "adapter_model.safetensors): give the supervised run's adapter.")
    model = PeftModel.from_pretrained(model, str(folder), is_trainable=True)
    import torch

    # Dropout off (as TRL's DPO does): the policy's log-probabilities must be the same
    # function as the reference's, computed in evaluation mode; with dropout the margin is
    # noise before the first step, not 0.
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={
            "use_reentrant": False})
        model.enable_input_require_grads()
    return model


def last_layers(model, count: int | None) -> list[int] | None:
    """peft's `layers_to_transform` for LoRA on the last `count` layers (None: all), as
    mlx-lm's `num_layers` chooses them."""
    total = getattr(model.config, "num_hidden_layers", None) or getattr(
        getattr(model.config, "text_config", None), "num_hidden_layers", None)
    if count is None or total is None or count >= total:
        return None
    return list(range(total - count, total))


def train(config: TrainConfig, *, resume: bool = False, cancelled=None,
          on_progress=None, base=None) -> TrainResult:
    """Train a LoRA on `config.base_model`; `resume` continues the last complete checkpoint.

    `cancelled()` is asked after every step (true: checkpoint and stop); `on_progress`
    receives every progress event. `base`: a (tokenizer, model) pair already loaded in the
    training precision, instead of `config.base_model` (the benchmarks' randomly initialised
    shapes). Raises OwnVoiceError for a base that does not load, bad data or options."""
    import torch
    from accelerate import Accelerator
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
    last = checkpoint.complete(output)[-1] if resume and checkpoint.complete(output) else None

    # --- the model ------------------------------------------------------------------------
    implementation = attention(config.attention, cuda=cuda, bf16=bf16)
    tokenizer, model = base or load_base(config, torch.bfloat16 if bf16 else torch.float32,
                                         attn_implementation=implementation)
    implementation = model.config._attn_implementation
    can = supports()
    preferring = config.objective == "dpo"  # preferences (dpo.py); else chat examples
    packed = packing(config.packing, implementation) and can["packing"] and not preferring
    if config.packing in ("on", True) and not can["packing"]:
        raise OwnVoiceError("packing on needs a transformers that reads packed rows from "
                            "position ids (5.x): upgrade it, or set packing to auto or off.")
    model = (with_adapter if preferring else with_lora)(model, tokenizer, config)

    # --- the data -------------------------------------------------------------------------
    train_set, val_set = (dpo if preferring else data).encode_files(tokenizer, config)
    lengths = [len(e) if preferring else len(e.input_ids) for e in train_set]

    def plan(epoch: int) -> list[list[list[int]]]:
        return data.step_plan(lengths, config.batch_size, config.seed, epoch,
                              accumulate=config.grad_accum, processes=world)

    rhythm = schedule.Schedule.of(config, len(plan(0)))
    steps_per_epoch, total_steps = rhythm.steps_per_epoch, rhythm.total_steps
    pad = tokenizer.pad_token_id
    select = can["select_logits"]
    varlen = implementation in VARLEN_ATTENTION

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps,
                                                max(total_steps, 1))
    # The scheduler stays unprepared: accelerate would step it once per process, but our
    # steps are already counted across processes.
    model, optimizer = accelerator.prepare(model, optimizer)

    # --- resume ---------------------------------------------------------------------------
    state = schedule.new_state(processes=world, packed=packed)
    if last is not None:
        state = checkpoint.load(accelerator, last, model=model, optimizer=optimizer,
                                scheduler=scheduler)
        if state.get("processes", 1) != world:
            raise OwnVoiceError(f"This run was trained by {state.get('processes', 1)} "
                                f"process(es); resume it with the same number, not {world}.")
        # The layout the run began with (checkpoints from before packing: padded).
        packed = state.setdefault("packed", False) and can["packing"]
    step = state["step"]
    if main:
        trim(output / "progress.jsonl", step if resume else 0)
        config.save(output / "config.json")
    progress = Progress(output / "progress.jsonl", total_steps, step, on_progress,
                        enabled=main)

    def evaluate() -> float | tuple[float | None, dict] | None:
        """Token-weighted validation loss (DPO: preference-weighted loss, with the held-out
        preference accuracy and margin); each process scores its share, summed across."""
        if not val_set:
            return None
        plain = accelerator.unwrap_model(model)  # no collectives inside the forward pass
        plain.eval()
        sums = torch.zeros(4, device=accelerator.device)
        with torch.no_grad():
            batches = data.batch_order([len(e) if preferring else len(e.input_ids)
                                        for e in val_set], config.batch_size, 0, 0)
            for batch_ids in batches[rank::world]:
                batch = on_device(batch_of([val_set[i] for i in batch_ids]),
                                  accelerator.device)
                if preferring:
                    weight = batch["weights"].sum()
                    loss, accuracy, margin = dpo.micro_batch_loss(
                        plain, batch, reference, split="val", beta=config.dpo_beta,
                        select_logits=select)
                    sums += torch.stack([loss * weight, weight, accuracy * weight,
                                         margin * weight]).float()
                    continue
                loss, tokens = micro_batch_loss(plain, batch, select_logits=select,
                                                varlen=varlen)
                sums += torch.stack([loss.float() * tokens, tokens.float(),
                                     torch.zeros((), device=sums.device),
                                     torch.zeros((), device=sums.device)])
        sums = accelerator.reduce(sums, "sum")
        plain.train()
        if not float(sums[1]):
            return None
        val_loss = float(sums[0] / sums[1])
        if not preferring:
            return val_loss
        return val_loss, {"preference_accuracy": round(float(sums[2] / sums[1]), 4),
                          "margin": round(float(sums[3] / sums[1]), 4)}

    def batch_of(examples: list) -> dict:
        if preferring:
            return dpo.collate(examples, pad)
        return data.pack(examples) if packed else data.collate(examples, pad)

    def micro_batches(step_ids: list[list[int]]):
        return [batch_of([train_set[i] for i in ids]) for ids in step_ids]

    # --- the loop -------------------------------------------------------------------------
    reference = None
    if preferring:  # the supervised model's log-probabilities, once, before any step
        reference = dpo.Reference.load(output) if step else None
        if reference is None and step:
            raise OwnVoiceError(f"This preference run has no {dpo.REFERENCE_FILE} in "
                                f"{output}: it cannot continue; start it again.")
        if reference is None:
            reference = dpo.Reference.compute(
                accelerator.unwrap_model(model), {"train": train_set, "val": val_set},
                pad_id=pad, device=accelerator.device, batch_size=config.batch_size,
                select_logits=select)
            if main:
                reference.save(output)
    base_val_loss = schedule.base_val_loss_of(state)
    if step == 0 and val_set:  # where the base model stands: the fine-tune must beat it
        measured = evaluate()
        base_val_loss = measured[0] if isinstance(measured, tuple) else measured
        progress.evaluation(0, val_loss=base_val_loss, base=True)
    if step == 0:
        progress.log(0, f"batches {'packed' if packed else 'padded'}, attention "
                        f"{implementation}" + (f"; preferences (DPO, beta {config.dpo_beta}) "
                                               "from the supervised adapter" if preferring
                                               else ""))
    model.train()
    run = schedule.Run(config, output, rhythm, progress, state, base_val_loss)

    def save(folder: Path, metrics: dict) -> None:
        checkpoint.save(accelerator, folder, model=model, tokenizer=tokenizer,
                        optimizer=optimizer, scheduler=scheduler, state=state, config=config,
                        metrics=metrics)

    last_loss, stopped_early, stop = None, False, False
    while step < total_steps and not (stop or stopped_early):
        epoch, position = divmod(step, steps_per_epoch)
        mine = [step_ids[rank::world] for step_ids in plan(epoch)[position:]]
        loader = DataLoader(mine, batch_size=None, num_workers=config.num_workers,
                            collate_fn=micro_batches, persistent_workers=False,
                            # Its own generator: creating a loader must not draw from the
                            # global RNG (dropout's), or a resumed run would diverge.
                            generator=torch.Generator().manual_seed(config.seed + epoch))
        run.restart_clock()  # tokens/s includes waiting for data: a starved GPU shows
        for batches in loader:
            totals = torch.zeros(2, device=accelerator.device)  # loss sum, tokens
            for k, batch in enumerate(batches):
                tokens = real_tokens(batch)  # counted on the CPU: no wait for the GPU
                batch = on_device(batch, accelerator.device)
                syncing = k == len(batches) - 1  # gradients cross processes once per step
                with contextlib.nullcontext() if syncing else accelerator.no_sync(model):
                    if preferring:
                        loss, _, _ = dpo.micro_batch_loss(model, batch, reference,
                                                          split="train", beta=config.dpo_beta,
                                                          select_logits=select)
                    else:
                        loss, _ = micro_batch_loss(model, batch, select_logits=select,
                                                   varlen=varlen)
                    accelerator.backward(loss / len(batches))
                totals += torch.stack([loss.detach().float(),
                                       torch.tensor(float(tokens), device=totals.device)])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            totals[0] /= len(batches)
            totals = accelerator.reduce(totals, "sum")
            last_loss = float(totals[0]) / world
            stop, stopped_early = run.stepped(step, loss=last_loss,
                                              lr=scheduler.get_last_lr()[0],
                                              tokens=float(totals[1]), cancelled=cancelled,
                                              evaluate=evaluate, save=save)
            if stop or stopped_early or step >= total_steps:
                break

    if main:
        accelerator.unwrap_model(model).save_pretrained(output / "adapter")
        tokenizer.save_pretrained(output / "adapter")
    result = schedule.finish(output, state, step=step, base_val_loss=base_val_loss,
                             last_loss=last_loss, stopped_early=stopped_early,
                             progress=progress, write=main)
    accelerator.wait_for_everyone()
    return result
