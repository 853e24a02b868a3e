"""Writes the trainer's progress events (engine/events.py) to OUTPUT_DIR/progress.jsonl,
one JSON line each; the app, the CLI and the remote runner's follower read them back."""

from __future__ import annotations

import time
from pathlib import Path

from engine import events


class Progress:
    """Step, Evaluation, Checkpoint and Log events with the timing fields filled in."""

    def __init__(self, path: Path, total_steps: int, resumed_step: int, listener=None,
                 enabled: bool = True, memory_gb=None):
        """`memory_gb()`: peak accelerator memory so far (GB, 1e9 bytes) or None; default:
        torch's CUDA figure (None without a GPU)."""
        self.path = path
        self.memory_gb = memory_gb or cuda_memory_gb
        self.listener = listener
        self.total = total_steps
        self.start = time.perf_counter()
        self.first_step = resumed_step
        self.enabled = enabled  # one writer when several processes train together

    def _timing(self, step: int) -> dict:
        elapsed = time.perf_counter() - self.start
        done = step - self.first_step
        eta = elapsed / done * (self.total - step) if done > 0 else None
        memory = self.memory_gb()
        return {"total_steps": self.total, "elapsed_s": round(elapsed, 2),
                "eta_s": round(eta, 1) if eta else None,
                "gpu_memory_gb": round(memory, 2) if memory is not None else None}

    def step(self, step: int, *, epoch: float, loss: float, lr: float,
             tokens_per_s: float) -> events.Step:
        return self._write(events.Step(step=step, epoch=epoch, loss=loss, lr=lr,
                                       tokens_per_s=tokens_per_s, **self._timing(step)))

    def evaluation(self, step: int, *, val_loss: float | None,
                   base: bool = False) -> events.Evaluation:
        return self._write(events.Evaluation(step=step, val_loss=val_loss, base=base,
                                             **self._timing(step)))

    def checkpoint(self, step: int, *, val_loss: float | None, path: str,
                   best: bool) -> events.Checkpoint:
        return self._write(events.Checkpoint(step=step, val_loss=val_loss, path=path,
                                             best=best, **self._timing(step)))

    def log(self, step: int, message: str) -> events.Log:
        return self._write(events.Log(message=message, step=step))

    def _write(self, event):
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(events.encode(event) + "\n")
            if self.listener is not None:
                self.listener(event)
        return event


def cuda_memory_gb() -> float | None:
    """Peak GPU memory torch allocated so far (GB); None without CUDA."""
    import torch

    return torch.cuda.max_memory_allocated() / 1e9 if torch.cuda.is_available() else None


def trim(path: Path, keep_until: int) -> None:
    """A resumed run repeats the steps after its last checkpoint: drop their old lines (and
    the old run's closing log lines), so whoever tails the file sees every step once, in
    order."""
    if not path.exists():
        return
    kept = [event for event in events.read(path)  # a line cut by the kill is dropped too
            if event.step < keep_until or (event.step == keep_until > 0
                                           and not isinstance(event, events.Log))]
    partial = path.with_name(path.name + ".part")
    partial.write_text("".join(events.encode(e) + "\n" for e in kept), "utf-8")
    partial.replace(path)
