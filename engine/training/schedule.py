"""What every trainer (torch's loop.py, MLX's mlx_lora/loop.py) decides the same way: how
many steps, when to evaluate and checkpoint, when validation loss has stopped improving,
what is reported after each step (`Run`) and what a finished run reports (`finish`).

The loop's `state` (saved in every checkpoint, so a resumed run continues it) holds `step`,
`best` (lowest validation loss so far), `best_path` (its checkpoint folder), `stale`
(evaluations since the last improvement) and `history` (one entry per evaluation).
Standard library only: no trainer's framework is needed to read it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


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


@dataclass(frozen=True)
class Schedule:
    """A run's length and rhythm, in optimizer steps."""

    steps_per_epoch: int
    total_steps: int
    eval_every: int  # evaluate and checkpoint after every this many steps

    @classmethod
    def of(cls, config, steps_per_epoch: int) -> Schedule:
        """`config.max_steps`, else `config.epochs` passes; `config.evals_per_epoch`
        evaluations per pass (at least one step apart)."""
        total = config.max_steps or math.ceil(config.epochs * steps_per_epoch)
        return cls(steps_per_epoch, total,
                   max(1, steps_per_epoch // max(1, config.evals_per_epoch)))

    def evaluates(self, step: int, *, stopping: bool) -> bool:
        """Whether the loop evaluates and checkpoints after `step` (also at the last step
        and when the run is being stopped, so a cancelled run can resume)."""
        return step % self.eval_every == 0 or step == self.total_steps or stopping

    def epoch(self, step: int) -> float:
        return round(step / self.steps_per_epoch, 3)


def new_state(**extra) -> dict:
    """A fresh loop state; `extra`: the trainer's own entries (e.g. its batch layout)."""
    return {"step": 0, "best": None, "best_path": None, "stale": 0, "history": [], **extra}


def checkpoint_folder(output: Path | str, step: int) -> Path:
    return Path(output) / "checkpoints" / f"step-{step:06d}"


def record_evaluation(state: dict, output: Path | str, *, step: int,
                      train_loss: float | None, val_loss: float | None,
                      base_val_loss: float | None) -> tuple[Path, bool]:
    """Enters an evaluation into `state` (history, best, stale, step); returns the folder
    its checkpoint goes to and whether it is the best so far."""
    state["history"].append({"step": step, "train_loss": train_loss, "val_loss": val_loss,
                             "base_val_loss": base_val_loss})
    improved = val_loss is not None and (state["best"] is None or val_loss < state["best"])
    folder = checkpoint_folder(output, step)
    if improved:
        state.update(best=val_loss, stale=0, best_path=str(folder))
    elif val_loss is not None:
        state["stale"] += 1
    state["step"] = step
    return folder, improved


def stops_early(state: dict, config, progress, step: int) -> bool:
    """True (and says so in the progress log) once `config.early_stopping_patience`
    evaluations in a row did not improve on the best validation loss."""
    if state["stale"] < config.early_stopping_patience:
        return False
    progress.log(step, f"stopped early at step {step}: validation loss stopped improving "
                       f"(best {state['best']:.4f})")
    return True


class Run:
    """What a trainer does after each optimizer step, the same for every trainer: report
    the step (with tokens/s since the last one), ask whether to stop, and when the schedule
    says so evaluate, checkpoint and check for early stopping."""

    def __init__(self, config, output: Path | str, rhythm: Schedule, progress, state: dict,
                 base_val_loss: float | None):
        self.config, self.output, self.rhythm = config, Path(output), rhythm
        self.progress, self.state, self.base_val_loss = progress, state, base_val_loss
        self.started = time.perf_counter()

    def restart_clock(self) -> None:
        """Tokens/s counts from here (an epoch's start: waiting for its data counts)."""
        self.started = time.perf_counter()

    def stepped(self, step: int, *, loss: float, lr: float, tokens: float,
                cancelled: Callable[[], bool] | None, evaluate: Callable[[], float | None],
                save: Callable[[Path, dict], object]) -> tuple[bool, bool]:
        """After optimizer step `step` (mean training loss `loss`, learning rate `lr` of the
        next step, `tokens` real tokens): returns (cancelled, stopped early). `evaluate()`
        → validation loss or None, or (validation loss, other metrics: kept in the history,
        the checkpoint's metrics and a progress log line); `save(folder, metrics)` writes
        the checkpoint."""
        now = time.perf_counter()
        self.progress.step(step, epoch=self.rhythm.epoch(step), loss=round(loss, 5), lr=lr,
                           tokens_per_s=round(tokens / (now - self.started), 1))
        self.started = now
        stop = cancelled is not None and cancelled()
        if not self.rhythm.evaluates(step, stopping=stop):
            return stop, False
        val_loss, extra = _split(evaluate())
        folder, improved = record_evaluation(self.state, self.output, step=step,
                                             train_loss=loss, val_loss=val_loss,
                                             base_val_loss=self.base_val_loss)
        self.state["history"][-1].update(extra)
        if extra:
            self.progress.log(step, "held-out " + ", ".join(
                f"{name.replace('_', ' ')} {value:.4f}" for name, value in extra.items()))
        save(folder, {"step": step, "train_loss": loss, "val_loss": val_loss, **extra})
        self.progress.checkpoint(step, val_loss=val_loss, path=str(folder), best=improved)
        return stop, stops_early(self.state, self.config, self.progress, step)


def _split(measured) -> tuple[float | None, dict]:
    """An evaluation's (validation loss, other metrics)."""
    return measured if isinstance(measured, tuple) else (measured, {})


def base_val_loss_of(state: dict) -> float | None:
    """The base model's validation loss, as the run's first evaluation recorded it."""
    return state["history"][0].get("base_val_loss") if state["history"] else None


def finish(output: Path | str, state: dict, *, step: int, base_val_loss: float | None,
           last_loss: float | None, stopped_early: bool, progress,
           write: bool = True) -> TrainResult:
    """The run's result (its adapter: the best checkpoint's, else OUTPUT/adapter, where the
    trainer saves the final one), written to OUTPUT/result.json with the closing log
    (`write`: false in all but one of several processes that train together)."""
    output = Path(output)
    best_path = state["best_path"]
    result = TrainResult(steps=step, base_val_loss=base_val_loss, best_checkpoint=best_path,
                         best_val_loss=state["best"], final_train_loss=last_loss,
                         stopped_early=stopped_early,
                         adapter_dir=str(Path(best_path) / "adapter" if best_path
                                         else output / "adapter"),
                         history=state["history"])
    if write:
        (output / "result.json").write_text(json.dumps(asdict(result), indent=2))
    progress.log(step, f"training finished at step {step}"
                 + (f", best validation loss {state['best']:.4f}"
                    if state["best"] is not None else ""))
    return result
