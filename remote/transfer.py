"""Uploads and downloads that survive a cut connection.

A file travels under a `.part` name, is checked by sha256 on both ends, and only then takes
its final name: a partial file is never mistaken for a whole one (and never registered as a
model). After a cut, the transfer reconnects and continues from the bytes already there.

The bytes travel through OpenSSH's own `sftp` where it is installed (remote/openssh.py:
`reput`/`reget` resume, the same pinned host key, user and key as the session), and through
paramiko's SFTP where it is not, or where it cannot do what the session does. Either way both
ends hash the file while it travels (remote/digest.py, the same code on each side); an error
stops both hashes. Before a try touches a `.part`, an sftp that a killed app left writing it
is ended (`openssh.stop_left_over`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import posixpath
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko

from engine import paths
from engine.errors import OwnVoiceError
from remote import digest, openssh
from remote.session import HostKeyError, RemoteError, Session, Started

CHUNK = 1 << 20  # 1 MiB per write; paramiko pipelines the SFTP requests underneath
CUT = (OSError, EOFError, paramiko.SSHException)
# Read-ahead requests in flight while paramiko downloads (REQUEST_SIZE each): enough to fill a
# fast link, bounded so a multi-GB GGUF is not buffered in memory faster than the disk takes it.
PREFETCH_REQUESTS = 64
# Bytes per paramiko SFTP request: OpenSSH's sftp-server takes messages of up to 256 KiB (reads
# are capped at 255 KiB); fewer, larger requests cost paramiko (pure Python) far less per byte
# than its 32 KiB default.
REQUEST_SIZE = 255 * 1024
# Below this many bytes to move, paramiko's open session wins: OpenSSH's sftp would first have
# to connect and log in again (~0.1 s on loopback, several round trips to a distant box).
OPENSSH_MIN_BYTES = 32 << 20
SYNC_EVERY = 64 << 20  # bytes downloaded between flushes to disk while the rest travels
DIGEST_SOURCE = Path(digest.__file__).read_bytes()  # sent to the box (digest.BOOT)

# Errors that another try would only repeat: a missing file or folder, no permission, a
# full or read-only disk.
USER_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
               errno.ENOSPC, errno.EDQUOT, errno.EROFS}

Progress = Callable[[int, int], None]  # bytes done, bytes total


class WrongFile(OwnVoiceError):
    """The box's file is not the one the caller expected (its sha256 differs): another try
    would fetch the same file, so none is made. Not a RemoteError: the connection is fine."""


def local_sha256(path: Path | str) -> str:
    """The sha256 (hex) of a file on this machine."""
    return digest.sha256_file(path)


class _OnBox:
    """remote/digest.py running on the box: calling it waits for the hash it prints, or None
    where there is none (no python3 there, a cut, a file that stopped growing); `close()`
    stops it (it watches its input, which then ends)."""

    def __init__(self, session: Session, *args: str):
        boot = digest.BOOT.format(size=len(DIGEST_SOURCE))
        try:
            self.started: Started | None = session.start(
                ["python3", "-c", boot, *args], stdin=DIGEST_SOURCE, end_input=False)
        except RemoteError:
            self.started = None

    def __call__(self) -> str | None:
        try:
            return self.started().stdout.split()[0] if self.started else None
        except (RemoteError, *CUT, IndexError):
            return None

    def close(self) -> None:
        if self.started is not None:
            self.started.close()


def remote_sha256(session: Session, path: str) -> str:
    """The sha256 (hex) of a file on the box (sha256sum where the box has no python3).
    Raises RemoteError."""
    return (_OnBox(session, "file", path)()
            or session.run(["sha256sum", "--", path]).stdout.split()[0])


def _background(fn: Callable, *args, **kwargs) -> Callable:
    """Start `fn(*args, **kwargs)` in a thread; the returned function waits for its result."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn, *args, **kwargs)
    pool.shutdown(wait=False)
    return future.result


def _remote_size(sftp: paramiko.SFTPClient, path: str) -> int | None:
    try:
        return sftp.stat(path).st_size
    except FileNotFoundError:
        return None


def _local_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@contextlib.contextmanager
def _naming(name: Path | str):
    """Errors inside name `name` where they name no file (paramiko's, from the box, never
    do; nor do a read's or an fsync's): "PATH", or "PATH on the box"."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(name)) from exc
        raise


def _on_the_box(path: str):
    return _naming(f"{path} on the box")


def _pid_file(session: Session, partial: str) -> Path:
    """Where the pid of the sftp uploading to the box's `partial` is kept while it runs."""
    host = session.host
    key = hashlib.sha256(f"{host.user}@{host.host}:{host.port}:{partial}".encode()).hexdigest()
    folder = paths.data_dir() / "ssh" / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{key[:32]}.pid"


