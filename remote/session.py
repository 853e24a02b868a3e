"""One SSH connection to a GPU box: pinned host keys, keepalives, reconnect with backoff.

Host keys are checked against the app's own known_hosts file (not ~/.ssh/known_hosts) with
paramiko's RejectPolicy: an unknown key is refused, a changed key is refused loudly. A key
enters that file only through `pin()`, for a fingerprint the user confirmed or the cloud
API reported. Authentication is by key (a key file, the agent, or ~/.ssh); no password is
ever asked for or stored. Every command is an argument list joined with `shlex`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from engine import paths
from engine.errors import OwnVoiceError

CONNECT_TIMEOUT_S = 15
KEEPALIVE_S = 15
SFTP_WINDOW = 64 << 20


class RemoteError(OwnVoiceError):
    """The box could not be reached, or a command on it failed."""


class HostKeyError(RemoteError):
    """The box's host key is unknown or changed: never retried, never accepted silently."""


@dataclass(frozen=True)
class Host:
    name: str
    user: str
    host: str
    port: int = 22
    key_file: str | None = None
    fingerprint: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> Host:
        return cls(name=row["name"], user=row["user"], host=row["host"], port=row["port"],
                   key_file=row["key_file"], fingerprint=row["fingerprint"])

    @property
    def known_hosts_name(self) -> str:
        """How OpenSSH (and paramiko) name a host in known_hosts."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


@dataclass
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


class Started:
    """A command running on the box (`Session.start`)."""

    def __init__(self, argv: list[str], host_name: str, channel_in, channel_out, channel_err):
        self.argv, self.host_name = argv, host_name
        self._in, self._out, self._err = channel_in, channel_out, channel_err

    def __call__(self) -> Completed:
        """Wait for its result. Raises RemoteError for a non-zero exit."""
        out = self._out.read().decode("utf-8", "replace")
        err = self._err.read().decode("utf-8", "replace")
        code = self._out.channel.recv_exit_status()
        self._in.close()  # held open until now (closing it ends the command's input)
        if code != 0:
            raise RemoteError(f"{shlex.join(self.argv)} failed on {self.host_name} "
                              f"(exit {code}): {(err.strip() or out.strip())[-500:]}")
        return Completed(self.argv, code, out, err)

    def close(self) -> None:
        """Give up on it: its channel closes, so its input ends (a command that watches its
        input stops) and whatever it prints is dropped."""
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self._out.channel.close()


def known_hosts_file() -> Path:
    path = paths.data_dir() / "ssh" / "known_hosts"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(exist_ok=True)
    return path


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint (what `ssh-keygen -lf` prints)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def changed_key(host: Host, detail: str = "") -> HostKeyError:
    """The error for a box whose host key is not the pinned one."""
    return HostKeyError(
        f"The host key of {host.name} ({host.host}:{host.port}) has CHANGED{detail}. Refusing "
        "to connect. If the box was reinstalled, remove it and add it again with its new "
        "fingerprint.")


def unpinned_key(host: Host) -> HostKeyError:
    """The error for a box with no pinned host key."""
    return HostKeyError(f"The host key of {host.name} is not pinned yet: add the host with "
                        "`ownvoice remote add … --fingerprint SHA256:…`.")


def scan_host_key(host: str, port: int = 22, timeout: float = CONNECT_TIMEOUT_S
                  ) -> paramiko.PKey:
    """The key the server presents, before any authentication (for the user to confirm)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise RemoteError(f"Cannot reach {host}:{port}: {exc}.") from exc
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise RemoteError(f"{host}:{port} does not speak SSH: {exc}.") from exc
    finally:
        transport.close()


def pin(host: Host, expected: str, *, known_hosts: Path | None = None) -> str:
    """Trust the box's host key if its fingerprint is the `expected` one; returns it."""
    key = scan_host_key(host.host, host.port)
    found = fingerprint(key)
    if found != expected.strip():
        raise HostKeyError(f"{host.host}:{host.port} presents the host key {found}, not the "
                           f"{expected.strip()} you confirmed. Do not connect until you know "
                           "why (a reinstalled box, or someone in the middle).")
    keys = paramiko.HostKeys()
    keys.add(host.known_hosts_name, key.get_name(), key)
    _rewrite_known_hosts(host, keys, known_hosts)
    return found


def unpin(host: Host, *, known_hosts: Path | None = None) -> None:
    """Forget every key pinned for the host."""
    _rewrite_known_hosts(host, paramiko.HostKeys(), known_hosts)


def _rewrite_known_hosts(host: Host, replacement: paramiko.HostKeys,
                         known_hosts: Path | None) -> None:
    """The file with the host's entries replaced, written atomically."""
    path = known_hosts or known_hosts_file()
    keys = paramiko.HostKeys(str(path))
    kept = paramiko.HostKeys()
    for entry in keys._entries:  # noqa: SLF001 - paramiko has no public way to drop one
        if not keys._hostname_matches(host.known_hosts_name, entry):  # noqa: SLF001 (hashed)
            kept._entries.append(entry)  # noqa: SLF001
    kept._entries.extend(replacement._entries)  # noqa: SLF001
    partial = path.with_name(path.name + ".part")
    kept.save(str(partial))
    partial.replace(path)


