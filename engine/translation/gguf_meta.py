"""Read a GGUF file's metadata (architecture, chat template, special tokens) without loading it.

Registering a 5 GB model should not cost loading it: the header holds everything the
registry and the prompt builder need. Arrays (the vocabulary) are skipped, not kept.
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from engine.errors import OwnVoiceError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY_ITEMS = 64  # small arrays (e.g. stop ids) are kept; the vocabulary is not


class NotGguf(OwnVoiceError):
    pass


def read_metadata(path: Path | str) -> dict:
    """All key/value pairs of the header; long arrays become their length as an int."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise NotGguf(f"{path} is not a GGUF model file (it does not start with 'GGUF').")
            version = _unpack(f, "<I")
            if version < 2:
                raise NotGguf(f"{path} is GGUF version {version}; llama.cpp needs 2 or newer. "
                              "Convert it again with a recent llama.cpp.")
            _unpack(f, "<Q")  # tensor count
            count = _unpack(f, "<Q")
            meta: dict = {"GGUF.version": version}
            for _ in range(count):
                key = _string(f)
                meta[key] = _value(f, _unpack(f, "<I"))
            return meta
    except (struct.error, UnicodeDecodeError, MemoryError) as exc:
        raise NotGguf(f"{path} looks like GGUF but its header is damaged or cut short "
                      f"({type(exc).__name__}). Download or convert it again.") from exc


def _unpack(f: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise struct.error("unexpected end of file")
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
    length = _unpack(f, "<Q")
    if length > 1 << 28:
        raise struct.error("string length out of range")
    data = f.read(length)
    if len(data) != length:
        raise struct.error("unexpected end of file")
    return data.decode("utf-8", errors="replace")


def _value(f: BinaryIO, kind: int):
    if kind in _SCALARS:
        return _unpack(f, _SCALARS[kind])
    if kind == _STRING:
        return _string(f)
    if kind == _ARRAY:
        item_kind = _unpack(f, "<I")
        count = _unpack(f, "<Q")
        if count <= _KEEP_ARRAY_ITEMS:
            return [_value(f, item_kind) for _ in range(count)]
        if item_kind in _SCALARS:
            f.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
        else:
            for _ in range(count):
                _value(f, item_kind)
        return count
    raise struct.error(f"unknown GGUF value type {kind}")