def _attempts(session: Session, what: str, step: Callable[[], bool], retries: int) -> None:
    """Run `step` until it reports completion, reconnecting after each cut."""
    for attempt in range(retries + 1):
        try:
            if step():
                return
        except CUT as exc:
            if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:  # not a cut: say so
                where = f" ({exc.filename})" if exc.filename else ""
                raise RemoteError(f"{what} failed: {exc.strerror or exc}{where}.") from exc
            if attempt == retries:
                raise RemoteError(f"{what} kept failing after {retries + 1} attempts "
                                  f"({exc}); run it again to continue from where it "
                                  "stopped.") from exc
            session.close()
            session.sleep(min(session.backoff_s * 2 ** attempt, 30))


def _by_openssh(session: Session, line: str | None, remaining: int, *, what: str,
                watch: Callable[[], None], pid_file: Path) -> bool:
    """Run one sftp batch line with OpenSSH; False where paramiko is to do it instead."""
    if line is None or remaining < OPENSSH_MIN_BYTES or not openssh.usable(session.host):
        return False
    try:
        openssh.run(session.host, session.known_hosts, line, what=what, watch=watch,
                    pid_file=pid_file)
    except openssh.Refused:
        return False
    return True


def _box_full(session: Session, partial: str, total: int, what: str) -> RemoteError | None:
    """The error to show where the box has no room for the rest of `partial`, else None."""
    folder = posixpath.dirname(partial) or "."
    result = session.run(["df", "-Pk", "--", folder], check=False)
    try:
        free = int(result.stdout.splitlines()[-1].split()[3]) * 1024
    except (IndexError, ValueError):
        return None
    needed = total - (_remote_size(session.sftp(), partial) or 0)
    if free >= needed:
        return None
    return RemoteError(f"{what} failed: the box's disk is full ({folder} has "
                       f"{free / 1e6:.0f} MB free, {needed / 1e6:.0f} MB more are needed). Free "
                       "some space there, then run it again to continue.")


def _send(session: Session, local: Path, partial: str, done: int, total: int,
          progress: Progress | None, what: str, pid_file: Path) -> None:
    """Bytes [done, total) of `local` onto the end of the box's `partial`."""
    sftp = session.sftp()

    def watch() -> None:
        if progress is not None:
            try:
                size = _remote_size(sftp, partial) or 0
            except CUT:
                return  # the session's link broke: sftp's own exit says more
            progress(size, total)

    line = openssh.batch_line("reput" if done else "put", local.absolute().as_posix(), partial)
    if _by_openssh(session, line, total - done, what=what, watch=watch, pid_file=pid_file):
        return
    with (open(local, "rb") as source, _on_the_box(partial),
          sftp.open(partial, "ab" if done else "wb") as target):
        target.MAX_REQUEST_SIZE = REQUEST_SIZE
        target.set_pipelined(True)
        source.seek(done)
        while True:
            with _naming(local):
                block = source.read(CHUNK)
            if not block:
                break
            target.write(block)
            done += len(block)
            if progress:
                progress(done, total)


def _receive(session: Session, remote: str, partial: Path, done: int, total: int,
             progress: Progress | None, what: str) -> None:
    """Bytes [done, total) of the box's `remote` onto the end of the local `partial`."""

    def watch() -> None:
        if progress is not None:
            progress(_local_size(partial), total)

    line = openssh.batch_line("reget" if done else "get", remote, partial.absolute().as_posix())
    if _by_openssh(session, line, total - done, what=what, watch=watch,
                   pid_file=_pid_beside(partial)):
        return
    with (_on_the_box(remote), session.sftp().open(remote, "rb") as source,
          open(partial, "ab") as target):
        source.MAX_REQUEST_SIZE = REQUEST_SIZE
        source.seek(done)
        source.prefetch(total, max_concurrent_requests=PREFETCH_REQUESTS)
        while done < total:
            block = source.read(min(CHUNK, total - done))
            if not block:
                raise EOFError("the file ended early")
            with _naming(partial):
                target.write(block)
            done += len(block)
            if progress:
                progress(done, total)


