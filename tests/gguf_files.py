"""Small GGUF files written byte by byte, as the format describes them, for the cases a
converter never writes: damaged headers, hostile counts, arrays of arrays.

https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from pathlib import Path

UINT32, STRING, ARRAY = 4, 8, 9
F32 = 0


def string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def kv_string(key: str, value: str) -> bytes:
    return string(key) + struct.pack("<I", STRING) + string(value)


def kv_u32(key: str, value: int) -> bytes:
    return string(key) + struct.pack("<I", UINT32) + struct.pack("<I", value)


def nested_arrays(key: str, depth: int) -> bytes:
    """`key` = [[[…[1]…]]], `depth` arrays deep."""
    value = struct.pack("<I", UINT32) + struct.pack("<Q", 1) + struct.pack("<I", 1)
    for _ in range(depth - 1):
        value = struct.pack("<I", ARRAY) + struct.pack("<Q", 1) + value
    return string(key) + struct.pack("<I", ARRAY) + value


def tensor_info(name: str, shape: tuple[int, ...], offset: int, ggml_type: int = F32) -> bytes:
    return (string(name) + struct.pack("<I", len(shape))
            + b"".join(struct.pack("<q", d) for d in shape)
            + struct.pack("<I", ggml_type) + struct.pack("<Q", offset))


def write_gguf(path: Path, kvs: list[bytes], tensors: list[bytes] | None = None,
               data: bytes = b"",
               *, n_kv: int | None = None, n_tensors: int | None = None,
               alignment: int = 32) -> Path:
    """A GGUF v3 file: header, the key/value pairs and tensor infos given, padding to
    `alignment`, then `data` (n_kv / n_tensors: the counts to claim, default the truth)."""
    tensors = tensors or []
    head = (b"GGUF" + struct.pack("<I", 3)
            + struct.pack("<Q", len(tensors) if n_tensors is None else n_tensors)
            + struct.pack("<Q", len(kvs) if n_kv is None else n_kv)
            + b"".join(kvs) + b"".join(tensors))
    padding = b"\0" * (-len(head) % alignment) if tensors else b""
    path.write_bytes(head + padding + data)
    return path


def tiny_model(path: Path, *, name: str = "tiny", values: int = 8) -> Path:
    """A whole GGUF with one F32 tensor of `values` floats (not a model llama.cpp can run:
    for the registry's checks, which never load it)."""
    return write_gguf(path, [kv_string("general.architecture", "llama"),
                             kv_string("general.name", name)],
                      [tensor_info("weights", (values,), 0)],
                      struct.pack(f"<{values}f", *range(values)))
