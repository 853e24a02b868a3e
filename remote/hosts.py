"""GPU boxes kept by name: add (pinning the host key the user confirmed), list, check, remove."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable

from engine.errors import OwnVoiceError
from remote import session as ssh
from remote.session import Host, HostKeyError, Session

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_target(target: str, port: int | None) -> tuple[str, str, int]:
    """`user@host`, `host`, `user@[::1]` → (user, host, port)."""
    user, _, host = target.rpartition("@")
    host = host.strip("[]")
    if not host:
        raise OwnVoiceError(f"{target!r} names no host: use USER@HOST.")
    return user or getpass.getuser(), host, port or 22


# Names `ownvoice train --on` gives to targets that are not boxes (remote/targets.py).
RESERVED = {"local": "this machine", "mac": "this machine with MLX",
            "tinker": "Tinker's managed training"}


def add(store, name: str, target: str, *, port: int | None = None, key_file: str | None = None,
        fingerprint: str | None = None,
        confirm: Callable[[str], bool] | None = None, origin: str = "manual",
        meta: dict | None = None) -> dict:
    """Register a host and pin its key. Without `fingerprint`, the key the server presents
    is shown to `confirm`; only a yes pins it. Nothing is stored unless the key is pinned."""
    if not NAME.match(name):
        raise OwnVoiceError(f"A host name is letters, digits, '.', '_' or '-' (not {name!r}).")
    if name in RESERVED:  # `ownvoice train --on local` means this machine, …
        raise OwnVoiceError(f"'{name}' means {RESERVED[name]} in `ownvoice train --on`: give "
                            "the box another name.")
    if store.host(name) is not None:
        raise OwnVoiceError(f"There is already a remote host called {name!r}; remove it first.")
    user, address, port = parse_target(target, port)
    host = Host(name=name, user=user, host=address, port=port, key_file=key_file)
    if fingerprint is None:
        presented = ssh.fingerprint(ssh.scan_host_key(address, port))
        if confirm is None or not confirm(presented):
            raise HostKeyError(f"The host key {presented} of {address}:{port} was not "
                               "confirmed; nothing was added. Compare it with the one your "
                               "provider shows (or `ssh-keygen -lf` on the box) and pass "
                               "--fingerprint.")
        fingerprint = presented
    pinned = ssh.pin(host, fingerprint)
    return store.add_host(name=name, user=user, host=address, port=port, key_file=key_file,
                          fingerprint=pinned, origin=origin, meta=meta)


def get(store, name: str) -> Host:
    row = store.host(name)
    if row is None:
        known = ", ".join(h["name"] for h in store.hosts()) or "none yet"
        raise OwnVoiceError(f"No remote host called {name!r} (known: {known}). Add one with "
                            "`ownvoice remote add NAME --host USER@HOST --fingerprint …`.")
    return Host.from_row(row)


# One round trip: every probe prints one tagged line; a missing tool prints nothing.
PROBES = {
    "arch": ["uname", "-m"],
    "python": ["python3", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
    "gpu": ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
    "disk_free_gb": ["df", "-Pk", "."],
    "torch": ["python3", "-c", "import torch; print(torch.__version__, "
              "torch.cuda.is_available())"],
}


def check(session: Session) -> dict:
    """Connect and report what the box offers: architecture, Python, GPU, free disk, torch."""
    report: dict = {"host": session.host.name}
    for key, argv in PROBES.items():
        result = session.run(argv, check=False, timeout=60)
        text = result.stdout.strip()
        if result.returncode != 0 or not text:
            report[key] = None
        elif key == "disk_free_gb":
            report[key] = round(int(text.splitlines()[-1].split()[3]) / 1024 ** 2, 1)
        elif key == "gpu":
            report[key] = [line.strip() for line in text.splitlines()]
        else:
            report[key] = text
    return report
