"""Moving a file's bytes with OpenSSH's own `sftp` client, where one is installed.

OpenSSH (C, with AES-GCM in hardware) moves bytes two to three times faster than paramiko on
a fast link, so a 5–8 GB model travels at the link's speed. It keeps the session's rules: the
host key is checked strictly against OwnVoice's pinned known_hosts file and nothing else (no
~/.ssh/known_hosts, no ~/.ssh/config, never updated), the user, port and key are the
session's, and nothing ever prompts. One transfer is one batch line — `put`/`reput` or
`get`/`reget` — with its file names quoted by sftp's own rules. What sftp cannot do as the
session does (a name with a line break in it, a key OpenSSH refuses to use) is left to
paramiko by the caller: `batch_line` returns None, `run` raises `Refused`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from remote import session as ssh
from remote.session import Host, RemoteError

POLL_S = 0.25  # seconds between calls of `watch` while sftp runs (progress reports)
LINE_MAX = 2000  # sftp reads its batch input into 2048-byte lines
# AES-256-GCM first: with hardware AES it costs a fraction of chacha20-poly1305 (OpenSSH's own
# first choice) and is no weaker. The rest is OpenSSH's default list, so a box that offers
# only those still connects.
CIPHERS = ("aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
           "aes128-ctr,aes192-ctr,aes256-ctr")
CONNECTION_LOST = re.compile(r"[Cc]onnection (closed|reset|lost|timed out)|Broken pipe")
USER = re.compile(r"^[\w.$@-]+$")  # a user name ssh takes as it is
REFUSED: set[Host] = set()  # hosts whose login OpenSSH refused: paramiko carries theirs


class Refused(Exception):
    """OpenSSH's client could not log in where the session can (a key file readable by
    others, say, which OpenSSH ignores): the caller moves the bytes with paramiko."""


def programs() -> tuple[str, str] | None:
    """(sftp, ssh) as found on PATH, or None when either is missing (Windows without the
    OpenSSH client)."""
    found = shutil.which("sftp"), shutil.which("ssh")
    return found if all(found) else None


def usable(host: Host) -> bool:
    return programs() is not None and host not in REFUSED


def _option_value(path: Path | str) -> str | None:
    """A file name as the value of an ssh `-o` option (which splits on spaces), or None where
    it cannot be written as one for every OpenSSH version (a `%` is a token to some)."""
    text = Path(path).expanduser().as_posix()
    if any(c in text for c in '"%\n\r'):
        return None
    return f'"{text}"'


def command(host: Host, known_hosts: Path, *, programs: tuple[str, str]) -> list[str] | None:
    """sftp's argument list for `host` (the session's user, port and key; the host key
    checked strictly against `known_hosts` alone), reading its batch from stdin. None where
    a file name cannot be passed to ssh."""
    sftp_program, ssh_program = programs
    known = _option_value(known_hosts)
    key = _option_value(host.key_file) if host.key_file else None
    if known is None or (host.key_file and key is None) or not USER.match(host.user):
        return None
    argv = [sftp_program, "-b", "-", "-S", ssh_program, "-F", "none", "-P", str(host.port),
            "-o", f"User={host.user}",
            "-o", f"UserKnownHostsFile={known}", "-o", f"GlobalKnownHostsFile={os.devnull}",
            "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
            "-o", "CheckHostIP=no", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-o", f"ConnectTimeout={ssh.CONNECT_TIMEOUT_S}",
            "-o", f"ServerAliveInterval={ssh.KEEPALIVE_S}", "-o", "ServerAliveCountMax=3",
            "-o", f"Ciphers={CIPHERS}"]
    if key is not None:
        argv += ["-o", f"IdentityFile={key}"]
    # An IPv6 address in brackets, so that sftp does not read its colons as host:path.
    return [*argv, "--", f"[{host.host}]" if ":" in host.host else host.host]


def quote(path: str) -> str | None:
    """`path` as one argument on an sftp batch line (double quotes; backslashes and quotes
    escaped, which sftp undoes for names it globs and for those it does not), or None where
    no sftp line can carry it (a line break)."""
    if "\n" in path or "\r" in path:
        return None
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def batch_line(verb: str, source: str, target: str) -> str | None:
    """One sftp command (`put`, `reput`, `get`, `reget`) from `source` to `target`. Relative
    names get a leading `./`, so none reads as an option or a `~`. None where sftp cannot
    carry the names."""
    words = [verb]
    for path in (source, target):
        quoted = quote(path if path.startswith("/") or os.path.isabs(path) else "./" + path)
        if quoted is None:
            return None
        words.append(quoted)
    line = " ".join(words)
    return line if len(os.fsencode(line)) < LINE_MAX else None


def run(host: Host, known_hosts: Path, line: str, *, what: str,
        watch: Callable[[], None] = lambda: None) -> None:
    """Run one batch line with sftp, calling `watch()` every POLL_S seconds until it ends
    (an exception from `watch` stops sftp and propagates).

    Raises HostKeyError (the key is not the pinned one), RemoteError (the command failed:
    no such file, permission denied, disk full — "`what` failed: …"), ConnectionError (the
    connection broke or was cut: worth another try, which resumes), Refused (OpenSSH would
    not log in: use paramiko)."""
    found = programs()
    argv = command(host, known_hosts, programs=found) if found else None
    if argv is None or host in REFUSED:
        raise Refused(f"OpenSSH cannot reach {host.name} as the session does.")
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    pending = os.fsencode(line + "\n")
    try:
        while True:
            try:
                _, errors = process.communicate(pending, timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pending = None  # sent with the first call
                watch()
    except BaseException:
        process.kill()
        process.wait()
        raise
    if process.returncode:
        raise _failure(host, process.returncode, errors.decode("utf-8", "replace"), what)


def _failure(host: Host, code: int, stderr: str, what: str) -> Exception:
    """sftp's exit status and its last words as one of this package's errors."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = " ".join(lines)
    last = next((line for line in reversed(lines) if line != "Connection closed"),
                lines[-1] if lines else "")
    if "Host key verification failed" in said:
        return ssh.changed_key(host) if "has changed" in said else ssh.unpinned_key(host)
    if code == 255 and ("Permission denied (" in said or "authentication failures" in said):
        REFUSED.add(host)
        return Refused(f"OpenSSH could not log in to {host.name}: {last}")
    if code == 1 and not CONNECTION_LOST.search(said):  # a command failed, not the link
        return RemoteError(f"{what} failed: {last.rstrip('.')}.")
    why = last or (f"sftp was stopped by signal {-code}" if code < 0 else f"sftp exit {code}")
    return ConnectionError(f"the connection to {host.name} broke ({why.rstrip('.')})")
