"""sha256 of a file, by the same code on both ends of a transfer: imported here, and run on
the box with this file's text sent on stdin (`BOOT`). Standard library only, any Python 3.8+
(like the first half of remote/runner.py).

    python3 digest.py file PATH          prints the sha256 (hex) of PATH
    python3 digest.py follow PATH BYTES  prints the sha256 (hex) of PATH's first BYTES bytes,
                                         read while another process is still writing them;
                                         exit 1 if the file stops growing first

Either exits 1 as soon as stdin closes (on the box: the SSH channel has gone, and nobody
waits for the answer); run by hand from a terminal, stdin stays open.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import sys
import time
from collections.abc import Callable

BLOCK = 1 << 20  # bytes per read
# `python3 -c BOOT ARGS…` runs the SIZE bytes of this file that follow on its stdin, which then
# stays open: it closes when the SSH channel does.
BOOT = "import sys; exec(sys.stdin.buffer.read({size}))"
IDLE_S = 30.0  # a growing file that has not grown for this long is given up on
WAIT_S = 0.02  # seconds between looks at a file that has not grown


def sha256_file(path, *, stopped: Callable[[], bool] = lambda: False) -> str | None:
    """The sha256 (hex) of the whole file at `path` (str or Path); None when `stopped()`
    turns true (asked between blocks: a multi-GB file is given up on within one)."""
    digest = hashlib.sha256()
    view = memoryview(bytearray(BLOCK))
    with open(path, "rb", buffering=0) as f:
        while count := f.readinto(view):
            if stopped():
                return None
            digest.update(view[:count])
    return digest.hexdigest()


def sha256_growing(path, total: int, *, idle_s: float = IDLE_S,
                   stopped: Callable[[], bool] = lambda: False,
                   sync_every: int = 0) -> str | None:
    """The sha256 (hex) of the first `total` bytes of `path`, hashed while another process
    is still writing the file front to back (it need not exist yet): the hash is ready the
    moment the last byte lands. None when the file stops growing for `idle_s` seconds or
    `stopped()` turns true; the caller then hashes the finished file instead.

    A writer that fills a gap behind the end (out of order) makes this hash disagree, never
    agree wrongly: a mismatch is worth a second look with `sha256_file`. With `sync_every`
    (bytes), what has been read is also flushed to disk each time that much more has: the
    disk writes while the bytes travel, and the writer's final fsync is short."""
    digest = hashlib.sha256()
    view = memoryview(bytearray(BLOCK))
    done, last_growth = 0, time.monotonic()

    def give_up() -> bool:
        """True to stop waiting; otherwise waits a moment for more bytes."""
        if stopped() or time.monotonic() - last_growth > idle_s:
            return True
        time.sleep(WAIT_S)
        return False

    while not os.path.exists(path):
        if give_up():
            return None
    with open(path, "rb", buffering=0) as f:  # unbuffered: each read asks the disk again
        while done < total:
            count = f.readinto(view[:min(BLOCK, total - done)])
            if count:
                digest.update(view[:count])
                done += count
                last_growth = time.monotonic()
                if sync_every and done % sync_every < count:
                    with contextlib.suppress(OSError):  # best effort (a read-only handle)
                        os.fsync(f.fileno())
            elif give_up():
                return None
    return digest.hexdigest()


def _input_closed() -> bool:
    """True once stdin has reached its end: nobody waits for the answer any more."""
    return bool(select.select([sys.stdin], [], [], 0)[0])


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "file":
        found = sha256_file(argv[1], stopped=_input_closed)
    elif len(argv) == 3 and argv[0] == "follow":
        found = sha256_growing(argv[1], int(argv[2]), stopped=_input_closed)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if found is None:
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
