"""SFTP upload and download that survive a cut connection.

A file travels under a `.part` name, is checked by sha256 on both ends, and only then takes
its final name: a partial file is never mistaken for a whole one (and never registered as a
model). After a cut, the transfer reconnects and continues from the bytes already there.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import paramiko

from remote.session import RemoteError, Session

CHUNK = 1 << 20  # 1 MiB per write; paramiko pipelines the SFTP requests underneath
CUT = (OSError, EOFError, paramiko.SSHException)
# Read-ahead requests in flight while downloading (REQUEST_SIZE each): enough to fill a fast link,
# bounded so a multi-GB GGUF is not buffered in memory faster than the disk takes it.
PREFETCH_REQUESTS = 64
# Bytes per SFTP request: OpenSSH's sftp-server takes messages of up to 256 KiB (reads are
# capped at 255 KiB); fewer, larger requests cost paramiko (pure Python) far less per byte
# than its 32 KiB default.
REQUEST_SIZE = 255 * 1024

Progress = Callable[[int, int], None]  # bytes done, bytes total


def local_sha256(path: Path, *, upto: int | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = upto
        while remaining is None or remaining > 0:
            block = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not block:
                break
            digest.update(block)
            if remaining is not None:
                remaining -= len(block)
    return digest.hexdigest()


def remote_sha256(session: Session, path: str) -> str:
    result = session.run(["sha256sum", "--", path])
    return result.stdout.split()[0]


def _remote_size(sftp: paramiko.SFTPClient, path: str) -> int | None:
    try:
        return sftp.stat(path).st_size
    except FileNotFoundError:
        return None


def _attempts(session: Session, what: str, step: Callable[[], bool], retries: int) -> None:
    """Run `step` until it reports completion, reconnecting after each cut."""
    for attempt in range(retries + 1):
        try:
            if step():
                return
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            raise RemoteError(f"{what} failed: {exc.strerror or exc} "
                              f"({exc.filename or 'on the box'}).") from exc
        except CUT as exc:
            if attempt == retries:
                raise RemoteError(f"{what} kept failing after {retries + 1} attempts "
                                  f"({exc}); run it again to continue from where it "
                                  "stopped.") from exc
            session.close()
            session.sleep(min(session.backoff_s * 2 ** attempt, 30))


def upload(session: Session, local: Path | str, remote: str, *,
           progress: Progress | None = None, retries: int = 5) -> str:
    """Put `local` at `remote` (a file path on the box); returns its sha256."""
    local = Path(local)
    total = local.stat().st_size
    expected = local_sha256(local)
    partial = remote + ".part"

    def step() -> bool:
        sftp = session.sftp()
        if _remote_size(sftp, remote) == total and remote_sha256(session, remote) == expected:
            return True  # already there, whole
        done = _remote_size(sftp, partial) or 0
        if done > total:
            sftp.remove(partial)
            done = 0
        with open(local, "rb") as source, sftp.open(partial, "ab" if done else "wb") as target:
            target.MAX_REQUEST_SIZE = REQUEST_SIZE
            target.set_pipelined(True)
            source.seek(done)
            while block := source.read(CHUNK):
                target.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if remote_sha256(session, partial) != expected:
            sftp.remove(partial)  # a corrupt prefix: start again from zero
            raise EOFError("checksum mismatch after upload")
        sftp.posix_rename(partial, remote)
        return True

    _attempts(session, f"Uploading {local.name}", step, retries)
    return expected


def download(session: Session, remote: str, local: Path | str, *,
             progress: Progress | None = None, retries: int = 5,
             expected_sha256: str | None = None) -> str:
    """Get `remote` into `local`; returns its sha256 (checked against the box's)."""
    local = Path(local)
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".part")
    state: dict = {}

    def step() -> bool:
        sftp = session.sftp()
        attributes = sftp.stat(remote)
        if stat.S_ISDIR(attributes.st_mode or 0):
            raise RemoteError(f"{remote} on the box is a folder, not a file.")
        total = attributes.st_size
        # The box hashes its copy while the bytes travel.
        hashing = None if expected_sha256 else session.start(["sha256sum", "--", remote])
        done = partial.stat().st_size if partial.exists() else 0
        if done > total:
            partial.unlink()
            done = 0
        digest = hashlib.sha256()  # hashed as it is written: no second pass over the file
        if done:
            with open(partial, "rb") as existing:
                while block := existing.read(CHUNK):
                    digest.update(block)
        with sftp.open(remote, "rb") as source, open(partial, "ab") as target:
            source.MAX_REQUEST_SIZE = REQUEST_SIZE
            source.seek(done)
            source.prefetch(total, max_concurrent_requests=PREFETCH_REQUESTS)
            while done < total:
                block = source.read(min(CHUNK, total - done))
                if not block:
                    raise EOFError("the file ended early")
                target.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
            target.flush()
            os.fsync(target.fileno())
        state["sha256"] = expected_sha256 or hashing().stdout.split()[0]
        if digest.hexdigest() != state["sha256"]:
            partial.unlink()
            raise EOFError("checksum mismatch after download")
        os.replace(partial, local)
        return True

    _attempts(session, f"Downloading {remote}", step, retries)
    return state["sha256"]
