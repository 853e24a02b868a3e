"""SFTP upload and download (OwnVoice's resumable, sha256-checked transfers) against
OpenSSH's own `scp` on the same link: a real sshd on 127.0.0.1, a file of --size-mb.

    .venv/bin/python benchmarks/transfer.py [--size-mb 1024] [--runs 2]

Prints a table of MB/s (best of --runs) and keeps the numbers in benchmarks/results/.
OwnVoice's figures include the sha256 on both ends.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    from remote import transfer
    from remote.session import Host, Session, pin
    from tests.sshd import SSHServer

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["OWNVOICE_HOME"] = str(tmp / "home")
        source = tmp / "model.gguf"
        with source.open("wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(1 << 20))
        size_mb = source.stat().st_size / 1e6
        with SSHServer(tmp / "sshd") as server:
            host = Host(name="bench", user=server.user, host="127.0.0.1", port=server.port,
                        key_file=str(server.client_key))
            pin(host, server.fingerprint)
            scp = ["scp", "-q", "-P", str(server.port), "-i", str(server.client_key),
                   "-o", f"UserKnownHostsFile={tmp / 'home' / 'ssh' / 'known_hosts'}",
                   "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
            remote_target = f"{server.user}@127.0.0.1:{tmp / 'scp-up.bin'}"
            results = {"ownvoice upload": [], "scp upload": [], "ownvoice download": [],
                       "scp download": []}
            with Session(host) as session:
                for run in range(args.runs):
                    for path in tmp.glob("*-up.bin*"):
                        path.unlink()
                    target = str(tmp / f"ov-up.bin{run}")
                    results["ownvoice upload"].append(timed(lambda t=target: transfer.upload(
                        session, source, t)))
                    results["scp upload"].append(timed(lambda: subprocess.run(
                        [*scp, str(source), remote_target], check=True)))
                    back = tmp / f"ov-down-{run}.bin"
                    results["ownvoice download"].append(timed(lambda b=back: transfer.download(
                        session, str(source), b)))
                    back.unlink()
                    results["scp download"].append(timed(lambda: subprocess.run(
                        [*scp, f"{server.user}@127.0.0.1:{source}", str(tmp / "scp-down.bin")],
                        check=True)))
                    (tmp / "scp-down.bin").unlink()
    rows = {name: round(size_mb / min(times), 1) for name, times in results.items()}
    print(f"\n{size_mb:.0f} MB over SSH on 127.0.0.1, best of {args.runs} (MB/s):\n")
    print("| transfer | MB/s |\n|---|---:|")
    for name, rate in rows.items():
        print(f"| {name} | {rate} |")
    for way in ("upload", "download"):
        print(f"ownvoice / scp {way}: {rows[f'ownvoice {way}'] / rows[f'scp {way}']:.0%}")
    from benchmarks.record import save

    save("transfer", {f"MB/s {name}": rate for name, rate in rows.items()},
         details={"size_mb": size_mb})
    return 0


if __name__ == "__main__":
    sys.exit(main())
