"""How long an HTTP server asks to be left alone: the `Retry-After` header (RFC 9110 §10.2.3).

The header is either a number of seconds or an HTTP date. Servers also send what the RFC
does not allow (`-1`, `1.5`, garbage); such a value is ignored (None: the caller's own
backoff applies), never an error — a malformed header must not crash a retry loop, least of
all one that is terminating a rented machine.
"""

from __future__ import annotations

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

_PARSER = Retry()


def seconds(value: str | None, *, cap: float = 60.0) -> float | None:
    """Seconds to wait (0 to `cap`) for a Retry-After `value`; None when it is absent or not
    one of the two forms the RFC allows. A date in the past is 0."""
    if value is None or not str(value).strip():
        return None
    try:
        wait = float(_PARSER.parse_retry_after(str(value).strip()))
    except (InvalidHeader, ValueError, OverflowError):
        return None
    return min(max(wait, 0.0), cap)
