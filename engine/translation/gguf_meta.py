"""Read a GGUF file's header (metadata and tensor table) without loading it, and check that
the file holds every byte its header describes.

Registering a 5 GB model should not cost loading it: the header holds everything the
registry and the prompt builder need, and its tensor table (each tensor's type, shape and
offset) says how long the file must be, so a download cut short is caught at `models add`,
not at the first translation. Arrays (the vocabulary) are skipped, not kept. Every count and
length is checked against the bytes left in the file before it is used, and arrays of arrays
(which llama.cpp does not read) are refused, so a damaged or hostile header is one
`NotGguf` error, never a hang, a MemoryError or a RecursionError.

The `gguf` package's GGUFReader parses the same format, but it is a training dependency
(the app must not need it), memory-maps the whole file and turns every array into numpy;
this reader takes a few milliseconds and the standard library.
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import OwnVoiceError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY_ITEMS = 64  # small arrays (e.g. stop ids) are kept; the vocabulary is not
_MAX_KEY = 65535  # bytes; the format's limit for keys (and ours for tensor names)
_MAX_DIMS = 4  # GGML_MAX_DIMS
_DEFAULT_ALIGNMENT = 32
# Smallest encodings, to bound counts by the bytes left: a key/value pair (key length,
# type, a one-byte value), a tensor info (name length, dims, type, offset).
_MIN_KV_BYTES, _MIN_TENSOR_BYTES = 8 + 4 + 1, 8 + 4 + 4 + 8
# ggml tensor types: id → (elements per block, bytes per block), as ggml defines them
# (ggml.h / gguf-py GGML_QUANT_SIZES; tests/test_gguf_meta.py checks it against gguf-py).
# A type not listed here (a newer ggml) counts as zero bytes: never a false "truncated".
GGML_TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}


class NotGguf(OwnVoiceError):
    """Not a GGUF file, or one whose header cannot be read."""


class Truncated(NotGguf):
    """A GGUF file shorter than its header says: a download or copy cut short."""


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # elements per dimension, innermost first
    ggml_type: int
    offset: int  # bytes from the start of the data section
    nbytes: int  # bytes of data; 0 for a type GGML_TYPE_SIZES does not know


@dataclass(frozen=True)
class Header:
    metadata: dict  # every key/value pair; long arrays become their length as an int
    tensors: list[Tensor]
    data_start: int  # byte offset of the (aligned) data section
    header_end: int  # byte offset just past the tensor table
    file_size: int  # bytes

    @property
    def expected_size(self) -> int:
        """The least number of bytes a file needs to hold every tensor's data."""
        if not self.tensors:
            return self.header_end
        return self.data_start + max(t.offset + t.nbytes for t in self.tensors)


class _Malformed(Exception):
    """A header value out of range; caught in read_header and named in its NotGguf."""


def read_metadata(path: Path | str) -> dict:
    """All key/value pairs of the header; long arrays become their length as an int.
    Raises NotGguf for a file that is not GGUF or whose header is damaged."""
    return read_header(path).metadata


def check_complete(path: Path | str) -> Header:
    """The header, after checking that the file holds every tensor's data (the check
    llama.cpp makes on load). Raises Truncated for a file cut short, NotGguf otherwise."""
    header = read_header(path)
    if header.file_size < header.expected_size:
        raise Truncated(f"{path} is incomplete (truncated): {header.file_size:,} of "
                        f"{header.expected_size:,} bytes; download or copy it again.")
    return header


