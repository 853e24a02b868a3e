"""Direct Preference Optimization (Rafailov et al., 2023) in OwnVoice's own training loop.

After supervised training, the writer's judgments (engine/pairs/preferences.py: chosen and
rejected answers to the same prompt) teach the model which of two close translations is
*theirs*. The policy starts from the supervised adapter and keeps training it; the
reference is that same supervised model, frozen. Since the policy equals the reference
before its first step, the reference's log-probabilities are computed once, at the start,
by the policy itself in evaluation mode (no second model in memory), and saved in the run's
folder: a resumed run reads them back and continues exactly.

Per preference i, with log-probabilities summed over the answer's tokens (end of turn
included, as the supervised loss counts them):

    margin_i = (log π(chosen) − log π(rejected)) − (log ref(chosen) − log ref(rejected))
    loss     = Σ w_i · −log σ(β · margin_i) / Σ w_i

(β: `dpo_beta`; w: each preference's weight). Preference accuracy is the weighted share of
preferences whose margin is positive, a tie counting half: exactly 0.5 before training.
Micro-batches are padded, one row per answer (chosen and rejected of a preference side by
side); TRL's preference format is read (`prompt`, `chosen`, `rejected`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import OwnVoiceError
from engine.training import data

REFERENCE_FILE = "reference_logps.pt"


@dataclass
class Preference:
    chosen: data.Example
    rejected: data.Example
    weight: float
    index: int  # its place in the file: the key of its reference log-probabilities

    def __len__(self) -> int:
        return len(self.chosen.input_ids) + len(self.rejected.input_ids)


def encode(tokenizer, record: dict, max_length: int, index: int) -> Preference:
    """A TRL conversational preference record (prompt messages; chosen and rejected: one
    assistant message each) as two examples sharing the prompt. Raises OwnVoiceError for a
    record of another shape."""
    try:
        prompt, chosen, rejected = record["prompt"], record["chosen"], record["rejected"]
        answers = [chosen[-1], rejected[-1]]
    except (KeyError, IndexError, TypeError):
        raise OwnVoiceError(f"Preference {index + 1} is not in TRL's preference format "
                            "(prompt, chosen, rejected): write it with `ownvoice dataset "
                            "export --format preference`.") from None
    if any(a.get("role") != "assistant" for a in answers):
        raise OwnVoiceError(f"Preference {index + 1}: chosen and rejected must each be an "
                            "assistant message.")
    examples = [data.encode(tokenizer, {"messages": [*prompt, answer]}, max_length)
                for answer in answers]
    return Preference(*examples, weight=float(record.get("weight", 1.0)), index=index)


def encode_files(tokenizer, config) -> tuple[list[Preference], list[Preference]]:
    """The job's training and validation preferences (`config.train_file`, `val_file`),
    without those whose prompt fills `config.max_length` (no answer token left to compare:
    their margin would always be 0)."""
    def encoded(path) -> list[Preference]:
        found = [encode(tokenizer, record, config.max_length, i)
                 for i, record in enumerate(data.read_jsonl(path))]
        return [p for p in found if all(any(label != data.IGNORE for label in side.labels)
                                        for side in (p.chosen, p.rejected))]

    return encoded(config.train_file), encoded(config.val_file) if config.val_file else []


def collate(preferences: list[Preference], pad_id: int) -> dict:
    """A padded micro-batch: rows 2i and 2i + 1 are preference i's chosen and rejected
    answers (`data.collate`: input_ids, labels, attention_mask [2B, L]); `weights` [B] the
    preferences' weights; `index` [B] their places in the file."""
    import torch

    rows = [e for p in preferences for e in (p.chosen, p.rejected)]
    batch = data.collate(rows, pad_id)
    batch["weights"] = torch.tensor([p.weight for p in preferences], dtype=torch.float32)
    batch["index"] = torch.tensor([p.index for p in preferences], dtype=torch.long)
    return batch


