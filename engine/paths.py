"""Where OwnVoice keeps its data.

One folder holds the database and everything the app makes (models, job files). The app
and the `ownvoice` command find it the same way:

1. `OWNVOICE_HOME`, when set (every test sets it);
2. the folder chosen in the app's Settings, saved in a small JSON file in the user's
   config folder (`config_path()`; `OWNVOICE_CONFIG` names another file);
3. the platform's user data folder.

The data folder is the user's alone: it is created 0700, and a folder found open to
group or others is closed to them (the database inside is 0600, see engine/store/db.py).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path

from engine.errors import OwnVoiceError, ReadOnlyDataFolder

APP_NAME = "OwnVoice"
HOME_ENV = "OWNVOICE_HOME"
CONFIG_ENV = "OWNVOICE_CONFIG"
CONFIG_FILENAME = "config.json"
DATA_DIR_KEY = "data_dir"
DB_FILENAME = "ownvoice.db"


def config_path() -> Path:
    """The settings file that the app and the CLI share (it cannot live in the data folder)."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILENAME


def _read_config() -> dict:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise OwnVoiceError(f"Cannot read OwnVoice's settings file {path} ({exc}). Fix it or "
                            f"delete it (OwnVoice then uses its default data folder).") from exc
    if not isinstance(data, dict):
        raise OwnVoiceError(f"OwnVoice's settings file {path} does not hold a JSON object. Fix "
                            f"it or delete it (OwnVoice then uses its default data folder).")
    return data


def chosen_data_dir() -> Path | None:
    """The data folder chosen in Settings, or None."""
    value = _read_config().get(DATA_DIR_KEY)
    return Path(value).expanduser() if value else None


def choose_data_dir(folder: Path | str) -> Path:
    """Save `folder` as the data folder of the app and the CLI (from their next start);
    returns the folder saved. A folder that already holds other things (~/Documents, say)
    gets an `OwnVoice` folder inside it instead: the data folder is OwnVoice's own, so it
    can be closed to others (0700) without touching a folder of yours."""
    chosen = Path(folder).expanduser().absolute()
    if chosen.is_dir() and not (chosen / DB_FILENAME).exists() and any(chosen.iterdir()):
        chosen = chosen / APP_NAME
    config = _read_config()
    config[DATA_DIR_KEY] = str(chosen)
    path = config_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Whole or not at all: a new file beside the old one, then renamed over it.
        fd, temporary = tempfile.mkstemp(prefix=".config-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(config, out, ensure_ascii=False, indent=2)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OwnVoiceError(f"Cannot save the data folder choice in {path} "
                            f"({exc.strerror or exc}). Make that folder writable, or set "
                            f"{HOME_ENV} instead.") from exc
    return chosen


def data_dir() -> Path:
    """The data folder, created on first use (0700)."""
    override = os.environ.get(HOME_ENV)
    if override:
        path, source = Path(override).expanduser(), f"set by {HOME_ENV}"
    elif (chosen := chosen_data_dir()) is not None:
        path, source = chosen, f"chosen in Settings, saved in {config_path()}"
    else:
        import platformdirs

        path, source = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)), ""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        where = f" ({source})" if source else ""
        raise OwnVoiceError(f"Cannot create the data folder {path}{where}: "
                            f"{exc.strerror or exc}. Connect the disk it is on, or choose "
                            f"another folder in Settings or with {HOME_ENV}.") from exc
    make_private(path)
    return path


def make_private(path: Path) -> None:
    """Close a file or folder to group and others (0755 → 0700, 0644 → 0600, 0555 → 0500).

    Nothing is opened up, and a file OwnVoice may not change keeps its mode.
    """
    if os.name == "nt":  # Windows keeps a user's files private by their ACLs
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except OSError:
        pass


def read_only_message(path: Path) -> str:
    """The one message for a data folder, or a folder or file in it, that cannot be written."""
    if not path.is_dir():
        what = "The file"
    elif path.resolve() == data_dir().resolve():
        what = "The data folder"
    else:
        what = "The folder"
    return (f"{what} {path} is read-only: OwnVoice can show what it holds but cannot save "
            f"anything. Make it writable, or choose another data folder (Settings, or "
            f"{HOME_ENV}), and try again.")


def refused_write(exc: OSError) -> ReadOnlyDataFolder | None:
    """A write refused inside the data folder, as the read-only message; None for any other
    error. The CLI and the app show it in one line instead of a traceback."""
    if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not exc.filename:
        return None
    try:
        where = Path(os.fsdecode(exc.filename)).absolute()
        if not where.resolve().is_relative_to(data_dir().resolve()):
            return None
    except (OSError, OwnVoiceError):
        return None
    while not where.exists() and where != where.parent:
        where = where.parent  # the folder that refused a new file or folder
    return ReadOnlyDataFolder(read_only_message(where))


def db_path() -> Path:
    return data_dir() / DB_FILENAME
