"""LoRA fine-tuning entry point: the same command on a laptop CPU and on a GPU box.

    python -m engine.training JOB.json                 # train
    python -m engine.training JOB.json --resume        # continue after any interruption
    accelerate launch -m engine.training JOB.json      # several GPUs, no code change

JOB.json holds a TrainConfig (engine/training/config.py: every option with its help);
unknown keys are refused. Progress goes to OUTPUT_DIR/progress.jsonl as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.training", description=__doc__)
    parser.add_argument("job", help="the job file (JSON)")
    parser.add_argument("--resume", action="store_true", help="continue from the last "
                                                               "checkpoint")
    parser.add_argument("--max-steps", type=int, help="override max_steps")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    from engine.errors import OwnVoiceError
    from engine.training.config import TrainConfig
    from engine.training.loop import train

    try:
        config = TrainConfig.load(args.job, max_steps=args.max_steps)
        result = train(config, resume=args.resume)
    except OwnVoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
