"""Benchmark: how long until the desktop window is on screen.

    .venv/bin/python benchmarks/startup.py [--runs 5]

Starts a fresh Python process that opens the main window (offscreen), processes the
events that paint it, and exits; the wall time of that process is measured from
outside, over several runs, with an empty data folder and with an imported blog.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPEN_WINDOW = (
    "from desktop.app import make_app; from desktop.main_window import MainWindow; "
    "from engine.store import Store; app = make_app(); w = MainWindow(Store()); w.show(); "
    "app.processEvents(); import sys; "
    "assert 'torch' not in sys.modules and 'llama_cpp' not in sys.modules")


def time_start(env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", OPEN_WINDOW], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.import_corpus import make_blog

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
               "OWNVOICE_HOME": str(Path(tmp) / "empty"),
               "XDG_CONFIG_HOME": str(Path(tmp) / "config")}
        time_start(env)  # first run assembles the built-in model: not what we measure
        rows.append(("empty data folder", [time_start(env) for _ in range(args.runs)]))
        env["OWNVOICE_HOME"] = str(Path(tmp) / "blog-home")
        make_blog(Path(tmp) / "blog", posts=400, images=0)
        subprocess.run([str(Path(sys.executable).parent / "ownvoice"), "import",
                        str(Path(tmp) / "blog")], env=env, check=True, capture_output=True)
        time_start(env)
        rows.append(("400 imported posts", [time_start(env) for _ in range(args.runs)]))
    print(f"{'data':<22}{'median s':>10}{'max s':>8}   (window shown, {args.runs} runs)")
    for name, times in rows:
        print(f"{name:<22}{statistics.median(times):>10.2f}{max(times):>8.2f}")
    from benchmarks.record import save

    save("startup", {f"window s, {name}": statistics.median(times) for name, times in rows})


if __name__ == "__main__":
    main()
