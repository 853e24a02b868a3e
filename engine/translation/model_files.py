"""A registered model file is the file that was added: checked each time a model is opened.

The registry records a GGUF's size, sha256 and modification time (meta `mtime_ns`) when it
is added. Opening it for translation compares the size and the modification time first
(one stat, microseconds) and reads the whole file again only when the time differs (a
copy, a restore, an edit); a re-hash is remembered for the rest of the process. A file of
another size or another sha256 is refused with what to do.

Why not re-hash every time: sha256 of a model file runs at about 1.3 GB/s from the page
cache and 70 MB/s from a cold disk on the 2-core machine the tests run on, so a 5 GB model
would add 4 s to over a minute to every `ownvoice translate`. Not caught: a change that
keeps both the size and the modification time (a deliberate `touch -d` after an edit).
Rows registered before `mtime_ns` was recorded are re-hashed once per process.
"""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

from engine.download import file_sha256
from engine.errors import OwnVoiceError

_hashed: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) → sha256
_lock = threading.Lock()


class ModelFileChanged(OwnVoiceError):
    """The model's file is missing, or differs from the one that was added."""


def stamp(path: Path | str) -> dict:
    """{"size_bytes": int, "mtime_ns": int} of a file, as the registry records it."""
    st = Path(path).stat()
    return {"size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def remember(path: Path | str, sha256: str, *, as_of: dict | None = None) -> None:
    """Note for this process that the file had this sha256 at stamp `as_of` (default: as
    it is now), so that opening it does not hash it again."""
    as_of = as_of or stamp(path)
    with _lock:
        _hashed[(str(path), as_of["size_bytes"], as_of["mtime_ns"])] = sha256


def relocated(row: dict, models_dir: Path) -> dict:
    """The row, pointing at `models_dir` when its file is gone from where it was added but a
    file of that name is in the models folder of the data folder in use: the data folder
    was moved (Settings, OWNVOICE_HOME) with its models/. The database is not changed."""
    path = Path(row["path"])
    moved = Path(models_dir) / path.name
    if path.parent.name == "models" and not path.exists() and moved.is_file():
        return {**row, "path": str(moved)}
    return row


def check(row: dict) -> None:
    """Raise ModelFileChanged unless the registry row's file is there with the size and
    sha256 recorded when it was added (see the module docstring for what it costs)."""
    path = Path(row["path"])
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelFileChanged(f"The file of the model {row['name']!r} is missing ({path}): "
                               f"{_readd(row)}") from None
    if row.get("size_bytes") is not None and st.st_size != row["size_bytes"]:
        raise _changed(row, "size", f"{st.st_size:,} bytes, not {row['size_bytes']:,}")
    if not row.get("sha256") or st.st_mtime_ns == (row.get("meta") or {}).get("mtime_ns"):
        return
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        digest = _hashed.get(key)
    if digest is None:
        digest = file_sha256(path)
        with _lock:
            _hashed[key] = digest
    if digest != row["sha256"]:
        raise _changed(row, "sha256", f"{digest[:12]}…, not {row['sha256'][:12]}…")


def _changed(row: dict, what: str, detail: str) -> ModelFileChanged:
    return ModelFileChanged(f"The file of the model {row['name']!r} changed since it was added "
                            f"({what} differs: {detail}): {_readd(row)}")


def _readd(row: dict) -> str:
    spec = shlex.quote((row.get("meta") or {}).get("url") or row["path"])
    name = shlex.quote(row["name"])
    return (f"re-add it with `ownvoice models remove {name} --yes` and then "
            f"`ownvoice models add {spec} --name {name}`.")
