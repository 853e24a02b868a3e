"""A document to translate, read from bytes the way `import` reads files, and its
translation written back in the source's shape beside it.

One definition for the CLI (`ownvoice translate FILE`) and the app's Translate page.
"""

from __future__ import annotations

from pathlib import Path

from engine.corpus.reading import SkipFile, decode_bytes
from engine.errors import OwnVoiceError
from engine.files import atomic_write
from engine.translation.document import Envelope


def read_bytes(data: bytes, what: str) -> tuple[str, Envelope]:
    """(text with LF line endings, the envelope to write its translation in) for the bytes
    of a file, decoded as import decodes them (UTF-8, a BOM, a detected legacy encoding).
    `what` names the source in messages ("post.md", "standard input"). Raises
    OwnVoiceError in one line for empty or undecodable input."""
    if not data.strip():
        raise OwnVoiceError(f"Nothing to translate: {what} is empty.")
    try:
        text, _ = decode_bytes(data)
    except SkipFile as exc:
        raise OwnVoiceError(f"Cannot read {what}: {exc}. Save it as UTF-8 text.") from exc
    return text, Envelope.of(data)


def read(path: Path | str) -> tuple[str, Envelope]:
    """`read_bytes` for a file; a missing or unreadable file is one OwnVoiceError line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OwnVoiceError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return read_bytes(data, path.name)


def translated_path(path: Path | str, target: str) -> Path:
    """Where the translation of `path` into `target` goes: beside it, the language code
    before the extension (`post.md` → `post-en.md`, `notes` → `notes-en`)."""
    path = Path(path)
    return path.with_name(f"{path.stem}-{target}{path.suffix}")


def write(path: Path | str, text: str, envelope: Envelope) -> Path:
    """Write `text` (LF line endings) in `envelope` (BOM, line endings, final newline) as
    UTF-8, atomically: the file is whole or not there. Raises OwnVoiceError for a full
    disk or a folder that cannot be written."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        f.write(envelope.apply(text).encode("utf-8"))
    return path