def upload(session: Session, local: Path | str, remote: str, *,
           progress: Progress | None = None, retries: int = 5) -> str:
    """Put the local file `local` at `remote` (a file path on the box, absolute or relative to
    the login folder), by way of `remote + ".part"`; returns its sha256 (hex), the same on
    both ends. `progress(bytes_done, bytes_total)` follows the bytes landed, a few times a
    second. A cut is retried `retries` times, each resuming from the bytes already there.
    Raises HostKeyError, RemoteError (one line: what failed, and why)."""
    local = Path(local)
    total = local.stat().st_size
    stop = threading.Event()  # an error stops the local hash (a multi-GB file) at once
    expected = _background(digest.sha256_file, local, stopped=stop.is_set)  # while it travels
    partial = remote + ".part"
    pid_file = _pid_file(session, partial)
    what = f"Uploading {local.name}"

    def step() -> bool:
        openssh.stop_left_over(pid_file)  # an sftp that a killed app left writing `partial`
        sftp = session.sftp()
        if _remote_size(sftp, remote) == total and remote_sha256(session, remote) == expected():
            return True  # already there, whole
        done = _remote_size(sftp, partial) or 0
        if done > total:
            with _on_the_box(partial):
                sftp.remove(partial)
            done = 0
        landed = _OnBox(session, "follow", partial, str(total))  # hashed as the bytes land
        try:
            if progress:
                progress(done, total)
            if done < total or not total:
                try:
                    _send(session, local, partial, done, total, progress, what, pid_file)
                except HostKeyError:
                    raise
                except RemoteError as exc:  # sftp says "Failure" for a full disk: say which
                    raise _box_full(session, partial, total, what) or exc from exc
            arrived = _remote_size(sftp, partial) or 0
            if arrived != total:  # (paramiko's pipelined writes can fail unnoticed)
                raise (_box_full(session, partial, total, what)
                       or EOFError(f"{arrived} of {total} bytes arrived"))
        except BaseException:
            landed.close()
            raise
        if progress:
            progress(total, total)
        if landed() != expected() and remote_sha256(session, partial) != expected():
            with _on_the_box(partial):
                sftp.remove(partial)  # a corrupt prefix: start again from zero
            raise EOFError("checksum mismatch after upload")
        with _on_the_box(partial):
            sftp.posix_rename(partial, remote)
        return True

    try:
        _attempts(session, what, step, retries)
    except BaseException:
        stop.set()
        raise
    return expected()


def _pid_beside(partial: Path) -> Path:
    """Where the pid of the sftp downloading into `partial` is kept while it runs."""
    return partial.with_name(partial.name + ".pid")


def download(session: Session, remote: str, local: Path | str, *,
             progress: Progress | None = None, retries: int = 5,
             expected_sha256: str | None = None) -> str:
    """Get the box's file `remote` into `local`, by way of `local` + ".part" (flushed to disk
    before it takes its name); returns its sha256 (hex), checked against the box's own
    (`expected_sha256` where the caller has it). `progress` and `retries` as for `upload`.
    Raises HostKeyError, RemoteError (one line: what failed, and why), WrongFile (the box's
    file is not the `expected_sha256` one: not retried)."""
    local = Path(local)
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".part")
    what = f"Downloading {remote}"
    state: dict = {}

    def step() -> bool:
        openssh.stop_left_over(_pid_beside(partial))  # a killed app's sftp, still writing
        with _on_the_box(remote):
            attributes = session.sftp().stat(remote)
        if stat.S_ISDIR(attributes.st_mode or 0):
            raise RemoteError(f"{remote} on the box is a folder, not a file.")
        total = attributes.st_size
        done = _local_size(partial)
        if done > total:
            partial.unlink()
            done = 0
        # The box hashes its copy while the bytes travel (unless the caller knows its hash).
        theirs = None if expected_sha256 else _OnBox(session, "file", remote)
        stop = threading.Event()
        landed = _background(digest.sha256_growing, partial, total, stopped=stop.is_set,
                             sync_every=SYNC_EVERY)
        try:
            if progress:
                progress(done, total)
            if done < total or not total:
                _receive(session, remote, partial, done, total, progress, what)
            if _local_size(partial) != total:  # the file on the box changed meanwhile
                raise EOFError(f"{_local_size(partial)} of {total} bytes arrived")
            with _naming(partial), open(partial, "ab") as written:
                os.fsync(written.fileno())
        except BaseException:
            stop.set()
            if theirs is not None:
                theirs.close()  # its hash of a multi-GB file is not waited for
            raise
        if progress:
            progress(total, total)
        sha256 = (expected_sha256 or (theirs() if theirs is not None else None)
                  or remote_sha256(session, remote))
        if landed() != sha256 and local_sha256(partial) != sha256:
            partial.unlink()
            if expected_sha256 and (found := remote_sha256(session, remote)) != sha256:
                raise WrongFile(f"{what} failed: the file on the box is not the one expected "
                                f"(its sha256 is {found[:16]}…, not {sha256[:16]}…): it was "
                                "changed or replaced there after its sha256 was taken.")
            raise EOFError("checksum mismatch after download")  # the box's copy is right
        os.replace(partial, local)
        state["sha256"] = sha256
        return True

    _attempts(session, what, step, retries)
    return state["sha256"]
