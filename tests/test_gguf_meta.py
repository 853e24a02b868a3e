"""Reading a GGUF header: real files (SmolLM2, the embedded Gemma) agree with the gguf
package's reader; damaged, hostile and cut-off files are one clear error."""

from __future__ import annotations

import struct

import pytest

from engine.translation import gguf_meta
from tests import gguf_files as g


def cut(source, target, fraction: float):
    size = int(source.stat().st_size * fraction)
    with source.open("rb") as f:
        target.write_bytes(f.read(size))
    return target


@pytest.mark.parametrize("fixture", ["smol_file", "gemma_file"])
def test_real_files_are_whole_and_match_the_gguf_package(fixture, request):
    gguf = pytest.importorskip("gguf")
    path = request.getfixturevalue(fixture)
    header = gguf_meta.check_complete(path)
    assert header.expected_size == path.stat().st_size == header.file_size
    reader = gguf.GGUFReader(path)
    assert header.data_start == reader.data_offset
    assert {t.name: (header.data_start + t.offset, t.nbytes) for t in header.tensors} == {
        t.name: (int(t.data_offset), int(t.n_bytes)) for t in reader.tensors}
    assert header.metadata["general.architecture"] in ("llama", "gemma3")


def test_the_tensor_type_table_is_ggmls():
    gguf = pytest.importorskip("gguf")
    theirs = {t.value: sizes for t, sizes in gguf.GGML_QUANT_SIZES.items()}
    assert {k: theirs[k] for k in gguf_meta.GGML_TYPE_SIZES} == gguf_meta.GGML_TYPE_SIZES
    assert set(theirs) <= set(gguf_meta.GGML_TYPE_SIZES)


def test_a_cut_off_file_is_truncated_with_its_sizes(smol_file, tmp_path):
    short = cut(smol_file, tmp_path / "short.gguf", 0.6)
    assert gguf_meta.read_metadata(short)["general.architecture"] == "llama"  # header intact
    with pytest.raises(gguf_meta.Truncated) as caught:
        gguf_meta.check_complete(short)
    message = str(caught.value)
    assert (f"incomplete (truncated): {short.stat().st_size:,} of "
            f"{smol_file.stat().st_size:,} bytes") in message
    assert "\n" not in message
    # Cut inside the header: damaged, not a crash.
    with pytest.raises(gguf_meta.NotGguf, match="damaged or cut short"):
        gguf_meta.read_header(cut(smol_file, tmp_path / "head.gguf", 0.001))


def test_a_tiny_written_file_reads_back(tmp_path):
    path = g.tiny_model(tmp_path / "tiny.gguf", values=8)
    header = gguf_meta.check_complete(path)
    assert header.metadata["general.name"] == "tiny"
    assert [(t.name, t.shape, t.nbytes) for t in header.tensors] == [("weights", (8,), 32)]
    size = path.stat().st_size
    assert header.expected_size == size == header.data_start + 32
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(gguf_meta.Truncated, match=f": {size - 1} of {size} bytes"):
        gguf_meta.check_complete(path)


@pytest.mark.parametrize(("kvs", "tensors", "claims", "reason"), [
    ([g.nested_arrays("deep", 100_000)], [], {}, "array of arrays"),
    ([g.nested_arrays("two", 2)], [], {}, "array of arrays"),
    ([g.string("k") + struct.pack("<I", g.STRING) + struct.pack("<Q", 1 << 62)], [], {},
     "a string of"),
    ([g.string("k") + struct.pack("<I", g.ARRAY) + struct.pack("<I", g.UINT32)
      + struct.pack("<Q", 1 << 40)], [], {}, "an array of"),
    ([], [], {"n_kv": 1 << 60}, "do not fit in the file"),
    ([], [], {"n_tensors": 1 << 40}, "do not fit in the file"),
    ([g.string("k") + struct.pack("<I", 99)], [], {}, "unknown GGUF value type 99"),
    ([g.kv_u32("general.alignment", 24)], [], {}, "not a power of two"),
    ([], [g.tensor_info("t", (1, 2, 3, 4, 5), 0)], {}, "5 dimensions"),
    ([], [g.tensor_info("t", (-4,), 0)], {}, "has shape"),
    ([], [g.tensor_info("t", (1 << 40, 1 << 40), 0)], {}, "has shape"),
    ([], [g.tensor_info("t", (33,), 0, ggml_type=2)], {}, "not whole blocks of 32"),
    ([], [g.tensor_info("t", (8,), 7)], {}, "not a multiple of 32"),
])
def test_a_malformed_header_is_one_line(tmp_path, kvs, tensors, claims, reason):
    path = g.write_gguf(tmp_path / "bad.gguf", kvs, tensors, b"\0" * 64, **claims)
    with pytest.raises(gguf_meta.NotGguf) as caught:
        gguf_meta.check_complete(path)
    message = str(caught.value)
    assert reason in message and "damaged" in message and "\n" not in message


def test_not_gguf_and_unknown_versions(tmp_path):
    html = tmp_path / "page.gguf"
    html.write_text("<!doctype html><title>404</title>")
    with pytest.raises(gguf_meta.NotGguf, match="does not start with 'GGUF'"):
        gguf_meta.read_metadata(html)
    future = tmp_path / "v9.gguf"
    future.write_bytes(b"GGUF" + struct.pack("<IQQ", 9, 0, 0))
    with pytest.raises(gguf_meta.NotGguf, match="version 9"):
        gguf_meta.read_metadata(future)