class Session:
    """A live connection to one host; reconnects on demand after a cut."""

    def __init__(self, host: Host, *, known_hosts: Path | None = None,
                 retries: int = 5, backoff_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.host = host
        self.known_hosts = known_hosts or known_hosts_file()
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # --- connecting -----------------------------------------------------------------------

    def _connect_once(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        key_file = str(Path(self.host.key_file).expanduser()) if self.host.key_file else None
        try:
            client.connect(self.host.host, port=self.host.port, username=self.host.user,
                           key_filename=key_file, look_for_keys=key_file is None,
                           allow_agent=True, timeout=CONNECT_TIMEOUT_S,
                           banner_timeout=CONNECT_TIMEOUT_S, auth_timeout=CONNECT_TIMEOUT_S)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise changed_key(self.host, f": it is now {fingerprint(exc.key)}, pinned was "
                                         f"{fingerprint(exc.expected_key)}") from exc
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise unpinned_key(self.host) from exc
            raise
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(KEEPALIVE_S)
        return client

    def connect(self) -> Session:
        """Connect, retrying with exponential backoff on network failures (not on a bad
        host key or a refused login: those need the user)."""
        self.close()
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                self.client = self._connect_once()
                return self
            except HostKeyError:
                raise
            except paramiko.AuthenticationException as exc:
                raise RemoteError(
                    f"{self.host.user}@{self.host.host} refused the key "
                    f"({self.host.key_file or 'agent / ~/.ssh'}): {exc}. Check that its public "
                    "half is in the box's ~/.ssh/authorized_keys.") from exc
            except (OSError, EOFError, paramiko.SSHException) as exc:
                if attempt == self.retries:
                    raise RemoteError(f"Cannot connect to {self.host.name} "
                                      f"({self.host.host}:{self.host.port}) after "
                                      f"{attempt + 1} attempts: {exc}.") from exc
                self.sleep(delay)
                delay = min(delay * 2, 60)
        raise AssertionError("unreachable")

    @property
    def connected(self) -> bool:
        transport = self.client.get_transport() if self.client else None
        return bool(transport and transport.is_active())

    def ensure(self) -> paramiko.SSHClient:
        if not self.connected:
            self.connect()
        assert self.client is not None
        return self.client

    def close(self) -> None:
        """Close the connection (also one that broke: the next call reconnects)."""
        if self._sftp is not None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self._sftp.close()
            self._sftp = None
        if self.client is not None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.client.close()
            self.client = None

    def __enter__(self) -> Session:
        self.ensure()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- running --------------------------------------------------------------------------

    def run(self, argv: list[str], *, cwd: str | None = None, check: bool = True,
            timeout: float | None = 300, stdin: bytes | None = None) -> Completed:
        """Run one command, given as an argument list (quoted with shlex, never pasted)."""
        command = shlex.join(argv)
        if cwd is not None:
            command = f"cd {shlex.quote(cwd)} && {command}"
        return self.run_shell(command, argv=argv, check=check, timeout=timeout, stdin=stdin)

    def run_shell(self, command: str, *, argv: list[str] | None = None, check: bool = True,
                  timeout: float | None = 300, stdin: bytes | None = None) -> Completed:
        """Run a command line built by this package from shlex-quoted parts."""
        client = self.ensure()
        try:
            channel_in, channel_out, channel_err = client.exec_command(command, timeout=timeout)
            if stdin is not None:
                channel_in.write(stdin)
            channel_in.channel.shutdown_write()
            out = channel_out.read().decode("utf-8", "replace")
            err = channel_err.read().decode("utf-8", "replace")
            code = channel_out.channel.recv_exit_status()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()  # the next call reconnects
            raise RemoteError(f"The connection to {self.host.name} broke while running "
                              f"{(argv or [command])[0]}: {exc}.") from exc
        result = Completed(argv or [command], code, out, err)
        if check and code != 0:
            raise RemoteError(f"{shlex.join(argv) if argv else command} failed on "
                              f"{self.host.name} (exit {code}): "
                              f"{(err.strip() or out.strip())[-500:]}")
        return result

    def start(self, argv: list[str], *, stdin: bytes | None = None,
              end_input: bool = True) -> Started:
        """Start a command and return it running: calling it waits for its result (the box
        works while this side does something else, e.g. hashing while a download runs). The
        command reads `stdin`, then the end of its input — or, with `end_input=False`, an
        input that stays open until its result has been read, it is closed, or the connection
        closes (a command can watch it to learn that nobody waits for it any more)."""
        try:
            channel_in, channel_out, channel_err = self.ensure().exec_command(shlex.join(argv))
            if stdin is not None:
                channel_in.write(stdin)
            if end_input:
                channel_in.channel.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise RemoteError(f"The connection to {self.host.name} broke: {exc}.") from exc
        return Started(argv, self.host.name, channel_in, channel_out, channel_err)

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None or not self.connected:
            # A wide window keeps many requests in flight: paramiko's 2 MB default stalls
            # a fast link.
            self._sftp = paramiko.SFTPClient.from_transport(
                self.ensure().get_transport(), window_size=SFTP_WINDOW)
        return self._sftp
