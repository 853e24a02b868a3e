"""A real OpenSSH server on 127.0.0.1, started by the test, with its own host key and one
authorised client key. It plays the GPU box: commands run on this machine."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.llama_server import free_port

SSHD = "/usr/sbin/sshd"


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ownvoice-test",
                    "-f", str(path)], check=True)
    return path


class SSHServer:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = keygen(folder / "host_key")
        self.client_key = keygen(folder / "client_key")
        (folder / "authorized_keys").write_text(
            (folder / "client_key.pub").read_text())
        self.user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.config = folder / "sshd_config"
        self.write_config()
        self.process: subprocess.Popen | None = None
        self.log = folder / "sshd.log"

    def write_config(self) -> None:
        self.config.write_text("\n".join([
            "ListenAddress 127.0.0.1", f"Port {self.port}", f"HostKey {self.host_key}",
            f"PidFile {self.folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.folder / 'authorized_keys'}", "StrictModes no",
            "UsePAM no", "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "Subsystem sftp internal-sftp",
            "ClientAliveInterval 5", "MaxStartups 50", "MaxSessions 50", ""]))

    @property
    def fingerprint(self) -> str:
        out = subprocess.run(["ssh-keygen", "-lf", f"{self.host_key}.pub"], check=True,
                             capture_output=True, text=True).stdout
        return out.split()[1]

    def start(self) -> SSHServer:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def sessions(self) -> list[int]:
        """PIDs of the per-connection sshd processes (children of the listener)."""
        if self.process is None:
            return []
        children = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                              if ":\t" in line)
            except OSError:
                continue
            if fields.get("PPid", "").strip() == str(self.process.pid):
                children.append(int(status.parent.name))
        return children

    def cut(self) -> None:
        """Drop every open connection, as a dead Wi-Fi would (the listener stays)."""
        for pid in self.sessions():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self.cut()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def new_host_key(self) -> None:
        """The box was reinstalled (or someone is in the middle): a different host key."""
        self.host_key.unlink()
        Path(f"{self.host_key}.pub").unlink()
        keygen(self.host_key)
        self.restart()

    def __enter__(self) -> SSHServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
