"""Resumable, verified downloads (models from the Hugging Face hub or any HTTPS URL).

The file grows as NAME.<hash of the URL>.part beside its destination, so two URLs whose
files share a name never share a partial file; a cut connection or a closed laptop resumes
with an HTTP Range request where it stopped. Only a complete file whose size (and sha256,
when known) checks out is moved into place, and never over another file: a partial file is
never mistaken for a model, and a model never replaces another one.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from engine.errors import OwnVoiceError

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)
_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(OwnVoiceError):
    pass


def hf_url(repo_and_file: str) -> str:
    """'Qwen/Qwen2.5-3B-Instruct-GGUF/qwen2.5-3b-instruct-q4_k_m.gguf' → its resolve URL.

    HF_ENDPOINT (the hub client's own variable) points at a mirror.
    """
    parts = repo_and_file.strip("/").split("/")
    if len(parts) < 3:
        raise OwnVoiceError("Name a file on the Hugging Face hub as OWNER/REPO/FILE.gguf, "
                            f"not {repo_and_file!r}.")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{repo}/resolve/main/{filename}"


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, as 64 hex digits (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def part_path(url: str, dest: Path) -> Path:
    """Where the download of `url` to `dest` grows: DEST.<16 hex digits of the URL's
    sha256>.part, the same on every try (so it resumes) and different for every URL."""
    dest = Path(dest)
    return dest.with_name(f"{dest.name}.{hashlib.sha256(url.encode()).hexdigest()[:16]}.part")


def download(url: str, dest: Path, *, sha256: str | None = None,
             progress: Progress | None = None, timeout: float = 60.0,
             cancelled: Callable[[], bool] | None = None, magic: bytes | None = None,
             kind: str = "the expected file") -> Path:
    """Download `url` to `dest` (or to DEST-2, DEST-3… when a file of that name exists) and
    return the path it was saved to.

    sha256: expected hex digest (else the one the hub advertises, if any). magic: the bytes
    the file must start with; a response that starts otherwise (an HTML error page, another
    format) is dropped at its first block, nothing kept, with `kind` ("a GGUF model") named
    in the error. Raises DownloadError; a cut connection keeps the partial file to resume.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(url, dest)
    have = part.stat().st_size if part.exists() else 0
    digest = hashlib.sha256()
    if have:
        with part.open("rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                digest.update(block)
    headers = {"User-Agent": "OwnVoice", **({"Range": f"bytes={have}-"} if have else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout) as response:
            if have and response.status != 206:  # the server ignored Range: start over
                have, digest = 0, hashlib.sha256()
            total = _total_size(response, have)
            expected = sha256 or _advertised_sha256(response)
            with part.open("ab" if have else "wb") as out:
                done = have
                for block in iter(lambda: response.read(_CHUNK), b""):
                    if done == 0 and magic and not block.startswith(magic[:len(block)]):
                        out.close()
                        part.unlink()
                        raise DownloadError(f"{url} did not send {kind}: it starts with "
                                            f"{block[:16]!r}, not {magic!r} (an error page or "
                                            "another format?); nothing was kept.")
                    if cancelled is not None and cancelled():
                        raise DownloadError(f"Download stopped; {done:,} bytes are kept in "
                                            f"{part}, and the next try resumes from there.")
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
                out.flush()
                os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # asked for bytes past the end: the .part is complete
            total, expected = have, sha256
        else:
            raise DownloadError(f"Download of {url} failed: HTTP {exc.code} {exc.reason}.") \
                from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        kept = part.stat().st_size if part.exists() else 0
        raise DownloadError(f"Download of {url} was interrupted ({exc}). {kept:,} bytes are "
                            f"kept in {part}; run the same command again to resume.") from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(f"Download of {url} stopped at {size:,} of {total:,} bytes; run the "
                            "same command again to resume.")
    if expected and digest.hexdigest() != expected:
        part.unlink()
        raise DownloadError(f"The file downloaded from {url} is damaged (sha256 "
                            f"{digest.hexdigest()[:12]}… instead of {expected[:12]}…); it was "
                            "deleted. Try again.")
    return _place(part, dest)


def _place(part: Path, dest: Path) -> Path:
    """Move the finished `part` to `dest`, or to DEST-2, DEST-3… when that name is taken:
    never over another file (a hard link is atomic; where the file system has none, a
    rename after a check)."""
    for n in itertools.count(1):
        target = dest if n == 1 else dest.with_name(f"{dest.stem}-{n}{dest.suffix}")
        if os.path.lexists(target):
            continue
        try:
            os.link(part, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (FAT, some network shares)
            os.rename(part, target)
            return target
        part.unlink()
        return target
    return dest  # not reached: itertools.count never ends


def _total_size(response, have: int) -> int | None:
    content_range = response.headers.get("Content-Range")  # bytes 100-999/1000
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) + have if length and length.isdigit() else None


def _advertised_sha256(response) -> str | None:
    """The hub tags LFS files with their sha256 (X-Linked-ETag or ETag)."""
    for header in ("X-Linked-ETag", "ETag"):
        value = (response.headers.get(header) or "").strip('W/"').lower()
        if _SHA256.match(value):
            return value
    return None
