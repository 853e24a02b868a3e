"""Writing a file whole or not at all, and saying in one line why a write failed.

`atomic_write` writes under `NAME.part`, syncs, and renames onto the final name: a reader
sees the old file or the new one, never half of one. When anything goes wrong (a full
disk, a file-size limit, a folder that refuses writes, a bug) the `.part` file is removed,
and an OSError becomes an OwnVoiceError naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from engine.errors import OwnVoiceError

NO_ROOM = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}


def write_problem(path: Path | str, exc: OSError) -> OwnVoiceError:
    """The one-line error for a failed write of `path`."""
    if exc.errno in NO_ROOM:
        return OwnVoiceError(f"There is no room to write {path} ({exc.strerror}): free some "
                             "disk space and run it again; nothing was written.")
    if exc.errno in REFUSED:
        return OwnVoiceError(f"{path} cannot be written ({exc.strerror}): choose a folder you "
                             "can write to; nothing was written.")
    return OwnVoiceError(f"Writing {path} failed ({exc.strerror or exc}); nothing was written.")


@contextmanager
def atomic_write(path: Path | str, mode: str = "w", *,
                 encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open `path.part` for writing; on a clean exit it is synced and renamed to `path`.
    Raises OwnVoiceError (from write_problem) for an OSError; removes the `.part` always."""
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open(mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except OSError as exc:
        _discard(partial)
        raise write_problem(path, exc) from exc
    except BaseException:
        _discard(partial)
        raise


def _discard(partial: Path) -> None:
    # Its folder may not be there, or not be a folder: then nothing was written.
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)
