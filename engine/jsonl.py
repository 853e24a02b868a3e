"""One JSON-lines writer for every JSONL file OwnVoice makes (datasets, the pilot's files,
batch requests, progress events).

`json.dumps(..., ensure_ascii=False)` leaves U+0085, U+2028 and U+2029 raw inside strings:
valid JSON, but `str.splitlines()` and `codecs` line readers cut a record there (datalad
#3523). `line` escapes them, so a record is one line for any line reader; everything else
stays readable UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

_LINE_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_TABLE = str.maketrans(_LINE_BREAKS)


def line(record: Any) -> str:
    """`record` as one JSON line, without its newline."""
    return json.dumps(record, ensure_ascii=False).translate(_TABLE)
