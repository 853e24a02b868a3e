"""Moving a file's bytes with OpenSSH's own `sftp` client, where one is installed.

OpenSSH (C, with AES-GCM in hardware) moves bytes two to three times faster than paramiko on
a fast link, so a 5–8 GB model travels at the link's speed. It keeps the session's rules: the
host key is checked strictly against OwnVoice's pinned known_hosts file and nothing else (no
~/.ssh/known_hosts, no ~/.ssh/config, never updated), the user, port and key are the
session's, and nothing ever prompts. One transfer is one batch line — `put`/`reput` or
`get`/`reget` — with its file names quoted by sftp's own rules. What sftp cannot do as the
session does (a name with a line break in it, a key OpenSSH refuses to use) is left to
paramiko by the caller: `batch_line` returns None, `run` raises `Refused`.

No sftp goes on writing for an app that has gone: on Linux the kernel kills it with the app
(`GUARD`); everywhere, its pid is kept in a file while it runs (the caller names it: beside
a download's `.part`), and `stop_left_over` ends one that a killed app left behind before
the next try touches that `.part` (two writers on one file, or a writer still busy after
the file took its final name, would undo the checks).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
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
# No cipher, key exchange, MAC or host key type both ends accept: another try cannot help.
NEGOTIATION_FAILED = re.compile(r"Unable to negotiate|no matching (cipher|key exchange "
                                r"method|MAC|host key type) found")
USER = re.compile(r"^[\w.$@-]+$")  # a user name ssh takes as it is
# A host name sftp could read as something else: a user@, a :path, an option, a bracket.
ODD_HOST = re.compile(r"^-|[\[\]@/\s\x00-\x1f\x7f]")
# Linux: sftp starts through this, which asks the kernel to kill it (PR_SET_PDEATHSIG = 1)
# when the thread that started it ends (that thread waits for sftp in `run`: so only when
# the app dies), then becomes sftp (the setting survives exec; sftp is not set-user-ID).
# A wrapper, not subprocess's preexec_fn, which is not safe while other threads run (the
# app hashes and keeps SSH alive in threads). Its arguments: the app's pid (if that is no
# longer its parent, the app died before prctl: exit), then sftp's argv.
GUARD = ("import ctypes, os, signal, sys; "
         "ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0); "
         "os.getppid() == int(sys.argv[1]) or os._exit(1); "
         "os.execv(sys.argv[2], sys.argv[2:])")
STOP_WAIT_S = 10.0  # the longest wait for a left-over sftp to go once killed
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
    if (known is None or (host.key_file and key is None) or not USER.match(host.user)
            or not host.host or ODD_HOST.search(host.host)):
        return None
    # LogLevel INFO, not ERROR: only at INFO does ssh say why a negotiation failed ("Unable
    # to negotiate … no matching cipher found"); at ERROR it says only "Connection closed",
    # which reads as a cut.
    argv = [sftp_program, "-b", "-", "-S", ssh_program, "-F", "none", "-P", str(host.port),
            "-o", f"User={host.user}",
            "-o", f"UserKnownHostsFile={known}", "-o", f"GlobalKnownHostsFile={os.devnull}",
            "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
            "-o", "CheckHostIP=no", "-o", "BatchMode=yes", "-o", "LogLevel=INFO",
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


def _guarded(argv: list[str]) -> list[str]:
    """`argv` started through GUARD where it works (Linux, run from a Python program)."""
    if sys.platform.startswith("linux") and sys.executable:
        return [sys.executable, "-I", "-S", "-c", GUARD, str(os.getpid()), *argv]
    return argv


def _still_running(pid: int, argv: list[str]) -> bool:
    """Whether process `pid` is alive and is the sftp started with `argv` (not a zombie, not
    another program that has since been given the same pid)."""
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self/cmdline").exists():  # Linux: the command line itself (or GUARD's)
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            words = [os.fsdecode(w) for w in (proc / "cmdline").read_bytes().split(b"\0")[:-1]]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and words[-len(argv):] == argv
    if os.name == "nt":
        found = subprocess.run(["tasklist", "/FI", f"PID eq {pid}", "/FO", "CSV", "/NH"],
                               capture_output=True, text=True).stdout
        return f'"{Path(argv[0]).name.lower()}' in found.lower()
    found = subprocess.run(["ps", "-o", "stat=,comm=", "-p", str(pid)],
                           capture_output=True, text=True).stdout.split(None, 1)
    return (len(found) == 2 and not found[0].startswith("Z")
            and Path(found[1].strip()).name == Path(argv[0]).name)


def stop_left_over(pid_file: Path) -> None:
    """End the sftp whose pid `pid_file` holds, if one is still running (the app that started
    it was killed), and wait until it has stopped writing. Raises RemoteError where it will
    not stop."""
    try:
        record = json.loads(pid_file.read_text())
        pid, argv = int(record["pid"]), [str(word) for word in record["argv"]]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):  # half written: its sftp never ran
        pid, argv = 0, []
    if pid > 0 and argv and _still_running(pid, argv):
        with contextlib.suppress(OSError):
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        deadline = time.monotonic() + STOP_WAIT_S
        while _still_running(pid, argv):
            if time.monotonic() > deadline:
                raise RemoteError(f"An earlier sftp (pid {pid}) is still writing "
                                  f"{pid_file.name.removesuffix('.pid')} and does not stop; "
                                  "end it, then try again.")
            time.sleep(0.02)
    with contextlib.suppress(OSError):
        pid_file.unlink()


def run(host: Host, known_hosts: Path, line: str, *, what: str,
        watch: Callable[[], None] = lambda: None, pid_file: Path | None = None) -> None:
    """Run one batch line with sftp, calling `watch()` every POLL_S seconds until it ends
    (an exception from `watch` stops sftp and propagates). While it runs, its pid is kept in
    `pid_file` (for `stop_left_over`, should this app be killed).

    Raises HostKeyError (the key is not the pinned one), RemoteError (the command failed:
    no such file, permission denied, disk full — "`what` failed: …"), ConnectionError (the
    connection broke or was cut: worth another try, which resumes), Refused (OpenSSH would
    not log in: use paramiko)."""
    found = programs()
    argv = command(host, known_hosts, programs=found) if found else None
    if argv is None or host in REFUSED:
        raise Refused(f"OpenSSH cannot reach {host.name} as the session does.")
    if pid_file is not None:
        stop_left_over(pid_file)
    process = subprocess.Popen(_guarded(argv), stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pending = os.fsencode(line + "\n")
    try:
        if pid_file is not None:
            # Best effort: a full disk that cannot take these few bytes fails the transfer
            # itself a moment later, with the error that says so.
            with contextlib.suppress(OSError):
                pid_file.write_text(json.dumps({"pid": process.pid, "argv": argv}))
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
    finally:
        if pid_file is not None:
            with contextlib.suppress(OSError):
                pid_file.unlink()
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
    if code == 255 and NEGOTIATION_FAILED.search(said):
        REFUSED.add(host)  # paramiko may speak the box's (older) ones; it checks the pin too
        return Refused(f"OpenSSH and {host.name} share no cipher or key type: {last}")
    if code == 1 and not CONNECTION_LOST.search(said):  # a command failed, not the link
        return RemoteError(f"{what} failed: {last.rstrip('.')}.")
    why = last or (f"sftp was stopped by signal {-code}" if code < 0 else f"sftp exit {code}")
    return ConnectionError(f"the connection to {host.name} broke ({why.rstrip('.')})")
