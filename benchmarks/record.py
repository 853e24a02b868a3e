"""Every benchmark's headline numbers, kept as JSON (benchmarks/results/<name>.json) so a
later run can be compared; `benchmarks/run_all.py` prints them as one table."""

from __future__ import annotations

import json
import platform
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    import os

    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = ", " + torch.cuda.get_device_name()
    except ImportError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{gpu}"


def save(name: str, metrics: dict[str, float], *, details: dict | None = None) -> Path:
    """metrics: a flat {label: number} of the figures worth comparing run to run."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    record = {"date": date.today().isoformat(), "machine": machine(),
              "metrics": {k: round(float(v), 3) for k, v in metrics.items()},
              "previous": previous.get("metrics"), **(details or {})}
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False))
    return path
