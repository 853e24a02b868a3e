"""This exact version of OwnVoice as a source archive, for the box to run.

Only the packages the box runs (engine, remote) and the resources they read. The archive is
deterministic — sorted entries, fixed times and owners — so its sha256 names the version:
a box that already has it unpacked is not sent it again.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import engine

ROOT = Path(engine.__file__).resolve().parent.parent
PARTS = ("engine", "remote", "resources")


def _files() -> list[Path]:
    found = []
    for part in PARTS:
        folder = ROOT / part
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if p.is_file()
                      and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")]
    return sorted(found)


def source_archive() -> tuple[bytes, str]:
    """(the .tar.gz bytes, their sha256)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _files():
            info = tarfile.TarInfo(path.relative_to(ROOT).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    packed = gzip.compress(raw.getvalue(), mtime=0)
    return packed, hashlib.sha256(packed).hexdigest()


def write_archive(folder: Path) -> tuple[Path, str]:
    packed, digest = source_archive()
    path = folder / f"ownvoice-{digest[:16]}.tar.gz"
    path.write_bytes(packed)
    return path, digest
