"""MLX's work in a process of its own (engine/training/mlx_process.py starts it): on a Mac,
Metal running out of memory aborts the process that asked for the memory, and that must not
be the desktop app.

    python -m engine.training.mlx_lora train JOB.json [--resume] [--cancel-file PATH]
                                                     [--parent PID]
    python -m engine.training.mlx_lora score JOB.json
    python -m engine.training.mlx_lora fuse BASE ADAPTER_DIR OUT_DIR

`train` prints each progress event as one JSON line on stdout (engine/events.py's encoding)
and leaves OUTPUT_DIR/result.json; it stops after the current step once the cancel file
exists or the process `--parent` names is gone. `score` prints the measured checkpoints (a
JSON list, best first); `fuse` prints {"folder", "parameters"}. A user's error: `error: ONE
LINE` on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.training.mlx_lora",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train_args = commands.add_parser("train", help="train (or resume) a job's LoRA")
    train_args.add_argument("job", help="the job file (JSON: a TrainConfig)")
    train_args.add_argument("--resume", action="store_true")
    train_args.add_argument("--cancel-file", help="stop after the step during which it "
                                                  "appears")
    train_args.add_argument("--parent", type=int, help="the starting process's id: stop (as "
                                                       "when cancelled) once it is gone")
    score_args = commands.add_parser("score", help="measure a run's best checkpoints")
    score_args.add_argument("job")
    fuse_args = commands.add_parser("fuse", help="fuse an adapter into its base")
    for name in ("base", "adapter_dir", "out_dir"):
        fuse_args.add_argument(name)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    from engine.errors import OwnVoiceError

    try:
        print(json.dumps(run(args)), flush=True)
    except OwnVoiceError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def run(args) -> object:
    """The command's result, JSON-ready."""
    from engine import events
    from engine.training.config import TrainConfig

    if args.command == "fuse":
        from engine.training.mlx_lora.fuse import fuse

        folder, parameters = fuse(args.base, args.adapter_dir, args.out_dir)
        return {"folder": str(folder), "parameters": parameters}
    config = TrainConfig.load(args.job)
    if args.command == "score":
        from engine.training.mlx_lora.choose import score

        return score(config)
    from dataclasses import asdict

    from engine.training.mlx_lora.loop import train

    cancel = Path(args.cancel_file) if args.cancel_file else None

    def cancelled() -> bool:
        """Asked, or orphaned: the app that started this run is gone (this process was
        handed to another parent), so its last checkpoint is kept for a resume."""
        orphaned = args.parent is not None and os.getppid() != args.parent
        return orphaned or bool(cancel and cancel.exists())

    def tell(event) -> None:
        print(events.encode(event), flush=True)

    result = train(config, resume=args.resume, on_progress=tell, cancelled=cancelled)
    return {"result": asdict(result)}


if __name__ == "__main__":
    sys.exit(main())
