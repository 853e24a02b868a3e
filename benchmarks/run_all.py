"""`make bench`: every benchmark in this folder, then one table of their headline numbers
beside the previous run's (benchmarks/results/*.json).

    .venv/bin/python benchmarks/run_all.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["import_corpus", "translate", "document", "synth", "train", "dpo", "transfer",
              "startup"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=BENCHMARKS)
    args = parser.parse_args()
    failed = []
    for name in args.only:
        print(f"\n=== {name} ===", flush=True)
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(HERE.parent)}
        if subprocess.run([sys.executable, str(HERE / f"{name}.py")], env=env).returncode:
            failed.append(name)
    print(f"\n{'benchmark':<15}{'metric':<46}{'this run':>12}{'previous':>12}{'change':>9}")
    for name in args.only:
        path = HERE / "results" / f"{name}.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        previous = record.get("previous") or {}
        for metric, value in (record.get("metrics") or {}).items():
            before = previous.get(metric)
            change = f"{(value / before - 1) * 100:+.0f}%" if before else ""
            print(f"{name:<15}{metric[:45]:<46}{value:>12,.2f}"
                  f"{before if before is not None else '':>12}{change:>9}")
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