def sequence_logps(model, batch: dict, *, select_logits: bool = True):
    """Each row's log-probability of its learnt tokens (the answer and its end of turn),
    summed, in float32: [2B]. With `select_logits` (loop.supports() says whether this
    transformers can) logits are computed only where a learnt token is predicted."""
    import torch

    targets = torch.full_like(batch["labels"], data.IGNORE)
    targets[:, :-1] = batch["labels"][:, 1:]
    keep = targets != data.IGNORE
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
              "use_cache": False}
    if select_logits:
        logits = model(**inputs, logits_to_keep=keep).logits
    else:
        logits = model(**inputs).logits[keep]
    logits = logits.reshape(-1, logits.size(-1)).float()
    picked = torch.log_softmax(logits, -1).gather(-1, targets[keep][:, None])[:, 0]
    rows = torch.arange(keep.size(0), device=keep.device)[:, None].expand_as(keep)[keep]
    return torch.zeros(keep.size(0), device=logits.device).index_add(0, rows, picked)


def loss_of(policy, reference, weights, beta: float):
    """policy, reference: [2B] log-probabilities (chosen, rejected, chosen, …); weights [B]
    → (weighted DPO loss, weighted preference accuracy, weighted mean margin), scalars."""
    import torch.nn.functional as F

    margin = (policy[0::2] - policy[1::2]) - (reference[0::2] - reference[1::2])
    weights = weights.to(margin.device, margin.dtype)
    total = weights.sum().clamp(min=1e-8)
    won = (margin > 0).float() + 0.5 * (margin == 0).float()
    return ((-F.logsigmoid(beta * margin) * weights).sum() / total,
            (won * weights).sum() / total, (margin * weights).sum() / total)


class Reference:
    """The reference (supervised) model's log-probabilities of every answer, by the
    preference's place in its file: `train` and `val` tensors [N, 2] (chosen, rejected)."""

    def __init__(self, train, val):
        self.train, self.val = train, val

    @classmethod
    def compute(cls, model, sets: dict[str, list[Preference]], *, pad_id: int, device,
                batch_size: int, select_logits: bool = True) -> Reference:
        """With `model` as it is (the policy before its first step: the reference), in
        evaluation mode, without gradients."""
        import torch

        was_training = model.training
        model.eval()
        found = {}
        with torch.no_grad():
            for name, preferences in sets.items():
                table = torch.zeros(len(preferences), 2)
                for start in range(0, len(preferences), batch_size):
                    chunk = preferences[start:start + batch_size]
                    batch = {k: v.to(device) for k, v in collate(chunk, pad_id).items()}
                    logps = sequence_logps(model, batch,
                                           select_logits=select_logits).float().cpu()
                    table[[p.index for p in chunk]] = logps.view(-1, 2)
                found[name] = table
        model.train(was_training)
        return cls(found.get("train"), found.get("val"))

    def rows(self, name: str, index):
        """[2B] reference log-probabilities for the preferences at `index` [B]."""
        table = self.train if name == "train" else self.val
        return table[index.cpu()].reshape(-1)

    def save(self, folder: Path) -> None:
        import torch

        partial = Path(folder) / (REFERENCE_FILE + ".part")
        torch.save({"train": self.train, "val": self.val}, partial)
        partial.replace(Path(folder) / REFERENCE_FILE)

    @classmethod
    def load(cls, folder: Path) -> Reference | None:
        import torch

        path = Path(folder) / REFERENCE_FILE
        if not path.exists():
            return None
        saved = torch.load(path, weights_only=True)
        return cls(saved["train"], saved["val"])


def micro_batch_loss(model, batch: dict, reference: Reference, *, split: str, beta: float,
                     select_logits: bool = True):
    """The DPO loss of a micro-batch (`collate` output, on the model's device) and its
    accuracy and margin: (loss, accuracy, margin)."""
    policy = sequence_logps(model, batch, select_logits=select_logits)
    return loss_of(policy, reference.rows(split, batch["index"]).to(policy.device),
                   batch["weights"], beta)
