"""OwnVoice's transfers (resumable, sha256-checked on both ends) against OpenSSH's own `scp`
on the same link, in the same run: a real sshd on 127.0.0.1, a random file of --size-mb MiB.

    .venv/bin/python benchmarks/transfer.py [--size-mb 1024] [--runs 2] [--skip-paramiko]

OwnVoice's figures include the sha256 on both ends: once by its usual path (OpenSSH's
`sftp`), once by the paramiko fallback (taken when no OpenSSH client is on PATH). `scp` runs
as a user would run it, and once more with the cipher OwnVoice's sftp prefers (to show what
the cipher is worth). Prints a table of MB/s (best of --runs) and each path's ratio to plain
`scp`, and keeps the numbers in benchmarks/results/transfer.json. Both ends share this
machine's cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    parser.add_argument("--size-mb", type=int, default=1024, help="file size, MiB")
    parser.add_argument("--runs", type=int, default=2, help="best of this many")
    parser.add_argument("--skip-paramiko", action="store_true",
                        help="leave out the paramiko fallback (the slowest rows)")
    args = parser.parse_args()

    from remote import openssh, transfer
    from remote.session import Host, Session, pin
    from tests.sshd import SSHServer

    scp_program = shutil.which("scp")
    paths = ["OpenSSH"] if args.skip_paramiko else ["OpenSSH", "paramiko"]
    results: dict[str, list[float]] = {}
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
            scp = [scp_program, "-q", "-P", str(server.port), "-i", str(server.client_key),
                   "-o", f"UserKnownHostsFile={tmp / 'home' / 'ssh' / 'known_hosts'}",
                   "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
            cipher = ["-o", f"Ciphers={openssh.CIPHERS}"]
            on_box = f"{server.user}@127.0.0.1:"
            copy = tmp / "copy.bin"

            def measure(name: str, fn) -> None:
                results.setdefault(name, []).append(timed(fn))
                copy.unlink()

            def by(path: str, fn):
                """fn through OwnVoice's `path`: paramiko when no OpenSSH client is found."""
                def run() -> None:
                    saved = os.environ["PATH"]
                    if path == "paramiko":
                        os.environ["PATH"] = str(tmp / "no-programs-here")
                    try:
                        fn()
                    finally:
                        os.environ["PATH"] = saved
                return run

            with Session(host) as session:
                for _ in range(args.runs):
                    for path in paths:
                        measure(f"ownvoice upload ({path})",
                                by(path, lambda: transfer.upload(session, source, str(copy))))
                    measure("scp upload", lambda: subprocess.run(
                        [*scp, str(source), f"{on_box}{copy}"], check=True))
                    measure("scp upload (sftp's cipher)", lambda: subprocess.run(
                        [*scp, *cipher, str(source), f"{on_box}{copy}"], check=True))
                    for path in paths:
                        measure(f"ownvoice download ({path})",
                                by(path, lambda: transfer.download(session, str(source), copy)))
                    measure("scp download", lambda: subprocess.run(
                        [*scp, f"{on_box}{source}", str(copy)], check=True))
                    measure("scp download (sftp's cipher)", lambda: subprocess.run(
                        [*scp, *cipher, f"{on_box}{source}", str(copy)], check=True))
    rates = {name: round(size_mb / min(times), 1) for name, times in results.items()}
    print(f"\n{size_mb:.0f} MB over SSH on 127.0.0.1, best of {args.runs} (MB/s):\n")
    print("| transfer | MB/s |\n|---|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate} |")
    ratios = {}
    for way in ("upload", "download"):
        for path in paths:
            ratio = rates[f"ownvoice {way} ({path})"] / rates[f"scp {way}"]
            ratios[f"ratio to scp, {way} ({path})"] = ratio
            print(f"ownvoice ({path}) / scp, {way}: {ratio:.2f}")
        same = rates[f"ownvoice {way} (OpenSSH)"] / rates[f"scp {way} (sftp's cipher)"]
        ratios[f"ratio to same-cipher scp, {way} (OpenSSH)"] = same
        print(f"ownvoice (OpenSSH) / scp with the same cipher, {way}: {same:.2f}")
    from benchmarks.record import save

    save("transfer", {**{f"MB/s {name}": rate for name, rate in rates.items()}, **ratios},
         details={"size_mb": size_mb, "runs": args.runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
