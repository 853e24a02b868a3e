"""The columns of every table in the app."""

from __future__ import annotations

from desktop.table_models.rows import Column, RowsModel
from engine.translation.registry import origin_label


def _size(value, _row) -> str:
    return f"{value / 1e6:,.0f} MB" if value else ""


def _rating(value, row) -> str:
    mark = {1: "▲", -1: "▼"}.get(value, "")
    return mark + (" ✎" if row.get("corrected_text") else "")


def _yes(value, _row) -> str:
    return "excluded" if value else ""


def documents_model(parent=None) -> RowsModel:
    return RowsModel([Column("title", "Title", tooltip="path"), Column("format", "Format"),
                      Column("lang", "Lang"), Column("split", "Split"),
                      Column("role", "Version", tooltip="work_key"),
                      Column("prose", "Prose"), Column("segments", "Segments"),
                      Column("excluded", "Training", _yes)], parent)


def segments_model(parent=None) -> RowsModel:
    return RowsModel([Column("kind", "Kind"), Column("lang", "Lang"),
                      Column("text", "Text", tooltip=True),
                      Column("excluded", "Training", _yes)], parent)


def history_model(parent=None) -> RowsModel:
    return RowsModel([Column("created_at", "When", lambda v, _r: (v or "")[:16].replace("T", " ")),
                      Column("rating", "", _rating),
                      Column("source_text", "Source", tooltip=True),
                      Column("output_text", "Translation",
                             lambda v, r: r.get("corrected_text") or v or "", tooltip=True),
                      Column("model_name", "Model")], parent)


def models_model(parent=None) -> RowsModel:
    return RowsModel([Column("active", "", lambda v, _r: "●" if v else ""),
                      Column("name", "Name"),
                      Column("origin", "Origin", lambda _v, r: origin_label(r)),
                      Column("backend", "Backend"), Column("prompt_style", "Prompt"),
                      Column("size_bytes", "Size", _size),
                      Column("path", "File or endpoint",
                             lambda v, r: v or f"{r.get('base_url') or 'api.openai.com'} "
                                              f"({r.get('model_id')})", tooltip=True),
                      Column("shutdown_date", "Shuts down",
                             lambda v, r: (f"retired {v}" if r.get("retired") else v or ""))],
                    parent)


def pairs_model(parent=None) -> RowsModel:
    def state(value, row) -> str:
        if row.get("excluded"):
            return "excluded"
        return "kept" if value == "ok" else f"rejected: {row.get('reject_reason')}"

    return RowsModel([Column("origin", "Origin"), Column("style", "Style"),
                      Column("split", "Split"), Column("status", "State", state, tooltip=True),
                      Column("source_text", "Machine text (input)", tooltip=True),
                      Column("target_text", "Your words (output)", tooltip=True),
                      Column("weight", "Weight", lambda v, _r: f"{v:g}")], parent)