def read_header(path: Path | str) -> Header:
    """The metadata and the tensor table, every count, length and shape checked.
    Raises NotGguf (one line) for a file that is not GGUF or whose header is malformed."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return _Reader(f, path.stat().st_size, path).header()
    except (_Malformed, struct.error, MemoryError, OverflowError) as exc:
        raise NotGguf(f"{path} looks like GGUF but its header is damaged or cut short "
                      f"({str(exc) or type(exc).__name__}). Download or convert it again.") \
            from exc
    except OSError as exc:
        raise OwnVoiceError(f"Could not read {path}: {exc.strerror or exc}.") from exc


class _Reader:
    def __init__(self, f: BinaryIO, size: int, path: Path):
        self.f, self.size, self.path = f, size, path

    def header(self) -> Header:
        if self.f.read(4) != b"GGUF":
            raise NotGguf(f"{self.path} is not a GGUF model file (it does not start with "
                          "'GGUF').")
        version = self.unpack("<I")
        if not 2 <= version <= 3:
            raise NotGguf(f"{self.path} is GGUF version {version}; llama.cpp reads versions 2 "
                          "and 3. Convert it again with a recent llama.cpp.")
        n_tensors, n_kv = self.unpack("<Q"), self.unpack("<Q")
        if n_kv * _MIN_KV_BYTES + n_tensors * _MIN_TENSOR_BYTES > self.left():
            raise _Malformed(f"{n_kv:,} keys and {n_tensors:,} tensors do not fit in the file")
        meta: dict = {"GGUF.version": version}
        for _ in range(n_kv):
            key = self.string(_MAX_KEY)
            meta[key] = self.value(self.unpack("<I"))
        alignment = meta.get("general.alignment", _DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise _Malformed(f"general.alignment {alignment!r} is not a power of two")
        tensors = [self.tensor(alignment) for _ in range(n_tensors)]
        end = self.f.tell()
        return Header(metadata=meta, tensors=tensors, data_start=-(-end // alignment) * alignment,
                      header_end=end, file_size=self.size)

    def left(self) -> int:
        return self.size - self.f.tell()

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise _Malformed("unexpected end of file")
        return struct.unpack(fmt, data)[0]

    def string(self, limit: int | None = None) -> str:
        length = self.unpack("<Q")
        if length > self.left() or (limit is not None and length > limit):
            raise _Malformed(f"a string of {length:,} bytes")
        return self.f.read(length).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.unpack("<Q")
        if length > self.left():
            raise _Malformed(f"a string of {length:,} bytes")
        self.f.seek(length, 1)

    def value(self, kind: int, *, in_array: bool = False):
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY and not in_array:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            if item_kind == _ARRAY:
                raise _Malformed("an array of arrays, which llama.cpp does not read")
            if item_kind not in _SCALARS and item_kind != _STRING:
                raise _Malformed(f"unknown GGUF value type {item_kind}")
            item_bytes = struct.calcsize(_SCALARS[item_kind]) if item_kind in _SCALARS else 8
            if count * item_bytes > self.left():
                raise _Malformed(f"an array of {count:,} items")
            if count <= _KEEP_ARRAY_ITEMS:
                return [self.value(item_kind, in_array=True) for _ in range(count)]
            if item_kind in _SCALARS:
                self.f.seek(item_bytes * count, 1)
            else:
                for _ in range(count):
                    self.skip_string()
            return count
        raise _Malformed(f"unknown GGUF value type {kind}")

    def tensor(self, alignment: int) -> Tensor:
        name = self.string(_MAX_KEY)
        n_dims = self.unpack("<I")
        if n_dims > _MAX_DIMS:
            raise _Malformed(f"tensor {name!r} has {n_dims} dimensions")
        shape = tuple(self.unpack("<q") for _ in range(n_dims))
        elements = 1
        for dim in shape:
            if dim < 0:
                raise _Malformed(f"tensor {name!r} has shape {shape}")
            elements *= dim
        if elements >= 1 << 63:
            raise _Malformed(f"tensor {name!r} has shape {shape}")
        ggml_type, offset = self.unpack("<I"), self.unpack("<Q")
        if offset % alignment:
            raise _Malformed(f"tensor {name!r} starts at {offset}, not a multiple of {alignment}")
        block, block_bytes = GGML_TYPE_SIZES.get(ggml_type, (1, 0))
        if shape and shape[0] % block:
            raise _Malformed(f"tensor {name!r} rows of {shape[0]} are not whole blocks of {block}")
        return Tensor(name=name, shape=shape, ggml_type=ggml_type, offset=offset,
                      nbytes=elements // block * block_bytes)
