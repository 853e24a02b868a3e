"""The comparison as one self-contained HTML file: the metrics table, then paragraph by
paragraph the source, the user's original and every system's output — AI-tone words
highlighted, and a word diff against the original."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from engine import files
from engine.evaluation.metrics import YOURS, label
from engine.pairs.corrections import word_diff

COLUMNS = [("voice", "Voice score", "P(written by you), higher is more like you"),
           ("chrf_pp", "chrF++", "overlap with your original, 0–100"),
           ("tone_per_1000", "AI tone /1k chars", "stock machine phrasing, lower is better"),
           ("length_ratio", "Length ratio", "output length / your length"),
           ("number_drift", "Number drift", "share of paragraphs that lost a number"),
           ("wrong_language", "Wrong language", "share in the wrong language"),
           ("repetition", "Repetition", "share that loops"),
           ("no_stop", "Did not stop", "share cut at the token limit")]

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",
sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.you td{background:#f7fbf2}mark{background:#ffe08a;padding:0 1px}
.para{border-top:2px solid #ddd;margin-top:1.5em;padding-top:.5em}
.label{font-weight:600;color:#555;font-size:13px;margin-top:.6em}
del{color:#b03a2e}ins{color:#1e7b34;text-decoration:none;font-weight:600}
.diff{font-size:13px;color:#555}.flag{font-size:12px;color:#b03a2e}
"""


def _highlight(text: str, hits: list[str]) -> str:
    """Escape the text and <mark> each AI-tone term it contains."""
    if not hits:
        return escape(text)
    terms = sorted(set(hits), key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [escape(text[last:match.start()]), f"<mark>{escape(match.group())}</mark>"]
        last = match.end()
    return "".join(out) + escape(text[last:])


def _diff(reference: str, output: str) -> str:
    parts = []
    for op, text in word_diff(reference, output):
        text = escape(text)
        parts.append(f"<del>{text}</del>" if op == "delete" else
                     f"<ins>{text}</ins>" if op == "insert" else text)
    return "".join(parts)


def render(comparison) -> str:

    head = "".join(f"<th title='{escape(tip)}'>{escape(label)}</th>"
                   for _, label, tip in COLUMNS)
    rows = []
    for system in comparison.systems:
        values = system.as_dict()
        cells = "".join(f"<td class=n>{values[key]}</td>" for key, _, _ in COLUMNS)
        you = " class=you" if system.system == YOURS else ""
        flags = "".join(f"<div class=flag>⚠ {escape(f)}</div>" for f in system.flags)
        rows.append(f"<tr{you}><td>{escape(label(system.system))}{flags}</td>{cells}</tr>")
    paragraphs = []
    for index, pair in enumerate(comparison.pairs):
        blocks = [f"<div class=label>Source (machine text, {escape(pair['source_lang'])})</div>"
                  f"<div>{escape(pair['source_text'])}</div>",
                  "<div class=label>Your original</div>"
                  f"<div>{escape(pair['target_text'])}</div>"]
        for system in comparison.systems:
            if system.system == YOURS:
                continue
            sample = comparison.outputs[system.system][index]
            metrics = system.per_sample[index]
            blocks.append(f"<div class=label>{escape(system.system)} — voice "
                          f"{metrics['voice']:.2f}</div>"
                          f"<div>{_highlight(sample.output, metrics['tone_hits'])}</div>"
                          f"<div class=diff>{_diff(pair['target_text'], sample.output)}</div>")
        paragraphs.append(f"<div class=para><b>Paragraph {index + 1}</b>{''.join(blocks)}</div>")
    markers = ", ".join(escape(t) for t in list(comparison.tone.markers)[:40]) or "none found"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>OwnVoice comparison"
            f"</title><style>{STYLE}</style></head><body><h1>OwnVoice comparison</h1>"
            f"<p>{len(comparison.pairs)} held-out paragraphs. The judge learnt your voice from "
            f"your training paragraphs only.</p><table><tr><th>System</th>{head}</tr>"
            f"{''.join(rows)}</table><p><b>AI-tone markers</b> (learnt from your pairs): "
            f"{markers}</p>{''.join(paragraphs)}</body></html>")


def write_report(comparison, path: Path) -> Path:
    """The comparison as one HTML file at `path`, written whole or not at all
    (OwnVoiceError on a full disk or a folder that refuses it)."""
    html = render(comparison)
    with files.atomic_write(path) as f:
        f.write(html)
    return path
