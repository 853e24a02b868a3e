"""The app's log: `logs/ownvoice.log` in the data folder, rotated (1 MB, 3 old files kept),
readable by you only. Errors with a traceback (a bug, not a user error) go there, and the
message the app shows names the file; Help ▸ Open the log opens it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from engine import paths

MAX_BYTES = 1_000_000
BACKUPS = 3
_handler: logging.Handler | None = None


def log_path() -> Path:
    return paths.data_dir() / "logs" / "ownvoice.log"


def start() -> Path | None:
    """Send the `ownvoice` loggers (warnings and up) to the log file; returns its path, or
    None when the data folder cannot be written (read-only: the app still opens, and the
    log goes to standard error). Calling it again (another data folder) moves the log."""
    global _handler
    path = log_path()
    old_umask = os.umask(0o077)  # the folder, the file and its rotated copies: yours only
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError:
        handler, path = logging.StreamHandler(), None
    finally:
        os.umask(old_umask)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ownvoice")
    if _handler is not None:
        logger.removeHandler(_handler)
        _handler.close()
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    _handler = handler
    return path


def where() -> str:
    """How an error message points to the log."""
    if _handler is not None and not isinstance(_handler, logging.FileHandler):
        return "details are on the standard error output (the data folder is read-only)"
    return f"details are in the log, {log_path()} (Help ▸ Open the log)"
