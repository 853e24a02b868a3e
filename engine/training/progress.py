"""Progress as JSON lines (OUTPUT_DIR/progress.jsonl): the app and the remote runner tail it."""

from __future__ import annotations

import json
import time
from pathlib import Path


class Progress:
    def __init__(self, path: Path, total_steps: int, resumed_step: int, listener=None,
                 enabled: bool = True):
        self.path = path
        self.listener = listener
        self.total = total_steps
        self.start = time.perf_counter()
        self.first_step = resumed_step
        self.enabled = enabled  # one writer when several processes train together

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
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            if self.listener is not None:
                self.listener(record)
        return record


def trim(path: Path, keep_until: int) -> None:
    """A resumed run repeats the steps after its last checkpoint: drop their old lines, so
    whoever tails the file sees every step once, in order."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text("utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by the kill that interrupted the run
            continue
        if record.get("step", 0) <= keep_until and record.get("event") != "done":
            kept.append(line)
    partial = path.with_name(path.name + ".part")
    partial.write_text("".join(line + "\n" for line in kept), "utf-8")
    partial.replace(path)
